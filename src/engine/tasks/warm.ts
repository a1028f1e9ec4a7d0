// The kernel's cgroup attach lock, primed when a task is announced rather
// than when it is made. Every write of a pid into a cgroup.procs waits first
// for an RCU grace period (5-16 ms on this host, measured by
// bench/run-floor.ts) unless another write paid it within about one grace
// period before (runtime/cgroups/prime.ts). The runtime primes at the start
// of its create, but its container process joins its cgroups ~4 ms later
// and waited out the rest. A client that runs a container announces it: its
// containers.Create comes one round trip and the task's preparation (bundle,
// shim, stdio) ahead of tasks.Create. Priming there starts the grace period
// that much earlier; the runtime's own prime then finds the lock in its
// passed state and keeps it so until the joins.
//
// Only an optimisation: nothing waits for it, a failure is logged at debug
// level and forgotten.

import { messageOf } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import { detectLayout, type CgroupLayout } from '../../runtime/cgroups/detect.js';
import { primeAttachLock } from '../../runtime/cgroups/prime.js';

let layout: CgroupLayout | undefined;

/** Starts paying the next cgroup join's grace period now (a no-op migration of this process). */
export function primeForTask(log: Logger, fields: Record<string, unknown>): void {
  try {
    // the mounts, read once: the target cgroup itself is read from /proc/self/cgroup at each prime
    layout ??= detectLayout();
  } catch (e) {
    log.debug('priming the cgroup attach lock', { ...fields, error: messageOf(e) });
    return;
  }
  primeAttachLock(layout, (e) => log.debug('priming the cgroup attach lock', { ...fields, error: messageOf(e) }));
}
