// Containers: containerd's metadata record of what to run (the OCI spec as an
// Any, the runtime and its options, the snapshot, labels, extensions). No
// process here: that is a task. Its own module of migrations
// ("engine-containers") in the engine's database, one transaction per
// mutation.

import { BerthError, isBerthError } from '../../common/errors.js';
import type { Db, Metadata, MigrationStep } from '../../image/index.js';
import {
  alreadyExists,
  failedPrecondition,
  invalidArgument,
  notFound,
  validateIdentifier,
  validateLabels,
} from '../validate.js';
import { parseLabels } from './schema.js';
import type { NamespaceStore } from './namespaces.js';

const MIGRATIONS: MigrationStep[] = [
  `CREATE TABLE engine_containers (
     ns TEXT NOT NULL REFERENCES engine_namespaces(name),
     id TEXT NOT NULL,
     labels TEXT NOT NULL DEFAULT '{}',
     image TEXT NOT NULL DEFAULT '',
     runtime_name TEXT NOT NULL,
     runtime_options TEXT,
     spec TEXT,
     snapshotter TEXT NOT NULL DEFAULT '',
     snapshot_key TEXT NOT NULL DEFAULT '',
     extensions TEXT NOT NULL DEFAULT '{}',
     created TEXT NOT NULL,
     updated TEXT NOT NULL,
     PRIMARY KEY (ns, id)
   );`,
];

/** google.protobuf.Any as stored and handed around. */
export interface AnyValue {
  type_url: string;
  value: Buffer;
}

export interface ContainerRecord {
  id: string;
  labels: Record<string, string>;
  image: string;
  runtime: { name: string; options: AnyValue | null };
  spec: AnyValue | null;
  snapshotter: string;
  snapshotKey: string;
  extensions: Record<string, AnyValue>;
  createdAt: Date;
  updatedAt: Date;
}

interface Row {
  id: string;
  labels: string;
  image: string;
  runtime_name: string;
  runtime_options: string | null;
  spec: string | null;
  snapshotter: string;
  snapshot_key: string;
  extensions: string;
  created: string;
  updated: string;
}

function anyToText(a: AnyValue | null | undefined): string | null {
  return a?.type_url ? JSON.stringify({ t: a.type_url, v: Buffer.from(a.value).toString('base64') }) : null;
}

function anyFromText(s: string | null): AnyValue | null {
  if (!s) return null;
  const o = JSON.parse(s) as { t: string; v: string };
  return { type_url: o.t, value: Buffer.from(o.v, 'base64') };
}

function fromRow(r: Row): ContainerRecord {
  const ext = JSON.parse(r.extensions) as Record<string, string>;
  return {
    id: r.id,
    labels: parseLabels(r.labels),
    image: r.image,
    runtime: { name: r.runtime_name, options: anyFromText(r.runtime_options) },
    spec: anyFromText(r.spec),
    snapshotter: r.snapshotter,
    snapshotKey: r.snapshot_key,
    extensions: Object.fromEntries(Object.entries(ext).map(([k, v]) => [k, anyFromText(v)!])),
    createdAt: new Date(r.created),
    updatedAt: new Date(r.updated),
  };
}

export type ContainerInput = Omit<ContainerRecord, 'createdAt' | 'updatedAt'>;

export class ContainerStore {
  /** Tells whether a container still has a task (then it cannot be deleted). */
  hasTask: (ns: string, id: string) => boolean = () => false;
  /** The clean-up still running after a task's Delete was answered (set by the tasks service). */
  taskCleanup: (ns: string, id: string) => Promise<void> | undefined = () => undefined;

  constructor(
    private readonly md: Metadata,
    private readonly namespaces: NamespaceStore,
  ) {
    md.migrate('engine-containers', MIGRATIONS);
    namespaces.addUser((ns) => {
      const r = md.db.prepare('SELECT id FROM engine_containers WHERE ns = ? LIMIT 1').get(ns) as
        { id: string } | undefined;
      return r ? `container ${r.id}` : undefined;
    });
  }

  private row(db: Db, ns: string, id: string): Row | undefined {
    return db.prepare('SELECT * FROM engine_containers WHERE ns = ? AND id = ?').get(ns, id) as Row | undefined;
  }

  get(ns: string, id: string): ContainerRecord {
    validateIdentifier(id, 'container id');
    const r = this.row(this.md.db, ns, id);
    if (!r) throw notFound(`container "${id}" in namespace "${ns}": not found`);
    return fromRow(r);
  }

  list(ns: string): ContainerRecord[] {
    const rows = this.md.db.prepare('SELECT * FROM engine_containers WHERE ns = ? ORDER BY id').all(ns) as Row[];
    return rows.map(fromRow);
  }

