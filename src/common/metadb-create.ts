// A new metadata database, made cheaply and all at once. Opening a new file
// and switching it to WAL the ordinary way writes its first page through a
// rollback journal: four fsyncs (journal, directory, journal, file) before
// the first table exists, on every fresh root, paid by every short-lived
// berth-ctr on a new store. Here the file is made under a private name with
// synchronous=OFF (nobody else can see it, so nothing needs ordering), then
// flushed with one fsync and linked into place, and the directory synced:
// two fsyncs, and the file appears whole, already in WAL mode, or not at all
// (link(2) fails if another process made the name first, and that process's
// file is then used; rename would replace it).

import { closeSync, fsyncSync, linkSync, openSync, readdirSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { openSqlite } from './sqlite.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function fsyncPath(path: string, flags: string): void {
  const fd = openSync(path, flags);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Removes what a creator killed mid-way left: `.<file>.new-<pid>-*` of pids that are gone. */
function removeStale(dir: string, prefix: string): void {
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length).split('-')[0]);
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && !alive(pid)) {
      rmSync(join(dir, name), { force: true });
    }
  }
}

/** Creates `path` as an empty SQLite database in WAL mode; false if another process made it first. */
export function createFresh(path: string, timeoutMs: number): boolean {
  const dir = dirname(path);
  const prefix = `.${basename(path)}.new-`;
  removeStale(dir, prefix);
  const tmp = join(dir, `${prefix}${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    const db = openSqlite(tmp, { timeoutMs });
    try {
      db.pragma('synchronous = OFF');
      db.pragma('journal_mode = WAL');
    } finally {
      // The last close checkpoints and removes the -wal and -shm files;
      // WAL mode stays recorded in the file's header.
      db.close();
    }
    fsyncPath(tmp, 'r');
    try {
      linkSync(tmp, path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e;
    }
    fsyncPath(dir, 'r');
    return true;
  } finally {
    for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(tmp + suffix, { force: true });
  }
}
