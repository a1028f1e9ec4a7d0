// A container process cloned ahead of need. A daemon that creates containers
// one after another (the engine) keeps a berth-init that has already run the
// start of the most common phase 1: PARENT_MODE exit, then CLONE into new
// pid, network, ipc and uts namespaces, then MORE (it waits for the rest of
// phase 1). Those namespaces cost the most to make (a network namespace
// above all), and nothing in them depends on the container yet.
//
// The mount namespace is not among them: one copied then would miss the
// mounts made since (the rootfs the engine mounts at create, on a host whose
// mounts do not propagate), so the container process unshares it at the
// start of phase 2, with the rest of the plan. It also opens the exec fifo
// itself (the first process opens it before CLONE on the usual path, and the
// fifo's path is only known now).
//
// A plan fits when its phase 1 starts exactly so (same parent mode, an exec
// fifo, a CLONE of those namespaces plus a new mount namespace) and what
// follows CLONE is only RELEASE and cgroup joins; anything else (a terminal,
// a user, cgroup or time namespace, a namespace joined by path, a seccomp
// listener) takes the usual path with a berth-init of its own.

import { CLONE } from '../linux/constants.js';
import { Op, type PlanOp } from './ops.js';

/** The namespaces a berth-init cloned ahead of need has made: those of ctr's and dockerd's default spec, but mount. */
export const PRECLONE_FLAGS = CLONE.NEWPID | CLONE.NEWNET | CLONE.NEWIPC | CLONE.NEWUTS;

/** What such a berth-init is sent first. */
export function precloneOps(): PlanOp[] {
  return [
    { op: Op.PARENT_MODE, label: 'parent mode exit', args: ['exit'] },
    { op: Op.CLONE, label: 'create the container process ahead of need', args: [PRECLONE_FLAGS] },
    { op: Op.MORE, label: 'wait for the rest of phase 1', args: [] },
  ];
}

/**
 * The rest of phase 1 and the start of phase 2 for a berth-init that ran
 * precloneOps(), when `parent` (compileParent's output) fits; undefined when
 * it does not. `nullStdin`: the task has no stdin, and the process's fd 0 (a
 * pipe of the spare's) becomes /dev/null, as a spawn gives a missing stream.
 */
export function fitPrecloned(
  parent: PlanOp[],
  nullStdin = false,
): { parent: PlanOp[]; childPrefix: PlanOp[] } | undefined {
  const [mode, fifo, clone, ...rest] = parent;
  if (mode?.op !== Op.PARENT_MODE || mode.args[0] !== 'exit') return undefined;
  if (fifo?.op !== Op.OPEN_EXEC_FIFO) return undefined;
  if (clone?.op !== Op.CLONE || Number(clone.args[0]) !== (PRECLONE_FLAGS | CLONE.NEWNS)) return undefined;
  if (!rest.every((o) => o.op === Op.RELEASE || o.op === Op.CGROUP_ADD_CHILD)) return undefined;
  return {
    parent: rest,
    childPrefix: [
      { op: Op.UNSHARE, label: 'create the mount namespace', args: [CLONE.NEWNS] },
      fifo,
      ...(nullStdin ? [{ op: Op.NULL_FD, label: 'no stdin: /dev/null', args: [0] }] : []),
    ],
  };
}
