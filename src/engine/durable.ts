// Group commit for the engine's metadata database, off the event loop.
//
// The shared store opens SQLite in WAL mode with synchronous=FULL: every
// commit fsyncs the WAL inside the (synchronous) better-sqlite3 call, which
// blocks the whole engine for that fsync (5-15 ms on this loaded disk, four
// of them in one `ctr run --rm`), and twenty clients at once wait in line.
// The engine's connection runs with synchronous=NORMAL instead (a commit is
// atomic and survives a kill -9 of the engine, the page cache holding it),
// and an answer that follows a write waits for an fsync of the WAL file made
// in libuv's thread pool: the client still hears of a change only once it
// is on disk, as with FULL, while the event loop goes on and every commit
// made before one fsync starts shares it.

import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { errnoOf } from '../common/errors.js';
import type { Metadata } from '../common/metadb.js';

export class WalSync {
  private readonly wal: string;
  private running?: Promise<void>;
  private queued?: Promise<void>;
  private readonly count: () => number;

  constructor(md: Metadata) {
    md.db.pragma('synchronous = NORMAL');
    this.wal = `${md.db.name}-wal`;
    const stmt = md.db.prepare('SELECT total_changes() AS n');
    this.count = () => (stmt.get() as { n: number }).n;
  }

  /** Rows changed on this connection so far: a handler that moved it wrote. */
  changes(): number {
    return this.count();
  }

  /** Resolves once every transaction committed before the call is on disk. */
  sync(): Promise<void> {
    if (!this.running) {
      this.running = this.fsync().finally(() => (this.running = undefined));
      return this.running;
    }
    // the fsync in flight may have started before this caller's commit: the next one covers it
    this.queued ??= this.running.then(
      () => {
        this.queued = undefined;
        return this.sync();
      },
      () => {
        this.queued = undefined;
        return this.sync();
      },
    );
    return this.queued;
  }

  private async fsync(): Promise<void> {
    let fh;
    try {
      fh = await open(this.wal, constants.O_RDONLY);
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') return; // no WAL: everything was checkpointed (and synced) into the database
      throw e;
    }
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
}
