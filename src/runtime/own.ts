// Which processes are the container's own. A cgroupsPath may name a cgroup
// that already holds other processes (runc 1.1 warns and goes on), so "every
// process in the container's cgroup" is not the container: delete, a failed
// create and kill --all signal only what the container started.
//
// A process is the container's when it is in the container's cgroup, was
// not there before the container was created (the `foreign` list, pid and
// start time), and, when the container made a namespace of its own, is in
// that namespace (every process of the container, exec'd ones too, joins
// them all). The namespace is what tells the container's processes from the
// foreign ones' later children, which land in the same cgroup.

import { readlinkSync } from 'node:fs';
import type { CgroupManager } from './cgroups/manager.js';
import type { Spec } from './spec/types.js';
import { procStat } from '../common/proc.js';

export interface Ownership {
  /** Processes in the cgroup before create: never the container's. */
  foreign: { pid: number; startTime: string }[];
  /** A namespace the container made, as /proc/<pid>/ns/<name> reads ("pid:[4026532...]"). */
  ns?: string;
}

// The namespace that identifies the container best, first: a new pid
// namespace holds exactly the container.
const NS_ORDER: [type: string, proc: string][] = [
  ['pid', 'pid'],
  ['mount', 'mnt'],
  ['network', 'net'],
  ['ipc', 'ipc'],
  ['uts', 'uts'],
  ['user', 'user'],
];

/** Who is in the cgroup now (before the container is made). */
export function foreignOf(mgr: CgroupManager): Ownership['foreign'] {
  let pids: number[] = [];
  try {
    if (mgr.exists()) pids = mgr.pids();
  } catch {
    /* not there yet */
  }
  const out: Ownership['foreign'] = [];
  for (const pid of pids) {
    const s = procStat(pid);
    if (s) out.push({ pid, startTime: s.startTime });
  }
  return out;
}

/** The identity of a namespace the container made, read from its init; undefined when it made none (or the init is gone). */
export function nsIdentity(spec: Spec, initPid: number): string | undefined {
  const namespaces = spec.linux?.namespaces ?? [];
  for (const [type, proc] of NS_ORDER) {
    if (!namespaces.some((n) => n.type === type && !n.path)) continue;
    try {
      return readlinkSync(`/proc/${initPid}/ns/${proc}`);
    } catch {
      return undefined;
    }
  }
  return undefined;
}

function nsOf(pid: number, name: string): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/${name}`);
  } catch {
    return undefined;
  }
}

/** The container's processes in its cgroup, and how many others are there. */
export function ownPids(mgr: CgroupManager, own: Ownership | undefined): { own: number[]; others: number } {
  let pids: number[];
  try {
    pids = mgr.pids();
  } catch {
    return { own: [], others: 0 };
  }
  // A record written before this was tracked: the cgroup was the container's alone.
  if (!own) return { own: pids, others: 0 };
  const nsName = own.ns?.slice(0, own.ns.indexOf(':'));
  const out: number[] = [];
  let others = 0;
  for (const pid of pids) {
    const s = procStat(pid);
    const wasThere = own.foreign.some((f) => f.pid === pid && f.startTime === s?.startTime);
    const inNs = !own.ns || nsOf(pid, nsName!) === own.ns;
    if (!wasThere && inNs) out.push(pid);
    else others++;
  }
  return { own: out, others };
}
