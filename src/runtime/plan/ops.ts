// The plan: the flat list of operations that berth-init executes verbatim.
// Every decision (which namespaces, which mounts with which flags, which ids,
// which capabilities) is made in TypeScript when the plan is compiled; the C
// side only performs each operation and reports its outcome. The wire format
// and each operation's exact semantics are documented in native/README.md,
// which is the contract between the two sides; keep both in step.

export const Op = {
  END: 0,
  // phase 1: executed by berth-init's first process in the caller's namespaces
  PARENT_MODE: 1,
  OPEN_CONSOLE_SOCKET: 2,
  OPEN_EXEC_FIFO: 3,
  OPEN_SECCOMP_LISTENER: 4,
  SETNS: 5,
  TIMENS_OFFSETS: 6,
  CLONE: 7,
  WRITE_CHILD_FILE: 8,
  CGROUP_ADD_CHILD: 9,
  RUN_CHILD_HELPER: 10,
  /** Report the pid and release the container process now; only CGROUP_ADD_CHILD may follow. */
  RELEASE: 11,
  /** End of this part of phase 1: run it, then read the rest (a berth-init cloned ahead of need; plan/preclone.ts). */
  MORE: 12,
  /** Copy a descriptor out of the runtime (pidfd_getfd): stdio for a berth-init started ahead of need. */
  TAKE_FD: 19,
  // phase 2: executed by the container process before exec
  UNSHARE: 20,
  SETRESUID: 21,
  SETRESGID: 22,
  SETHOSTNAME: 23,
  SETDOMAINNAME: 24,
  MOUNT: 25,
  SET_ROOT: 26,
  MOUNT_IN_ROOT: 27,
  MKNOD_IN_ROOT: 28,
  SYMLINK_IN_ROOT: 29,
  MKDIR_IN_ROOT: 30,
  MASK_IN_ROOT: 31,
  READONLY_IN_ROOT: 32,
  PIVOT_ROOT: 33,
  MOVE_ROOT: 34,
  /** One write to a file beneath the procfs root berth-init holds (never a path the container could redirect). */
  WRITE_PROC: 35,
  SYNC: 36,
  HOOK: 37,
  CONSOLE: 38,
  SETSID: 39,
  RLIMIT: 40,
  ACK: 41,
  ABORT: 42,
  PERSONALITY: 43,
  IOPRIO: 44,
  SCHED: 45,
  NO_NEW_PRIVS: 46,
  CAPS_BOUNDING: 47,
  USER: 48,
  CAPS: 49,
  SECCOMP_INIT: 50,
  SECCOMP_ATTR: 51,
  SECCOMP_ARCH: 52,
  SECCOMP_RULE: 53,
  SECCOMP_LOAD: 54,
  CHDIR: 55,
  UMASK: 56,
  WAIT_START: 57,
  EXEC: 58,
  BIND_DEV_IN_ROOT: 59,
  /** Fail now (before WAIT_START) if EXEC could not run this program, as runc's create does. */
  FIND_EXEC: 60,
  /** Wait until the first process has finished phase 1 (the cgroup joins after RELEASE). */
  WAIT_CGROUPS: 61,
  /** Join a new session keyring of this name (keyctl), made searchable by its owner. */
  SESSION_KEYRING: 62,
  /** mount_setattr(2) with AT_RECURSIVE on a mount beneath the root: runc's recursive options (rro, rnosuid...). */
  MOUNT_SETATTR_IN_ROOT: 63,
  /** Mount (a tmpfs) beneath the root, then copy into it what the directory under it held: runc's tmpcopyup. */
  MOUNT_COPYUP_IN_ROOT: 64,
  /** Fail unless a path beneath the root (its last component not followed) is the root of a procfs. */
  EXPECT_PROCFS_IN_ROOT: 65,
  /** chdir + chroot: the root switch of a container without a mount namespace of its own. */
  CHROOT: 66,
  /** chroot to the root of a process (through the held procfs): exec into such a container. */
  CHROOT_PROCESS_ROOT: 67,
  /** The host's /dev/null as fd 0-2: a process cloned ahead of need (its stdio pipes) whose task has no stdin. */
  NULL_FD: 68,
} as const;

export type OpCode = (typeof Op)[keyof typeof Op];

/** One operation: its code, a human label used in every report about it, and its operands. */
export interface PlanOp {
  op: OpCode;
  /** What the user reads when this step fails, e.g. "mount proc on /proc". */
  label: string;
  args: (string | number | bigint)[];
}

/** Reports that berth-init writes, one JSON object per line. */
export type Report =
  | { t: 'pid'; pid: number }
  | { t: 'sync'; tag: string }
  | { t: 'ready' }
  | { t: 'warn'; step: string; msg: string }
  | { t: 'error'; step: string; errno: number; msg: string };
