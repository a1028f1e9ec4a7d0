// The local snapshotter, with two drivers behind one interface:
//  - overlayfs: each snapshot owns `<root>/snapshots/<id>/fs` (its upper dir,
//    or its layer once committed) and `<id>/work`; an active snapshot mounts as
//    an overlay of its parents' fs dirs under its own upper dir;
//  - native: where overlayfs is missing, a child starts as a full copy of its
//    parent (`cp -a`, preserving owners, modes, times, xattrs, hard links and
//    devices) and mounts as a bind mount.
// Short numeric paths (as containerd) keep many lowerdirs within the one page
// that mount(2) accepts.
//
// Crash safety: directories are made under a temporary name first, then
// renamed to `<id>` inside the transaction that inserts the row, so a crash
// leaves either both or an orphan directory that `cleanup()` removes. Removal
// renames `<id>` to `rm-<id>-…` in the transaction that deletes the row.

import { mkdir, rm, mkdtemp } from 'node:fs/promises';
import { existsSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { BerthError, messageOf, errnoOf } from '../common/errors.js';
import { openMetadata, type Metadata, type Db } from '../common/metadb.js';
import { isProcessAlive, selfIdentity } from '../common/proc.js';
import { dropLegacySnapshots, importLegacySnapshots } from './legacy.js';
import { run, overlaySupported } from './mount.js';
import { diskUsage } from './usage.js';
import type {
  DriverName,
  ExtractionTarget,
  Mount,
  PrepareOptions,
  SnapshotInfo,
  SnapshotKind,
  Snapshotter,
  Usage,
} from './types.js';

const SNAPSHOTS_TABLE = `CREATE TABLE snapshots (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     driver TEXT NOT NULL,
     key TEXT NOT NULL,
     parent_id INTEGER REFERENCES snapshots(id) ON DELETE RESTRICT,
     kind TEXT NOT NULL CHECK (kind IN ('committed', 'active', 'view')),
     labels TEXT NOT NULL DEFAULT '{}',
     created TEXT NOT NULL,
     updated TEXT NOT NULL,
     size INTEGER,
     inodes INTEGER,
     UNIQUE (driver, key)
   );
   CREATE INDEX snapshots_parent ON snapshots(parent_id);`;

// The snapshotter's own store, <root>/snapshots.db (containerd's
// snapshots/storage metastore). Step 1 also takes over the rows that Berth
// 0.1 kept in the image layer's <root>/metadata.db (see ./legacy.ts).
let importedLegacy = false;
const MIGRATIONS = [
  (db: Db) => {
    db.exec(SNAPSHOTS_TABLE);
    importedLegacy = importLegacySnapshots(db);
  },
];

interface Row {
  id: number;
  driver: string;
  key: string;
  parent_id: number | null;
  kind: SnapshotKind;
  labels: string;
  created: string;
  updated: string;
  size: number | null;
  inodes: number | null;
}

export interface SnapshotterOptions {
  /** 'auto' (default): overlayfs when a probe mount works there, else native. */
  driver?: DriverName | 'auto';
}

function notFound(key: string): BerthError {
  return new BerthError('snapshot', 'not-found', `snapshot ${JSON.stringify(key)} does not exist`);
}

function checkKey(key: string, what = 'snapshot key'): void {
  if (typeof key !== 'string' || key.length === 0 || key.length > 4096 || key.includes('\0')) {
    throw new BerthError(
      'snapshot',
      'invalid-argument',
      `${what} must be a non-empty string of at most 4096 characters`,
    );
  }
}

function checkLabels(labels: Record<string, string | null> | undefined): void {
  if (!labels) return;
  const n = Object.keys(labels).length;
  if (n > 256) throw new BerthError('snapshot', 'invalid-argument', `too many labels (${n}, at most 256)`);
  for (const [k, v] of Object.entries(labels)) {
    if (!k || k.length > 1024 || (v !== null && (typeof v !== 'string' || v.length > 4096))) {
      throw new BerthError(
        'snapshot',
        'invalid-argument',
        `bad label ${JSON.stringify(k).slice(0, 80)}: keys up to 1024 characters, values strings up to 4096`,
      );
    }
  }
}

export async function openSnapshotter(root: string, opts: SnapshotterOptions = {}): Promise<Snapshotter> {
  const dir = join(root, 'snapshots');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  let driver: DriverName;
  if (!opts.driver || opts.driver === 'auto') {
    driver = (await overlaySupported(dir)) ? 'overlayfs' : 'native';
  } else {
    driver = opts.driver;
    if (driver === 'overlayfs' && !(await overlaySupported(dir))) {
      throw new BerthError(
        'snapshot',
        'unavailable',
        `overlayfs cannot be mounted on ${dir} (a test mount failed); use the native snapshotter`,
      );
    }
  }
  const md = openMetadata(root, { layer: 'snapshot', file: 'snapshots.db' });
  try {
    md.migrate('snapshots', MIGRATIONS);
  } catch (e) {
    md.close();
    throw e;
  }
  if (importedLegacy) {
    importedLegacy = false;
    dropLegacySnapshots(root);
  }
  return new LocalSnapshotter(md, dir, driver);
}

class LocalSnapshotter implements Snapshotter {
  constructor(
    private readonly md: Metadata,
    readonly dir: string,
    readonly driver: DriverName,
  ) {}

  private get db(): Db {
    return this.md.db;
  }

  private row(key: string): Row | undefined {
    return this.db.prepare('SELECT * FROM snapshots WHERE driver = ? AND key = ?').get(this.driver, key) as
      Row | undefined;
  }

  private rowById(id: number): Row {
    const r = this.db.prepare('SELECT * FROM snapshots WHERE id = ?').get(id) as Row | undefined;
    if (!r) throw new BerthError('snapshot', 'internal', `snapshot id ${id} vanished from the metadata`);
    return r;
  }

  private mustRow(key: string): Row {
    const r = this.row(key);
    if (!r) throw notFound(key);
    return r;
  }

  private info(r: Row): SnapshotInfo {
    const parent = r.parent_id === null ? undefined : this.rowById(r.parent_id).key;
    return {
      key: r.key,
      ...(parent === undefined ? {} : { parent }),
      kind: r.kind,
      labels: JSON.parse(r.labels) as Record<string, string>,
      created: new Date(r.created),
      updated: new Date(r.updated),
    };
  }

  private fsDir(id: number): string {
    return join(this.dir, String(id), 'fs');
  }

  /** Ids of `r`'s ancestors, nearest first. */
  private ancestors(r: Row): number[] {
    const out: number[] = [];
    let p = r.parent_id;
    while (p !== null) {
      out.push(p);
      p = this.rowById(p).parent_id;
      if (out.length > 10_000) throw new BerthError('snapshot', 'internal', `snapshot ${r.key}: parent chain loops`);
    }
    return out;
  }

  async stat(key: string): Promise<SnapshotInfo> {
    return this.info(this.mustRow(key));
  }

  async find(key: string): Promise<SnapshotInfo | undefined> {
    const r = this.row(key);
    return r ? this.info(r) : undefined;
  }

  prepare(key: string, parent?: string, opts?: PrepareOptions): Promise<Mount[]> {
    return this.create('active', key, parent, opts);
  }

  view(key: string, parent?: string, opts?: PrepareOptions): Promise<Mount[]> {
    return this.create('view', key, parent, opts);
  }

  private async create(
    kind: 'active' | 'view',
    key: string,
    parent: string | undefined,
    opts: PrepareOptions = {},
  ): Promise<Mount[]> {
    checkKey(key);
    if (parent !== undefined) checkKey(parent, 'parent key');
    checkLabels(opts.labels);
    if (this.row(key))
      throw new BerthError('snapshot', 'already-exists', `snapshot ${JSON.stringify(key)} already exists`);
    let parentRow: Row | undefined;
    if (parent !== undefined) {
      parentRow = this.mustRowAs(parent, 'parent');
      if (parentRow.kind !== 'committed') {
        throw new BerthError(
          'snapshot',
          'failed-precondition',
          `parent ${JSON.stringify(parent)} is ${parentRow.kind}, not committed`,
        );
      }
    }
    // Build the directories under a temporary name, outside any transaction
    // (the native copy can take long), then claim them in the transaction.
    // Named by this process (pid and start time): cleanup() takes it for debris once the process is gone.
    const tmp = await mkdtemp(join(this.dir, `new-${selfIdentity().replace(' ', '-')}-`));
    try {
      await mkdir(join(tmp, 'fs'), { mode: 0o755 });
      if (this.driver === 'overlayfs') {
        await mkdir(join(tmp, 'work'), { mode: 0o700 });
      } else if (parentRow) {
        try {
          await run('cp', ['-a', '--reflink=auto', '--', this.fsDir(parentRow.id) + '/.', join(tmp, 'fs')]);
        } catch (e) {
          throw new BerthError(
            'snapshot',
            'internal',
            `copy parent ${JSON.stringify(parent)} into ${JSON.stringify(key)}: ${messageOf(e)}`,
            { cause: e },
          );
        }
      }
      const row = this.md.tx((db) => {
        if (this.row(key))
          throw new BerthError('snapshot', 'already-exists', `snapshot ${JSON.stringify(key)} already exists`);
        let parentId: number | null = null;
        if (parent !== undefined) {
          const p = this.row(parent);
          if (!p || p.kind !== 'committed')
            throw new BerthError('snapshot', 'not-found', `parent snapshot ${JSON.stringify(parent)} was removed`);
          parentId = p.id;
        }
        const now = new Date().toISOString();
        const info = db
          .prepare(
            'INSERT INTO snapshots (driver, key, parent_id, kind, labels, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?)',
          )
          .run(this.driver, key, parentId, kind, JSON.stringify(opts.labels ?? {}), now, now);
        const id = Number(info.lastInsertRowid);
        // A failed rename throws and rolls the insert back.
        renameSync(tmp, join(this.dir, String(id)));
        return this.rowById(id);
      });
      return this.mountsOf(row);
    } catch (e) {
      await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
      throw e;
    }
  }

  private mustRowAs(key: string, what: string): Row {
    const r = this.row(key);
    if (!r) throw new BerthError('snapshot', 'not-found', `${what} snapshot ${JSON.stringify(key)} does not exist`);
    return r;
  }

  async mounts(key: string): Promise<Mount[]> {
    return this.mountsOf(this.mustRow(key));
  }

  private mountsOf(r: Row): Mount[] {
    const own = this.fsDir(r.id);
    if (this.driver === 'native') {
      return [{ type: 'bind', source: own, options: [r.kind === 'active' ? 'rw' : 'ro', 'rbind'] }];
    }
    const parents = this.ancestors(r).map((id) => this.fsDir(id));
    if (r.kind === 'active') {
      if (parents.length === 0) return [{ type: 'bind', source: own, options: ['rw', 'rbind'] }];
      const options = [
        `lowerdir=${parents.join(':')}`,
        `upperdir=${own}`,
        `workdir=${join(this.dir, String(r.id), 'work')}`,
      ];
      if (indexOptionSupported()) options.unshift('index=off');
      return [{ type: 'overlay', source: 'overlay', options }];
    }
    // Read-only: a view sees its parents; a committed snapshot sees itself too.
    const lowers = r.kind === 'committed' ? [own, ...parents] : parents;
    if (lowers.length === 0) return [{ type: 'bind', source: own, options: ['ro', 'rbind'] }];
    if (lowers.length === 1) return [{ type: 'bind', source: lowers[0]!, options: ['ro', 'rbind'] }];
    const options = [`lowerdir=${lowers.join(':')}`];
    if (indexOptionSupported()) options.unshift('index=off');
    return [{ type: 'overlay', source: 'overlay', options: ['ro', ...options] }];
  }

  async commit(name: string, key: string, opts: PrepareOptions = {}): Promise<void> {
    checkKey(name, 'snapshot name');
    checkLabels(opts.labels);
    const r = this.mustRow(key);
    if (r.kind !== 'active')
      throw new BerthError(
        'snapshot',
        'failed-precondition',
        `snapshot ${JSON.stringify(key)} is ${r.kind}, only an active snapshot can be committed`,
      );
    if (this.row(name))
      throw new BerthError('snapshot', 'already-exists', `snapshot ${JSON.stringify(name)} already exists`);
    const usage = await diskUsage(this.fsDir(r.id));
    this.md.tx((db) => {
      const now = this.mustRow(key);
      if (now.id !== r.id || now.kind !== 'active')
        throw new BerthError(
          'snapshot',
          'failed-precondition',
          `snapshot ${JSON.stringify(key)} changed during commit`,
        );
      if (this.row(name))
        throw new BerthError('snapshot', 'already-exists', `snapshot ${JSON.stringify(name)} already exists`);
      const labels = opts.labels ? JSON.stringify(opts.labels) : r.labels;
      db.prepare(
        "UPDATE snapshots SET key = ?, kind = 'committed', labels = ?, updated = ?, size = ?, inodes = ? WHERE id = ?",
      ).run(name, labels, new Date().toISOString(), usage.size, usage.inodes, r.id);
    });
  }

  /** Trees of removed snapshots still being deleted (remove's treeLater). */
  private readonly removing = new Set<Promise<void>>();

  async remove(key: string, opts: { treeLater?: boolean } = {}): Promise<void> {
    const r = this.mustRow(key);
    const gone = join(this.dir, `rm-${r.id}-${randomBytes(4).toString('hex')}`);
    this.md.tx((db) => {
      const now = this.row(key);
      if (!now) throw notFound(key);
      const child = db.prepare('SELECT key FROM snapshots WHERE parent_id = ? LIMIT 1').get(now.id) as
        { key: string } | undefined;
      if (child) {
        throw new BerthError(
          'snapshot',
          'failed-precondition',
          `snapshot ${JSON.stringify(key)} has children (${JSON.stringify(child.key)}); remove them first`,
        );
      }
      db.prepare('DELETE FROM snapshots WHERE id = ?').run(now.id);
      try {
        renameSync(join(this.dir, String(now.id)), gone);
      } catch (e) {
        if (errnoOf(e) !== 'ENOENT') throw e;
      }
    });
    if (!opts.treeLater) return removeTree(gone);
    // an rm -rf process: off the caller's path; a failure leaves rm-* for cleanup()
    const p: Promise<void> = removeTree(gone)
      .catch(() => undefined)
      .finally(() => this.removing.delete(p));
    this.removing.add(p);
  }

  async settle(): Promise<void> {
    await Promise.all(this.removing);
  }

  async list(): Promise<SnapshotInfo[]> {
    const rows = this.db.prepare('SELECT * FROM snapshots WHERE driver = ? ORDER BY id').all(this.driver) as Row[];
    return rows.map((r) => this.info(r));
  }

  async usage(key: string): Promise<Usage> {
    const r = this.mustRow(key);
    if (r.kind === 'committed' && r.size !== null && r.inodes !== null) return { size: r.size, inodes: r.inodes };
    return diskUsage(this.fsDir(r.id));
  }

  async setLabels(key: string, labels: Record<string, string | null>): Promise<SnapshotInfo> {
    checkLabels(labels);
    const r = this.md.tx((db) => {
      const now = this.mustRow(key);
      const merged = JSON.parse(now.labels) as Record<string, string>;
      for (const [k, v] of Object.entries(labels)) {
        if (v === null) delete merged[k];
        else merged[k] = v;
      }
      checkLabels(merged);
      db.prepare('UPDATE snapshots SET labels = ?, updated = ? WHERE id = ?').run(
        JSON.stringify(merged),
        new Date().toISOString(),
        now.id,
      );
      return this.rowById(now.id);
    });
    return this.info(r);
  }

  async extractionTarget(key: string): Promise<ExtractionTarget> {
    const r = this.mustRow(key);
    if (r.kind !== 'active')
      throw new BerthError(
        'snapshot',
        'failed-precondition',
        `snapshot ${JSON.stringify(key)} is ${r.kind}: layers unpack only into active snapshots`,
      );
    return {
      driver: this.driver,
      dir: this.fsDir(r.id),
      lowers: this.driver === 'overlayfs' ? this.ancestors(r).map((id) => this.fsDir(id)) : [],
    };
  }

  async cleanup(): Promise<number> {
    // Decided inside a write transaction: another process claims a new
    // `<id>` dir only inside its own (serialised) insert transaction, so
    // nothing it is about to own can be taken for an orphan.
    const doomed = this.md.tx((db) => {
      const out: string[] = [];
      for (const name of readdirSync(this.dir)) {
        if (/^\d+$/.test(name)) {
          if (!db.prepare('SELECT 1 FROM snapshots WHERE id = ?').get(Number(name))) {
            const to = `rm-${name}-${randomBytes(4).toString('hex')}`;
            renameSync(join(this.dir, name), join(this.dir, to));
            out.push(to);
          }
        } else if (name.startsWith('rm-')) {
          out.push(name);
        } else {
          // new-<pid>-<start time>-<random>; 0.1 wrote new-<pid>-<random>.
          const m = /^new-(\d+)-(?:(\d+)-)?/.exec(name);
          if (m && !isProcessAlive(Number(m[1]), m[2])) out.push(name);
        }
      }
      return out;
    });
    for (const name of doomed) await removeTree(join(this.dir, name));
    return doomed.length;
  }

  close(): void {
    this.md.close();
  }
}

/** rm -rf that never crosses into a mount left on a subdirectory. */
async function removeTree(path: string): Promise<void> {
  if (!existsSync(path)) return;
  try {
    await run('rm', ['-rf', '--one-file-system', '--', path]);
  } catch (e) {
    throw new BerthError('snapshot', 'internal', `remove ${path}: ${messageOf(e)}`, { cause: e });
  }
}

let indexOpt: boolean | undefined;
/** containerd passes index=off when the kernel knows it, so layers can be shared by any mount. */
function indexOptionSupported(): boolean {
  if (indexOpt === undefined) indexOpt = existsSync('/sys/module/overlay/parameters/index');
  return indexOpt;
}

export { removeTree };
