// Leases protect resources from the garbage collector while an operation
// that has not yet written its final reference is in flight: a pull holds a
// lease on the blobs it has committed until the image record points at them,
// an import on the blobs it streamed in. A lease can expire, so that one
// left behind by a kill -9 stops protecting anything after its time.

import { createHash, randomBytes } from 'node:crypto';
import { BerthError } from '../common/errors.js';
import type { Metadata } from '../common/metadb.js';
import type { ContentStore } from './content/types.js';

export interface Lease {
  id: string;
  createdAt: Date;
  expiresAt?: Date;
  labels: Record<string, string>;
}

/** 'content' (a digest), 'ingest' (an ingest ref), 'snapshot' (a snapshot key), or another kind a module defines. */
export interface LeaseResource {
  type: string;
  key: string;
}

const MIGRATIONS = [
  `CREATE TABLE leases (
     id TEXT PRIMARY KEY,
     created_at INTEGER NOT NULL,
     expires_at INTEGER,
     labels TEXT NOT NULL DEFAULT '{}'
   )`,
  `CREATE TABLE lease_resources (
     lease_id TEXT NOT NULL REFERENCES leases(id) ON DELETE CASCADE,
     type TEXT NOT NULL,
     key TEXT NOT NULL,
     PRIMARY KEY (lease_id, type, key)
   ) WITHOUT ROWID`,
];

interface Row {
  id: string;
  created_at: number;
  expires_at: number | null;
  labels: string;
}

function fromRow(r: Row): Lease {
  const l: Lease = {
    id: r.id,
    createdAt: new Date(r.created_at),
    labels: JSON.parse(r.labels) as Record<string, string>,
  };
  if (r.expires_at !== null) l.expiresAt = new Date(r.expires_at);
  return l;
}

/** containerd's default for pull leases. */
export const DEFAULT_LEASE_TTL_MS = 24 * 3600 * 1000;

export class LeaseManager {
  constructor(readonly metadata: Metadata) {
    metadata.migrate('leases', MIGRATIONS);
  }

