// The part of SQLite Berth uses, behind one small interface with two
// back-ends: `bun:sqlite` when the process is Bun (bin/berth-engine, berthd
// and berth-ctr are Bun executables where Bun runs), better-sqlite3 under
// Node.js (the fallback build and the tests). better-sqlite3 is a Node.js
// addon that Bun cannot load, and bun:sqlite exists only in Bun, so each is
// required only by the runtime that has it: through createRequire, which
// neither bundler follows, so neither build carries the other's library.
//
// Both are synchronous wrappers of the same C library; the differences the
// callers would see are smoothed here: a statement's get() answers undefined
// (not null) when there is no row, parameters are bound by name without a
// prefix (`@id` from `{ id }`), and errors keep SQLite's code
// ('SQLITE_BUSY'...) in `code`.

import { createRequire } from 'node:module';
import { underBun } from './bun.js';

/** A value SQLite stores; better-sqlite3 and bun:sqlite both bind these. */
export type SqlValue = string | number | bigint | null | Uint8Array;
/** Positional values, or one object of named values (`@name` in the SQL). */
export type SqlParams = SqlValue[] | [Record<string, SqlValue>];

export interface RunResult {
  changes: number;
  lastInsertRowid: number | bigint;
}

export interface Statement {
  /** The first row, or undefined. */
  get(...params: SqlParams): unknown;
  all(...params: SqlParams): unknown[];
  run(...params: SqlParams): RunResult;
}

/** `fn` as a transaction: call it for BEGIN (deferred), `.immediate()` for BEGIN IMMEDIATE; nested calls are savepoints. */
export interface Transaction<T> {
  (): T;
  immediate(): T;
}

export interface SqliteDb {
  /** The file's path. */
  readonly name: string;
  readonly inTransaction: boolean;
  prepare(sql: string): Statement;
  /** Runs one or more statements, no parameters, no result. */
  exec(sql: string): void;
  transaction<T>(fn: () => T): Transaction<T>;
  /** A pragma's value (the first column of its first row), e.g. pragma('journal_mode = WAL'). */
  pragma(sql: string): unknown;
  close(): void;
}

export interface SqliteOptions {
  readonly?: boolean;
  /** Fail when the file does not exist instead of creating it. */
  mustExist?: boolean;
  /** SQLite's busy timeout: how long a statement waits for another connection's lock. */
  timeoutMs: number;
}

const requireHere = createRequire(import.meta.url);

export function openSqlite(path: string, opts: SqliteOptions): SqliteDb {
  return underBun ? openBun(path, opts) : openNode(path, opts);
}

// ---- better-sqlite3 (Node.js) ---------------------------------------------

interface NodeStatement extends Statement {
  readonly reader: boolean;
}

interface NodeDatabase {
  readonly name: string;
  readonly inTransaction: boolean;
  prepare(sql: string): NodeStatement;
  exec(sql: string): unknown;
  transaction<T>(fn: () => T): Transaction<T>;
  pragma(sql: string, opts: { simple: true }): unknown;
  close(): unknown;
}

type NodeDatabaseClass = new (
  path: string,
  opts: { readonly?: boolean; fileMustExist?: boolean; timeout?: number },
) => NodeDatabase;

function openNode(path: string, opts: SqliteOptions): SqliteDb {
  const Database = requireHere('better-sqlite3') as NodeDatabaseClass;
  const db = new Database(path, {
    readonly: opts.readonly ?? false,
    fileMustExist: opts.mustExist ?? false,
    timeout: opts.timeoutMs,
  });
  // better-sqlite3's own statements already behave as Statement says.
  return {
    get name() {
      return db.name;
    },
    get inTransaction() {
      return db.inTransaction;
    },
    prepare: (sql) => db.prepare(sql),
    exec: (sql) => void db.exec(sql),
    transaction: (fn) => db.transaction(fn),
    pragma: (sql) => db.pragma(sql, { simple: true }),
    close: () => void db.close(),
  };
}

// ---- bun:sqlite (Bun) -----------------------------------------------------

interface BunStatement {
  get(...params: SqlParams): unknown;
  all(...params: SqlParams): unknown[];
  run(...params: SqlParams): RunResult;
}

interface BunDatabase {
  readonly filename: string;
  readonly inTransaction: boolean;
  prepare(sql: string): BunStatement;
  exec(sql: string): void;
  transaction<T>(fn: () => T): Transaction<T>;
  close(): void;
}

type BunDatabaseClass = new (
  path: string,
  opts: { readonly?: boolean; create?: boolean; readwrite?: boolean; strict?: boolean },
) => BunDatabase;

function openBun(path: string, opts: SqliteOptions): SqliteDb {
  const { Database } = requireHere('bun:sqlite') as { Database: BunDatabaseClass };
  // strict: named parameters bind from keys without their prefix, and a
  // missing one is an error, as in better-sqlite3.
  const db = opts.readonly
    ? new Database(path, { readonly: true, strict: true })
    : new Database(path, { readwrite: true, create: !opts.mustExist, strict: true });
  try {
    // better-sqlite3 sets its timeout through sqlite3_busy_timeout; this is the same call.
    db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.floor(opts.timeoutMs))}`);
  } catch (e) {
    db.close();
    throw e;
  }
  return {
    get name() {
      return db.filename;
    },
    get inTransaction() {
      return db.inTransaction;
    },
    prepare(sql: string): Statement {
      const st = db.prepare(sql);
      return {
        get: (...params) => st.get(...params) ?? undefined,
        all: (...params) => st.all(...params),
        run: (...params) => st.run(...params),
      };
    },
    exec: (sql) => db.exec(sql),
    transaction: (fn) => db.transaction(fn),
    pragma(sql: string): unknown {
      const row = db.prepare(`PRAGMA ${sql}`).get() as Record<string, unknown> | null;
      return row === null ? undefined : Object.values(row)[0];
    },
    close: () => db.close(),
  };
}
