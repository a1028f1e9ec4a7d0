// The embedded, transactional metadata store: one SQLite file per root
// (<root>/metadata.db) in WAL mode with synchronous=FULL, so a kill -9 at any
// instant leaves the last committed transaction and nothing half-written.
// Each module (images, content labels, leases, the snapshotter...) owns its
// tables and migrates them itself through `migrate(module, steps)`: step i is
// applied once, in a transaction that also records the new version, so two
// processes opening an old database at once cannot both apply a step.

import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BerthError, messageOf } from '../../common/errors.js';

export type Db = Database.Database;
export type MigrationStep = string | ((db: Db) => void);

export interface Metadata {
  readonly root: string;
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

function connect(path: string): Db {
  let db: Db;
  try {
    db = new Database(path, { timeout: BUSY_TIMEOUT_MS });
  } catch (e) {
    throw new BerthError('image', 'unavailable', `open metadata database ${path}: ${messageOf(e)}`, { cause: e });
  }
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    module TEXT PRIMARY KEY,
    version INTEGER NOT NULL
  )`);
  return db;
}

export function openMetadata(root: string): Metadata {
  const abs = resolve(root);
  let shared = open.get(abs);
  if (!shared) {
    mkdirSync(abs, { recursive: true, mode: 0o711 });
    shared = { db: connect(join(abs, 'metadata.db')), refs: 0, migrated: new Set() };
    open.set(abs, shared);
  }
  shared.refs++;
  const s = shared;
  let closed = false;

  const tx = <T>(fn: (db: Db) => T): T => s.db.transaction(() => fn(s.db)).immediate();

  return {
    root: abs,
    db: s.db,
    migrate(module: string, steps: MigrationStep[]): void {
      if (s.migrated.has(module)) return;
      tx((db) => {
        const row = db.prepare('SELECT version FROM schema_migrations WHERE module = ?').get(module) as { version: number } | undefined;
        const have = row?.version ?? 0;
        if (have > steps.length) {
          throw new BerthError('image', 'failed-precondition',
            `metadata for "${module}" is at version ${have}, newer than this Berth knows (${steps.length}); upgrade Berth`);
        }
        for (let i = have; i < steps.length; i++) {
          const step = steps[i]!;
          if (typeof step === 'string') db.exec(step);
          else step(db);
        }
        if (have !== steps.length) {
          db.prepare('INSERT INTO schema_migrations(module, version) VALUES (?, ?) ON CONFLICT(module) DO UPDATE SET version = excluded.version')
            .run(module, steps.length);
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
        open.delete(abs);
        s.db.close();
      }
    },
  };
}