  create(opts: { id?: string; ttlMs?: number | null; labels?: Record<string, string> } = {}): Lease {
    const id = opts.id ?? `lease-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
    const now = Date.now();
    const ttl = opts.ttlMs === undefined ? DEFAULT_LEASE_TTL_MS : opts.ttlMs;
    const expires = ttl === null ? null : now + ttl;
    this.metadata.tx((db) => {
      if (db.prepare('SELECT 1 FROM leases WHERE id = ?').get(id)) {
        throw new BerthError('image', 'already-exists', `lease ${id}: already exists`);
      }
      db.prepare('INSERT INTO leases(id, created_at, expires_at, labels) VALUES (?, ?, ?, ?)').run(
        id,
        now,
        expires,
        JSON.stringify(opts.labels ?? {}),
      );
    });
    return this.get(id);
  }

  get(id: string): Lease {
    const r = this.metadata.db.prepare('SELECT * FROM leases WHERE id = ?').get(id) as Row | undefined;
    if (!r) throw new BerthError('image', 'not-found', `lease ${id}: not found`);
    return fromRow(r);
  }

  list(): Lease[] {
    return (this.metadata.db.prepare('SELECT * FROM leases ORDER BY created_at').all() as Row[]).map(fromRow);
  }

  delete(id: string): void {
    const r = this.metadata.tx((db) => db.prepare('DELETE FROM leases WHERE id = ?').run(id));
    if (r.changes === 0) throw new BerthError('image', 'not-found', `lease ${id}: not found`);
  }

  addResource(id: string, res: LeaseResource): void {
    this.addResources(id, [res]);
  }

  /** Several resources in one transaction (one fsync: an ingest and its blob are leased together). */
  addResources(id: string, list: LeaseResource[]): void {
    this.metadata.tx((db) => {
      if (!db.prepare('SELECT 1 FROM leases WHERE id = ?').get(id))
        throw new BerthError('image', 'not-found', `lease ${id}: not found`);
      const insert = db.prepare('INSERT OR IGNORE INTO lease_resources(lease_id, type, key) VALUES (?, ?, ?)');
      for (const res of list) insert.run(id, res.type, res.key);
    });
  }

  removeResource(id: string, res: LeaseResource): void {
    this.metadata.tx((db) =>
      db.prepare('DELETE FROM lease_resources WHERE lease_id = ? AND type = ? AND key = ?').run(id, res.type, res.key),
    );
  }

  resources(id: string): LeaseResource[] {
    return this.metadata.db
      .prepare('SELECT type, key FROM lease_resources WHERE lease_id = ? ORDER BY type, key')
      .all(id) as LeaseResource[];
  }

  /** Resources of every lease that has not expired at `now`. */
  liveResources(now = Date.now()): LeaseResource[] {
    return this.metadata.db
      .prepare(
        'SELECT DISTINCT r.type, r.key FROM lease_resources r JOIN leases l ON l.id = r.lease_id WHERE l.expires_at IS NULL OR l.expires_at > ?',
      )
      .all(now) as LeaseResource[];
  }

  /** Deletes leases that expired before `now`; returns their ids. */
  expire(now = Date.now()): string[] {
    return this.metadata.tx((db) => {
      const ids = (
        db.prepare('SELECT id FROM leases WHERE expires_at IS NOT NULL AND expires_at <= ?').all(now) as {
          id: string;
        }[]
      ).map((r) => r.id);
      if (ids.length) db.prepare('DELETE FROM leases WHERE expires_at IS NOT NULL AND expires_at <= ?').run(now);
      return ids;
    });
  }
}

/** Runs `fn` under a fresh lease and deletes the lease afterwards, whatever happens. */
export async function withLease<T>(
  leases: LeaseManager,
  fn: (lease: Lease) => Promise<T>,
  opts: { ttlMs?: number; labels?: Record<string, string> } = {},
): Promise<T> {
  const lease = leases.create({ ttlMs: opts.ttlMs, labels: opts.labels });
  try {
    return await fn(lease);
  } finally {
    try {
      leases.delete(lease.id);
    } catch {
      /* already gone */
    }
  }
}

/**
 * A view of `store` that adds every blob committed through it (ingest or put)
 * to lease `leaseId`, so code that knows nothing of leases (the pull
 * orchestration) still has its content protected until the image record exists.
 */
export function leasedStore<S extends ContentStore>(store: S, leases: LeaseManager, leaseId: string): ContentStore {
  /** Resources already in the lease ("type key"): announced ingests need no transaction of their own. */
  const held = new Set<string>();
  const lease = (list: LeaseResource[]): void => {
    const missing = list.filter((r) => !held.has(`${r.type} ${r.key}`));
    if (missing.length === 0) return;
    leases.addResources(leaseId, missing);
    for (const r of missing) held.add(`${r.type} ${r.key}`);
  };
  const protect = (digest: string) => lease([{ type: 'content', key: digest }]);
  const ingestResources = (ref: string, digest: string): LeaseResource[] => [
    { type: 'ingest', key: ref },
    { type: 'content', key: digest },
  ];
  return {
    has: (d) => store.has(d),
    info: (d) => store.info(d),
    blobPath: (d) => store.blobPath(d),
    readStream: (d) => store.readStream(d),
    readBytes: (d, max) => store.readBytes(d, max),
    setLabels: (d, l) => store.setLabels(d, l),
    setLabelsMany: store.setLabelsMany ? (u) => store.setLabelsMany!(u) : undefined,
    // Leasing ahead of the commit is as safe as leasing just before it: a
    // lease may name content that does not exist (yet).
    expect: (list) => {
      lease(list.flatMap((i) => ingestResources(i.ref, i.digest)));
      store.expect?.(list);
    },
    list: () => store.list(),
    delete: (d) => store.delete(d),
    put: async (data, expected) => {
      // Lease first, commit second: a gc running meanwhile must see the lease.
      const alg = expected?.digest?.startsWith('sha512:') ? 'sha512' : 'sha256';
      protect(expected?.digest ?? `${alg}:${createHash(alg).update(data).digest('hex')}`);
      return store.put(data, expected);
    },
    ingest: async (ref, expected) => {
      // Protect the ingest itself too, so gc keeps a partial download of this pull.
      lease(ingestResources(ref, expected.digest));
      return store.ingest(ref, expected);
    },
  };
}