  create(ns: string, c: ContainerInput): ContainerRecord {
    validate(c, 'create container failed validation');
    const now = new Date().toISOString();
    this.md.tx((db) => {
      this.namespaces.ensure(db, ns);
      if (this.row(db, ns, c.id)) throw alreadyExists(`container "${c.id}": already exists`);
      db.prepare(
        `INSERT INTO engine_containers (ns, id, labels, image, runtime_name, runtime_options, spec, snapshotter, snapshot_key, extensions, created, updated)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        ns,
        c.id,
        JSON.stringify(c.labels),
        c.image,
        c.runtime.name,
        anyToText(c.runtime.options),
        anyToText(c.spec),
        c.snapshotter,
        c.snapshotKey,
        extText(c.extensions),
        now,
        now,
      );
    });
    return this.get(ns, c.id);
  }

  /** containerd's update: with no paths every updatable field; runtime and snapshotter never change. */
  update(ns: string, c: ContainerInput, paths: readonly string[]): ContainerRecord {
    validateIdentifier(c.id, 'container.id');
    return this.md.tx((db) => {
      const r = this.row(db, ns, c.id);
      if (!r) throw notFound(`container "${c.id}": not found`);
      const cur = fromRow(r);
      const next: ContainerRecord = { ...cur, labels: { ...cur.labels }, extensions: { ...cur.extensions } };
      if (paths.length === 0) {
        if (c.runtime.name && c.runtime.name !== cur.runtime.name)
          throw invalidArgument(`container.Runtime.Name field is immutable`, 'container.runtime');
        if (c.snapshotter && c.snapshotter !== cur.snapshotter)
          throw invalidArgument(`container.Snapshotter field is immutable`, 'container.snapshotter');
        Object.assign(next, {
          labels: c.labels,
          spec: c.spec,
          extensions: c.extensions,
          image: c.image,
          snapshotKey: c.snapshotKey,
        });
      }
      for (const p of paths) {
        if (p.startsWith('labels.')) {
          const k = p.slice(7);
          const v = c.labels[k];
          if (v === undefined || v === '') delete next.labels[k];
          else next.labels[k] = v;
          continue;
        }
        if (p.startsWith('extensions.')) {
          const k = p.slice(11);
          const v = c.extensions[k];
          if (v) next.extensions[k] = v;
          else delete next.extensions[k];
          continue;
        }
        // the paths containerd accepts besides labels.<key> and extensions.<key>
        switch (p) {
          case 'labels':
            next.labels = { ...c.labels };
            break;
          case 'spec':
            next.spec = c.spec;
            break;
          case 'extensions':
            next.extensions = { ...c.extensions };
            break;
          case 'image':
            next.image = c.image;
            break;
          case 'snapshotkey':
            next.snapshotKey = c.snapshotKey;
            break;
          default:
            throw invalidArgument(`cannot update "${p}" field on "${c.id}"`, 'update_mask');
        }
      }
      validate(next, 'update failed validation');
      db.prepare(
        'UPDATE engine_containers SET labels = ?, image = ?, spec = ?, snapshot_key = ?, extensions = ?, updated = ? WHERE ns = ? AND id = ?',
      ).run(
        JSON.stringify(next.labels),
        next.image,
        anyToText(next.spec),
        next.snapshotKey,
        extText(next.extensions),
        new Date().toISOString(),
        ns,
        c.id,
      );
      return fromRow(this.row(db, ns, c.id)!);
    });
  }

  delete(ns: string, id: string): void {
    validateIdentifier(id, 'container id');
    if (this.hasTask(ns, id))
      throw failedPrecondition(`container "${id}": cannot delete a container with a task; delete the task first`);
    this.md.tx((db) => {
      const res = db.prepare('DELETE FROM engine_containers WHERE ns = ? AND id = ?').run(ns, id);
      if (res.changes === 0) throw notFound(`container "${id}": not found`);
    });
  }
}

function extText(e: Record<string, AnyValue>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(e).map(([k, v]) => [k, anyToText(v)])));
}

/** containerd's checks on a container record, its error prefixed with `what` as containerd words it. */
function validate(c: ContainerInput, what: string): void {
  try {
    check(c);
  } catch (e) {
    if (!isBerthError(e)) throw e;
    throw new BerthError('berth-engine', e.code, `${what}: ${e.message}`, { field: e.field, cause: e });
  }
}

function check(c: ContainerInput): void {
  validateIdentifier(c.id, 'container.ID');
  validateLabels(c.labels, 'container.labels');
  if (!c.runtime.name) throw invalidArgument('container.Runtime.Name must be set', 'container.runtime.name');
  if (!c.spec?.type_url) throw invalidArgument('container.Spec must be set', 'container.spec');
  if (c.snapshotKey && !c.snapshotter)
    throw invalidArgument('container.Snapshotter must be set if container.SnapshotKey is set', 'container.snapshotter');
  for (const k of Object.keys(c.extensions)) {
    if (k === '') throw invalidArgument('container.Extensions: key must not be empty', 'container.extensions');
  }
}
