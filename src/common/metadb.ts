// The embedded, transactional metadata store: a SQLite file (the image
// layer's <root>/metadata.db, the snapshotter's <root>/snapshots.db)
// in WAL mode with synchronous=FULL, so a kill -9 at any instant leaves the
// last committed transaction and nothing half-written. Each store owns its
// file; each module in it (images, content labels, leases...) owns its tables
// and migrates them itself through `migrate(module, steps)`: step i is
// applied once, in a transaction that also records the new version, so two
// processes opening an old database at once cannot both apply a step.
// A new file is made whole by createFresh() (metadb-create.ts); SQLite itself
// is reached through ./sqlite.ts (bun:sqlite under Bun, better-sqlite3 under
// Node.js).

import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BerthError, messageOf, type Layer } from './errors.js';
import { createFresh } from './metadb-create.js';
import { sleepSync } from './sleep.js';
import { openSqlite, type SqliteDb } from './sqlite.js';

export type Db = SqliteDb;
export type MigrationStep = string | ((db: Db) => void);

export interface Metadata {
  /** The directory of the database file. */
  readonly root: string;
  /** The layer that owns the file: it names errors about it. */
  readonly layer: Layer;
  readonly db: Db;
  /**
   * This process made the file (a fresh root): a caller about to migrate
   * several modules does it in one tx() then, one commit instead of one each.
   */
  readonly created: boolean;
  /**
   * Brings `module`'s tables to the newest version. Steps are append-only:
   * never edit a released step, add a new one.
   */
  migrate(module: string, steps: MigrationStep[]): void;
  /**
   * Runs `fn` in one write transaction (BEGIN IMMEDIATE); rolls back if it
   * throws. Nested calls, and migrate() calls inside `fn`, are savepoints of
   * it: a store that migrates several modules at open commits them once.
   */
  tx<T>(fn: (db: Db) => T): T;
  /** Drops this handle; the connection closes when the last handle does. */
  close(): void;
}

interface Shared {
  db: Db;
  created: boolean;
  refs: number;
  migrated: Set<string>;
}

// One connection per root per process: every service in a process shares it,
// which keeps transactions on one connection from waiting on each other.
const open = new Map<string, Shared>();

const BUSY_TIMEOUT_MS = 10_000;

function isBusy(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

/**
 * Runs `fn` again while SQLite answers SQLITE_BUSY, up to BUSY_TIMEOUT_MS.
 * The busy timeout covers ordinary lock waits, but SQLite returns some BUSY
 * codes at once without calling it: while another process recovers or
 * deletes the WAL index as the last connection closes, or switches a new
 * file into WAL mode. Short-lived processes (every berth-ctr verb) open and
 * close the database often enough to meet those windows.
 */
function whileBusy<T>(fn: () => T, mayRetry: () => boolean = () => true): T {
  const deadline = Date.now() + BUSY_TIMEOUT_MS;
  for (let attempt = 0; ; attempt++) {
    try {
      return fn();
    } catch (e) {
      if (!isBusy(e) || !mayRetry() || Date.now() >= deadline) throw e;
      sleepSync(Math.min(100, 2 + attempt * 5) + Math.random() * 5);
    }
  }
}

const SCHEMA_MIGRATIONS = `CREATE TABLE IF NOT EXISTS schema_migrations (
  module TEXT PRIMARY KEY,
  version INTEGER NOT NULL
)`;

/** `module`'s version in the file: 0 for none, or no table yet. */
function storedVersion(db: Db, module: string): number {
  try {
    const row = db.prepare('SELECT version FROM schema_migrations WHERE module = ?').get(module) as
      { version: number } | undefined;
    return row?.version ?? 0;
  } catch (e) {
    if (/no such table/.test(messageOf(e))) return 0;
    throw e;
  }
}

function setUp(db: Db): void {
  // journal_mode is persistent: switching needs an exclusive lock, so only
  // the first opener of a file made by something else than createFresh()
  // does it.
  if (String(db.pragma('journal_mode')).toLowerCase() !== 'wal') db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
}

function connect(path: string, layer: Layer): { db: Db; created: boolean } {
  return whileBusy(() => {
    const created = !existsSync(path) && createFresh(path, BUSY_TIMEOUT_MS);
    let db: Db;
    try {
      db = openSqlite(path, { timeoutMs: BUSY_TIMEOUT_MS });
    } catch (e) {
      throw new BerthError(layer, 'unavailable', `open metadata database ${path}: ${messageOf(e)}`, { cause: e });
    }
    try {
      setUp(db);
    } catch (e) {
      db.close();
      throw e;
    }
    return { db, created };
  });
}

export interface MetadataOptions {
  /** Who owns the file (default "image"): named in errors. */
  layer?: Layer;
  /** The file's name in `dir` (default metadata.db). */
  file?: string;
}

/** Opens (creating it and `dir` if needed) `<dir>/<file>`. */
export function openMetadata(dir: string, opts: MetadataOptions = {}): Metadata {
  const abs = resolve(dir);
  const layer = opts.layer ?? 'image';
  const path = join(abs, opts.file ?? 'metadata.db');
  let shared = open.get(path);
  if (!shared) {
    mkdirSync(abs, { recursive: true, mode: 0o711 });
    shared = { ...connect(path, layer), refs: 0, migrated: new Set() };
    open.set(path, shared);
  }
  shared.refs++;
  const s = shared;
  let closed = false;

  // BEGIN IMMEDIATE refused with BUSY (after the busy timeout, or at once in
  // the cases whileBusy() names) is tried again; once `fn` has started, its
  // errors are its own (it may have renamed files, say), never retried.
  const tx = <T>(fn: (db: Db) => T): T => {
    if (s.db.inTransaction) return s.db.transaction(() => fn(s.db)).immediate();
    let started = false;
    const body = s.db.transaction(() => {
      started = true;
      return fn(s.db);
    });
    return whileBusy(
      () => body.immediate(),
      () => !started,
    );
  };

  return {
    root: abs,
    layer,
    db: s.db,
    created: s.created,
    migrate(module: string, steps: MigrationStep[]): void {
      if (s.migrated.has(module)) return;
      // Versions only grow: one read, without the write lock, tells that a
      // module is up to date (the usual case once a root exists).
      if (storedVersion(s.db, module) === steps.length) {
        s.migrated.add(module);
        return;
      }
      tx((db) => {
        db.exec(SCHEMA_MIGRATIONS);
        const have = storedVersion(db, module);
        if (have > steps.length) {
          throw new BerthError(
            layer,
            'failed-precondition',
            `metadata for "${module}" is at version ${have}, newer than this Berth knows (${steps.length}); upgrade Berth`,
          );
        }
        for (let i = have; i < steps.length; i++) {
          const step = steps[i]!;
          if (typeof step === 'string') db.exec(step);
          else step(db);
        }
        if (have !== steps.length) {
          db.prepare(
            'INSERT INTO schema_migrations(module, version) VALUES (?, ?) ON CONFLICT(module) DO UPDATE SET version = excluded.version',
          ).run(module, steps.length);
        }
      });
      // Inside a caller's transaction (several modules migrated in one
      // commit) the steps are not committed yet: a rollback would undo them.
      if (!s.db.inTransaction) s.migrated.add(module);
    },
    tx,
    close(): void {
      if (closed) return;
      closed = true;
      s.refs--;
      if (s.refs === 0) {
        open.delete(path);
        s.db.close();
      }
    },
  };
}
