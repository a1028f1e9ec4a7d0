// The embedded, transactional metadata store: a SQLite file (the image
// layer's <root>/metadata.db, the snapshotter's <root>/snapshots.db)
// in WAL mode with synchronous=FULL, so a kill -9 at any instant leaves the
// last committed transaction and nothing half-written. Each store owns its
// file; each module in it (images, content labels, leases...) owns its tables
// and migrates them itself through `migrate(module, steps)`: step i is
// applied once, in a transaction that also records the new version, so two
// processes opening an old database at once cannot both apply a step.

import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BerthError, messageOf, type Layer } from './errors.js';
import { sleepSync } from './sleep.js';

export type Db = Database.Database;
export type MigrationStep = string | ((db: Db) => void);

export interface Metadata {
  /** The directory of the database file. */
  readonly root: string;
  /** The layer that owns the file: it names errors about it. */
  readonly layer: Layer;
  readonly db: Db;
  /**
   * Brings `module`'s tables to the newest version. Steps are append-only:
   * never edit a released step, add a new one.
   */
  migrate(module: string, steps: MigrationStep[]): void;
  /** Runs `fn` in one write transaction (BEGIN IMMEDIATE); rolls back if it throws. */
  tx<T>(fn: (db: Db) => T): T;
  /** Drops this handle; the connection closes when the last handle does. */
  close(): void;
}

interface Shared {
  db: Db;
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

function setUp(db: Db): void {
  // journal_mode is persistent: switching needs an exclusive lock, so only
  // the first opener of a new file does it.
  if (String(db.pragma('journal_mode', { simple: true })).toLowerCase() !== 'wal') {
    db.pragma('journal_mode = WAL');
  }
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    module TEXT PRIMARY KEY,
    version INTEGER NOT NULL
  )`);
}

function connect(path: string, layer: Layer): Db {
  return whileBusy(() => {
    let db: Db;
    try {
      db = new Database(path, { timeout: BUSY_TIMEOUT_MS });
    } catch (e) {
      throw new BerthError(layer, 'unavailable', `open metadata database ${path}: ${messageOf(e)}`, { cause: e });
    }
    try {
      setUp(db);
    } catch (e) {
      db.close();
      throw e;
    }
    return db;
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
    shared = { db: connect(path, layer), refs: 0, migrated: new Set() };
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
    migrate(module: string, steps: MigrationStep[]): void {
      if (s.migrated.has(module)) return;
      tx((db) => {
        const row = db.prepare('SELECT version FROM schema_migrations WHERE module = ?').get(module) as
          { version: number } | undefined;
        const have = row?.version ?? 0;
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
      s.migrated.add(module);
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
