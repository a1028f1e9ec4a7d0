// Leases, per namespace, containerd's model: a lease holds resources
// (content digests, ingest refs, snapshots of a snapshotter) against the
// garbage collector until it is deleted or its "containerd.io/gc.expire"
// label (RFC 3339) passes. Writers under a lease (the "containerd-lease"
// header) add what they create to it in the same transaction that creates it.

import type { Db, Metadata } from '../../image/index.js';
import { alreadyExists, invalidArgument, notFound, validateDigest, validateLabels, validateName } from '../validate.js';
import type { NamespaceStore } from './namespaces.js';
import { parseLabels } from './schema.js';

export const EXPIRE_LABEL = 'containerd.io/gc.expire';

export interface LeaseRecord {
  id: string;
  labels: Record<string, string>;
  created: Date;
}

export interface LeaseResourceRef {
  type: string;
  id: string;
}

interface Row {
  id: string;
  labels: string;
  created: string;
}

function toRecord(r: Row): LeaseRecord {
  return { id: r.id, labels: parseLabels(r.labels), created: new Date(r.created) };
}

/** The resource types containerd's lease manager knows. */
export function validateResource(r: LeaseResourceRef, snapshotters: ReadonlySet<string>): void {
  if (r.id === '') throw invalidArgument('resource id must not be empty', 'resource.id');
  if (r.type === 'content') {
    validateDigest(r.id, 'resource.id');
  } else if (r.type === 'ingests') {
    // any ref
  } else if (r.type.startsWith('snapshots/')) {
    const sn = r.type.slice('snapshots/'.length);
    if (!snapshotters.has(sn))
      throw invalidArgument(
        `resource type ${JSON.stringify(r.type)}: snapshotter ${JSON.stringify(sn)} not loaded`,
        'resource.type',
      );
  } else {
    throw invalidArgument(`unsupported resource type ${JSON.stringify(r.type)}`, 'resource.type');
  }
}

export function leaseExpired(labels: Record<string, string>, now: number): boolean {
  const exp = labels[EXPIRE_LABEL];
  if (exp === undefined) return false;
  const t = Date.parse(exp);
  return Number.isFinite(t) && t <= now;
}

export class LeaseStore {
  constructor(
    private readonly md: Metadata,
    private readonly namespaces: NamespaceStore,
  ) {}

  private row(db: Db, ns: string, id: string): Row | undefined {
    return db.prepare('SELECT id, labels, created FROM engine_leases WHERE ns = ? AND id = ?').get(ns, id) as
      Row | undefined;
  }

  create(ns: string, id: string, labels: Record<string, string>): LeaseRecord {
    // Not an identifier: ctr itself names leases after paths (images mount).
    validateName(id, 'lease id');
    validateLabels(labels);
    const exp = labels[EXPIRE_LABEL];
    if (exp !== undefined && !Number.isFinite(Date.parse(exp))) {
      throw invalidArgument(
        `lease ${JSON.stringify(id)}: label ${EXPIRE_LABEL}=${JSON.stringify(exp)} is not an RFC 3339 time`,
        'labels',
      );
    }
    const created = new Date().toISOString();
    this.md.tx((db) => {
      this.namespaces.ensure(db, ns);
      if (this.row(db, ns, id)) throw alreadyExists(`lease ${JSON.stringify(id)}: already exists`);
      db.prepare('INSERT INTO engine_leases (ns, id, labels, created) VALUES (?, ?, ?, ?)').run(
        ns,
        id,
        JSON.stringify(labels),
        created,
      );
    });
    return { id, labels, created: new Date(created) };
  }

  list(ns: string): LeaseRecord[] {
    const rows = this.md.db
      .prepare('SELECT id, labels, created FROM engine_leases WHERE ns = ? ORDER BY created, id')
      .all(ns) as Row[];
    return rows.map(toRecord);
  }

  /** Deletes the lease (its resources with it); returns how many resources it held. */
  delete(ns: string, id: string): number {
    return this.md.tx((db) => {
      if (!this.row(db, ns, id)) throw notFound(`lease ${JSON.stringify(id)}: not found`);
      const held = db
        .prepare('SELECT COUNT(*) AS n FROM engine_lease_resources WHERE ns = ? AND lease = ?')
        .get(ns, id) as { n: number };
      db.prepare('DELETE FROM engine_leases WHERE ns = ? AND id = ?').run(ns, id);
      return held.n;
    });
  }

  /** Inside a transaction: adds a resource to a lease that must exist. */
  protect(db: Db, ns: string, lease: string, r: LeaseResourceRef): void {
    if (!this.row(db, ns, lease)) throw notFound(`lease ${JSON.stringify(lease)} does not exist`);
    db.prepare('INSERT OR IGNORE INTO engine_lease_resources (ns, lease, type, id) VALUES (?, ?, ?, ?)').run(
      ns,
      lease,
      r.type,
      r.id,
    );
    if (r.type.startsWith('snapshots/'))
      db.prepare('INSERT OR IGNORE INTO engine_leased_snapshots (ns, snapshotter, key) VALUES (?, ?, ?)').run(
        ns,
        r.type.slice('snapshots/'.length),
        r.id,
      );
  }

  /** protect() in its own transaction; no-op without a lease. */
  protectNow(ns: string, lease: string | undefined, r: LeaseResourceRef): void {
    if (lease === undefined) return;
    this.md.tx((db) => this.protect(db, ns, lease, r));
  }

  addResource(ns: string, lease: string, r: LeaseResourceRef): void {
    this.md.tx((db) => this.protect(db, ns, lease, r));
  }

  deleteResource(ns: string, lease: string, r: LeaseResourceRef): void {
    this.md.tx((db) => {
      if (!this.row(db, ns, lease)) throw notFound(`lease ${JSON.stringify(lease)}: not found`);
      db.prepare('DELETE FROM engine_lease_resources WHERE ns = ? AND lease = ? AND type = ? AND id = ?').run(
        ns,
        lease,
        r.type,
        r.id,
      );
    });
  }

  resources(ns: string, lease: string): LeaseResourceRef[] {
    if (!this.row(this.md.db, ns, lease)) throw notFound(`lease ${JSON.stringify(lease)}: not found`);
    return this.md.db
      .prepare('SELECT type, id FROM engine_lease_resources WHERE ns = ? AND lease = ? ORDER BY type, id')
      .all(ns, lease) as LeaseResourceRef[];
  }

  /** Deletes the leases whose expiry has passed; returns them as [ns, id]. */
  expire(now = Date.now()): [string, string][] {
    return this.md.tx((db) => {
      const rows = db.prepare('SELECT ns, id, labels FROM engine_leases').all() as {
        ns: string;
        id: string;
        labels: string;
      }[];
      const gone = rows.filter((r) => leaseExpired(parseLabels(r.labels), now));
      const del = db.prepare('DELETE FROM engine_leases WHERE ns = ? AND id = ?');
      for (const r of gone) del.run(r.ns, r.id);
      return gone.map((r) => [r.ns, r.id] as [string, string]);
    });
  }
}
