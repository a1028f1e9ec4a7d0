// Priming the kernel's cgroup attach lock before berth-init needs it.
//
// Every write of a pid into a cgroup.procs (v1 or v2) takes the global
// cgroup_threadgroup_rwsem for writing, and percpu_down_write first waits for
// an RCU grace period (rcu_sync_enter): 5-20 ms on an idle host. Once a
// writer has paid it, the lock stays in its slow-reader mode for about one
// more grace period, and a write in that window costs ~0.2 ms. So, just
// before spawning berth-init, the runtime writes its own pid into the
// cgroup.procs of the cgroup it is already in: a migration that moves
// nothing, but that pays the grace period while berth-init execs, re-execs
// from its sealed memfd and clones. Its own joins then find the lock warm.
//
// It is only an optimisation: it never delays `create` (nothing waits for
// it) and any failure is the caller's to log and forget. Two cautions, both
// handled by choosing the target from /proc/self/cgroup read just now: the
// write must name the cgroup this process is in (any other would move the
// runtime), and a cgroup outside the mount's view (another cgroup namespace)
// is left alone. (On v1 it moves every thread of the runtime to the main
// thread's cgroup; Node never puts its threads in different cgroups.)

import { close, constants, openSync, readFileSync, write } from 'node:fs';
import { posix } from 'node:path';
import { parseProcCgroup, type CgroupLayout, type CgroupMount } from './detect.js';

/**
 * The cgroup.procs of this process's own cgroup in one hierarchy: the
 * unified one when there is one (the container joins it on v2 and on hybrid
 * hosts), else the first v1 hierarchy. Undefined when there is none to use.
 */
export function primeTarget(layout: CgroupLayout, selfCgroup: string): string | undefined {
  const own = parseProcCgroup(selfCgroup);
  let mount: CgroupMount | undefined;
  let cgroup: string | undefined;
  if (layout.unified && own.unified !== undefined) {
    mount = layout.unified;
    cgroup = own.unified;
  } else {
    const name = Object.keys(layout.v1).find((n) => own.v1[n] !== undefined);
    if (name === undefined) return undefined;
    mount = layout.v1[name]!;
    cgroup = own.v1[name]!;
  }
  const rel = posix.relative(mount.root, cgroup);
  if (rel === '..' || rel.startsWith('../')) return undefined;
  return posix.join(mount.mountpoint, rel, 'cgroup.procs');
}

/**
 * Starts the no-op migration and returns at once. The open is synchronous
 * (it does not take the lock, and an async open would wait for the event
 * loop, which the coming spawn() blocks); the write, which waits, runs on
 * libuv's thread pool. Failures go to onError, never to a promise.
 */
export function primeAttachLock(layout: CgroupLayout, onError: (e: Error) => void): void {
  const report = (e: unknown) => {
    try {
      onError(e instanceof Error ? e : new Error(String(e)));
    } catch {
      // a logger that throws must not turn an optimisation into a crash
    }
  };
  let fd: number;
  try {
    const target = primeTarget(layout, readFileSync('/proc/self/cgroup', 'utf8'));
    if (!target) return;
    // Node opens with O_CLOEXEC: berth-init, spawned meanwhile, never sees it.
    fd = openSync(target, constants.O_WRONLY);
  } catch (e) {
    report(e);
    return;
  }
  write(fd, String(process.pid), (err) => {
    close(fd, () => undefined);
    if (err) report(err);
  });
}
