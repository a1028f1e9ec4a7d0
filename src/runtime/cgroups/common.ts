// Pieces both managers share: the error-mapping writer, recursive process
// listing, and removal of a cgroup tree that waits for exiting processes.

import { posix } from 'node:path';
import { errnoOf } from '../../common/errors.js';
import { sleep } from '../../common/sleep.js';
import { cgroupError, writeError } from './errors.js';
import type { CgroupFs } from './fs.js';

/** Writes `value` to dir/file, naming `field` in the error when the kernel refuses. */
export function writeField(fs: CgroupFs, dir: string, file: string, value: string, field: string): void {
  try {
    fs.writeFile(posix.join(dir, file), value);
  } catch (e) {
    throw writeError(e, field, file, value);
  }
}

/** Reads dir/file, or undefined when it does not exist. */
export function readOptional(fs: CgroupFs, dir: string, file: string): string | undefined {
  try {
    return fs.readFile(posix.join(dir, file));
  } catch (e) {
    if (errnoOf(e) === 'ENOENT' || errnoOf(e) === 'ENODEV' || errnoOf(e) === 'EOPNOTSUPP') return undefined;
    throw e;
  }
}

/** Every pid in cgroup.procs of dir and of its descendants. */
export function pidsRecursive(fs: CgroupFs, dir: string): number[] {
  const out: number[] = [];
  const walk = (d: string): void => {
    const procs = readOptional(fs, d, 'cgroup.procs');
    if (procs === undefined) return;
    for (const l of procs.split('\n')) if (l.trim()) out.push(Number(l));
    let children: string[] = [];
    try {
      children = fs.readdir(d);
    } catch (e) {
      if (errnoOf(e) !== 'ENOENT') throw e;
    }
    for (const c of children) walk(posix.join(d, c));
  };
  walk(dir);
  return out;
}

/** dir and every directory below it, deepest first. */
function treeDeepestFirst(fs: CgroupFs, dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    let children: string[];
    try {
      children = fs.readdir(d);
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') return;
      throw e;
    }
    for (const c of children) walk(posix.join(d, c));
    out.push(d);
  };
  walk(dir);
  return out;
}

/**
 * Removes a cgroup and any nested ones. rmdir fails with EBUSY while a
 * process is still leaving (exiting processes linger as zombies in their
 * cgroup until reaped), so it retries with a growing delay, like runc, for up
 * to about `budgetMs`.
 */
export async function removeTree(fs: CgroupFs, dir: string, budgetMs = 5000): Promise<void> {
  let delay = 10;
  let waited = 0;
  for (;;) {
    let busy: unknown;
    for (const d of treeDeepestFirst(fs, dir)) {
      try {
        fs.rmdir(d);
      } catch (e) {
        const errno = errnoOf(e);
        if (errno === 'ENOENT') continue;
        if (errno !== 'EBUSY' && errno !== 'ENOTEMPTY') {
          throw cgroupError('internal', `removing cgroup ${d}: ${(e as Error).message}`, undefined, e);
        }
        busy = e;
        break;
      }
    }
    if (busy === undefined) return;
    if (waited >= budgetMs) {
      throw cgroupError(
        'failed-precondition',
        `cgroup ${dir} still has processes after ${waited} ms; cannot remove it`,
        undefined,
        busy,
      );
    }
    await sleep(delay);
    waited += delay;
    delay = Math.min(delay * 2, 500);
  }
}

/** Polls `done` until it returns true, up to budgetMs. */
export async function pollUntil(done: () => boolean, budgetMs: number): Promise<boolean> {
  let delay = 1;
  let waited = 0;
  for (;;) {
    if (done()) return true;
    if (waited >= budgetMs) return false;
    await sleep(delay);
    waited += delay;
    delay = Math.min(delay * 2, 100);
  }
}

export function checkPid(pid: number): void {
  if (!Number.isInteger(pid) || pid <= 0) throw cgroupError('invalid-argument', `${pid} is not a process id`);
}

/** Valid hugetlb page size names, as the kernel spells them in file names ("2MB", "1GB", "64KB"). */
export function checkPageSize(size: string, field: string): void {
  if (!/^[1-9][0-9]*[KMG]B$/.test(size)) {
    throw cgroupError('invalid-argument', `${JSON.stringify(size)} is not a huge page size (e.g. "2MB", "1GB")`, field);
  }
}

export function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v);
}

/** One rdma.max line: "mlx5_0 hca_handle=2 hca_object=100". */
export function rdmaLine(dev: string, lim: { hcaHandles?: number; hcaObjects?: number }, field: string): string {
  if (!/^[^\s/]+$/.test(dev)) throw cgroupError('invalid-argument', 'is not an RDMA device name', field);
  const parts = [dev];
  for (const [key, name] of [
    ['hcaHandles', 'hca_handle'],
    ['hcaObjects', 'hca_object'],
  ] as const) {
    const v = lim[key];
    if (v === undefined) continue;
    if (!isInt(v) || v < 0)
      throw cgroupError('invalid-argument', `${JSON.stringify(v)} is not an integer >= 0`, `${field}.${key}`);
    parts.push(`${name}=${v}`);
  }
  return parts.join(' ');
}

/**
 * A key of linux.resources.unified: a cgroup v2 file name ("memory.high"),
 * never a path, and never one of the files the runtime itself manages.
 */
export function checkUnifiedKey(key: string, value: unknown, field: string): void {
  if (!/^[A-Za-z0-9_]+\.[A-Za-z0-9_.]+$/.test(key) || key.includes('..')) {
    throw cgroupError('invalid-argument', 'is not a cgroup file name (controller.file, no "/" or "..")', field);
  }
  if (['cgroup.procs', 'cgroup.threads', 'cgroup.kill', 'cgroup.subtree_control', 'cgroup.freeze'].includes(key)) {
    throw cgroupError('invalid-argument', 'is managed by the runtime and cannot be set', field);
  }
  if (typeof value !== 'string') throw cgroupError('invalid-argument', 'must be a string', field);
}

/** cgroup v2 freezing (cgroup.freeze, then cgroup.events "frozen 1"), shared by v2 and by hybrid hosts without a v1 freezer. */
export async function freezeV2(fs: CgroupFs, dir: string): Promise<void> {
  if (!fs.exists(posix.join(dir, 'cgroup.freeze'))) {
    throw cgroupError(
      'unavailable',
      'this kernel has no cgroup.freeze (the cgroup v2 freezer needs Linux 5.2)',
      'pause',
    );
  }
  writeField(fs, dir, 'cgroup.freeze', '1', 'pause');
  if (!(await pollUntil(() => frozenEventV2(fs, dir), 5000))) {
    writeField(fs, dir, 'cgroup.freeze', '0', 'pause');
    throw cgroupError('failed-precondition', `the processes of ${dir} did not freeze within 5 s; thawed them again`);
  }
}

export async function thawV2(fs: CgroupFs, dir: string): Promise<void> {
  writeField(fs, dir, 'cgroup.freeze', '0', 'resume');
  await pollUntil(() => !frozenEventV2(fs, dir), 5000);
}

function frozenEventV2(fs: CgroupFs, dir: string): boolean {
  return /^frozen 1$/m.test(readOptional(fs, dir, 'cgroup.events') ?? '');
}

export function isFrozenV2(fs: CgroupFs, dir: string): boolean {
  return (readOptional(fs, dir, 'cgroup.freeze') ?? '0').trim() === '1';
}
