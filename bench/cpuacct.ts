// CPU time of a daemon and everything it starts (shims, runtimes, berth-init),
// for benches on a shared machine, where CPU time per operation is much less
// noisy than wall time: the daemon is moved into a cgroup v1 cpuacct group of
// its own right after it starts, and children inherit it (a container's own
// processes move to their container's cgroup, so they are not counted).
// Removed again at the end: what still runs in it goes back to the root.

import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = '/sys/fs/cgroup/cpuacct';

export interface CpuGroup {
  /** Moves a process (and its threads) into the group. */
  add(pid: number): void;
  /** CPU time of the group so far, in ms. */
  ms(): number;
  remove(): void;
}

/** A group named `name`, or undefined when this host has no v1 cpuacct hierarchy. */
export function cpuGroup(name: string): CpuGroup | undefined {
  if (!existsSync(join(ROOT, 'cpuacct.usage'))) return undefined;
  const dir = join(ROOT, name);
  mkdirSync(dir);
  return {
    add: (pid) => writeFileSync(join(dir, 'cgroup.procs'), String(pid)),
    ms: () => Number(readFileSync(join(dir, 'cpuacct.usage'), 'utf8').trim()) / 1e6,
    remove: () => {
      for (const p of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
        try {
          writeFileSync(join(ROOT, 'cgroup.procs'), p);
        } catch {
          // exited meanwhile
        }
      }
      rmdirSync(dir);
    },
  };
}
