// What the chaos tests check after every kill -9 of a daemon, from the
// kernel and the filesystem rather than from the daemon's own answers:
// SQLite files pass `PRAGMA integrity_check`, every committed blob's bytes
// are its digest, a task is either running or has nothing left of it
// (shim, cgroup, mounts, bundle), and the kill points themselves.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { mountsUnder } from '../../helpers/daemons.js';
import { openSqlite } from '../../../src/common/sqlite.js';

/** Every *.db file under `dir` passes `PRAGMA integrity_check`. */
export function assertSqliteIntact(dir: string): number {
  const dbs: string[] = [];
  const walk = (d: string, depth: number) => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isFile() && e.name.endsWith('.db')) dbs.push(p);
      // Snapshot trees and blobs hold no databases; stay out of them (they can be big).
      else if (e.isDirectory() && depth < 3 && !['snapshots', 'blobs', 'rootfs', 'containers'].includes(e.name))
        walk(p, depth + 1);
    }
  };
  walk(dir, 0);
  for (const path of dbs) {
    // Opened writable, as the daemon's next open does: a WAL left by the kill is replayed first.
    const db = openSqlite(path, { mustExist: true, timeoutMs: 10000 });
    try {
      assert.equal(db.pragma('integrity_check'), 'ok', `integrity_check of ${path}`);
    } finally {
      db.close();
    }
  }
  return dbs.length;
}

/** Every file in a blobs/sha256 directory is named by the sha256 of its bytes: no partial blob is visible as committed. */
export function assertBlobsVerified(blobDir: string): string[] {
  const dir = join(blobDir, 'sha256');
  if (!existsSync(dir)) return [];
  const names = readdirSync(dir);
  for (const n of names) {
    const p = join(dir, n);
    if (!statSync(p).isFile()) continue;
    const h = createHash('sha256').update(readFileSync(p)).digest('hex');
    assert.equal(h, n, `blob ${p} holds other bytes than its digest`);
  }
  return names.map((n) => `sha256:${n}`);
}

/** The cgroup directories named `rel` in any hierarchy (v1 controllers or v2). */
export function cgroupsOf(rel: string): string[] {
  const base = '/sys/fs/cgroup';
  const hs = existsSync(join(base, 'cgroup.controllers')) ? [base] : readdirSync(base).map((h) => join(base, h));
  return hs.map((h) => join(h, rel)).filter((p) => existsSync(p));
}

export function alive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

/** Mount points under `dir` (none is expected once nothing runs). */
export function strayMounts(dir: string): string[] {
  return mountsUnder(dir);
}

/**
 * Runs `cmd args` and calls `kill` `at` ms later, or once `at()` is true
 * (a step's line in the daemon's log); resolves with the
 * command's exit code and output once it has ended (and whether it had
 * ended before the kill: such a point tested the quiet state only).
 */
export async function killDuring(
  cmd: string,
  args: string[],
  at: number | (() => boolean),
  kill: () => Promise<void>,
  env?: NodeJS.ProcessEnv,
): Promise<{ code: number | null; out: string; killedAfterExit: boolean }> {
  const child: ChildProcess = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  let exited = false;
  const done = new Promise<number | null>((r) =>
    child.once('close', (c) => {
      exited = true;
      r(c);
    }),
  );
  if (typeof at === 'number') await new Promise((r) => setTimeout(r, at));
  else {
    // A step's mark: polled every 2 ms (the kill lands within a few ms of it), 15 s at most.
    const end = Date.now() + 15000;
    while (!exited && !at() && Date.now() < end) await new Promise((r) => setTimeout(r, 2));
  }
  const killedAfterExit = exited;
  await kill();
  // A client whose daemon died may wait for a reconnect: end it after a while.
  const t = setTimeout(() => child.kill('SIGKILL'), 8000);
  const code = await done;
  clearTimeout(t);
  return { code, out, killedAfterExit };
}

/** True once `re` matches what `file` gained after this call (a daemon's log line that marks a step). */
export function logMark(file: string, re: RegExp): () => boolean {
  const from = existsSync(file) ? statSync(file).size : 0;
  return () => {
    try {
      return re.test(readFileSync(file).subarray(from).toString('utf8'));
    } catch {
      return false;
    }
  };
}
