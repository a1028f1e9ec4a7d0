// Cross-process lock files. A lock is a file created atomically with its
// owner already written in it (written to a temp file, then link(2)ed into
// place, which fails with EEXIST when it is held), so a lock is never seen
// empty. The owner is "<pid> <start time> <token>": the start time from
// /proc/<pid>/stat tells a dead owner from a new process that reuses its pid,
// and the token tells two holders in one process apart. A lock whose owner is
// dead (kill -9) is stale: it is broken by renaming it aside and checking that
// what was renamed is the stale lock that was seen, never someone's fresh one.

import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync, readdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { errnoOf } from '../../common/errors.js';
import { isProcessAlive, processStartTime } from '../../common/proc.js';
import { sleep } from '../../common/sleep.js';

const myStart = processStartTime(process.pid) ?? '0';

function ownerAlive(owner: string): boolean {
  const [pid, start] = owner.trim().split(' ');
  return isProcessAlive(Number(pid), start);
}

function readOwner(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return undefined;
    throw e;
  }
}

export interface LockHandle {
  readonly path: string;
  release(): void;
}

/** A lock file is stale when it exists and its owner process is gone. */
export function isLockStale(path: string): boolean {
  const owner = readOwner(path);
  return owner !== undefined && !ownerAlive(owner);
}

export function isLocked(path: string): boolean {
  const owner = readOwner(path);
  return owner !== undefined && ownerAlive(owner);
}

/** Removes `path` if it is a stale lock. Returns true when the lock is free afterwards. */
export function breakIfStale(path: string): boolean {
  const owner = readOwner(path);
  if (owner === undefined) return true;
  if (ownerAlive(owner)) return false;
  const aside = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.stale`;
  try {
    renameSync(path, aside);
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return true; // someone else broke or released it
    throw e;
  }
  const got = readOwner(aside);
  if (got !== owner) {
    // We moved a fresh lock taken between our read and the rename: put it back.
    try {
      linkSync(aside, path);
    } catch {
      /* a third party holds it now; theirs wins */
    }
    try {
      unlinkSync(aside);
    } catch {
      /* gone */
    }
    return false;
  }
  try {
    unlinkSync(aside);
  } catch {
    /* gone */
  }
  return true;
}

/** Takes the lock if it is free (breaking a stale one); undefined when a live process holds it. */
export function tryLock(path: string): LockHandle | undefined {
  const token = randomBytes(8).toString('hex');
  const owner = `${process.pid} ${myStart} ${token}\n`;
  const tmp = `${path}.${process.pid}.${token}.tmp`;
  writeFileSync(tmp, owner, { mode: 0o644 });
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        linkSync(tmp, path);
        return makeHandle(path, owner);
      } catch (e) {
        if (errnoOf(e) !== 'EEXIST') throw e;
      }
      if (!breakIfStale(path)) return undefined;
    }
    return undefined;
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      /* gone */
    }
  }
}

function makeHandle(path: string, owner: string): LockHandle {
  let released = false;
  return {
    path,
    release(): void {
      if (released) return;
      released = true;
      // Only remove the file if it is still ours.
      if (readOwner(path) === owner) {
        try {
          unlinkSync(path);
        } catch {
          /* gone */
        }
      }
    },
  };
}

export interface WaitOptions {
  /** Called once when the lock is found held, before waiting. */
  onWait?: () => void;
  signal?: AbortSignal;
  /** Stop waiting early when this returns true (e.g. the blob appeared). */
  until?: () => boolean;
}

/** Waits for the lock; resolves undefined only when `until()` became true first. */
export async function lock(path: string, opts: WaitOptions = {}): Promise<LockHandle | undefined> {
  let delay = 20;
  let told = false;
  for (;;) {
    const h = tryLock(path);
    if (h) return h;
    if (!told) {
      told = true;
      opts.onWait?.();
    }
    if (opts.until?.()) return undefined;
    if (opts.signal?.aborted) throw opts.signal.reason ?? new Error('aborted');
    await sleep(delay);
    delay = Math.min(delay * 2, 250);
  }
}

/**
 * Removes the debris of dead processes next to lock files in `dir`: temp
 * owner files ("<lock>.<pid>.<token>.tmp"), renamed-aside locks (".stale")
 * and stale locks themselves.
 */
export function cleanLockDebris(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const m = /\.lock\.(\d+)\.[0-9a-f]+\.(tmp|stale)$/.exec(name);
    if (m) {
      if (!isProcessAlive(Number(m[1]))) {
        try {
          unlinkSync(join(dir, name));
        } catch {
          /* gone */
        }
      }
      continue;
    }
    if (name.endsWith('.lock')) breakIfStale(join(dir, name));
  }
}
