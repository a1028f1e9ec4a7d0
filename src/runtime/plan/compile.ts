// config.json → plan. Every policy of the runtime lives here: the order of the
// steps, the flags of each mount, the default devices, when seccomp loads,
// which namespaces are joined first. The result is executed verbatim by
// berth-init (native/README.md).

import { statSync } from 'node:fs';
import { posix } from 'node:path';
import { BerthError } from '../../common/errors.js';
import type { Hook, LinuxNamespace, NamespaceType, Process, Spec, State } from '../spec/types.js';
import { NAMESPACE_PROC_NAMES } from '../spec/names.js';
import {
  CAPABILITIES,
  CLONE,
  IOPRIO_CLASS,
  MOUNT_ATTR,
  MS,
  PERSONALITY,
  RLIMITS,
  SCHED_FLAG,
  SCHED_POLICY,
} from '../linux/constants.js';
import { bindRemountFlags, parseMountOptions, PROPAGATION, type ParsedMountOptions } from './mountopts.js';
import { compileSeccomp, usesNotify } from './seccomp.js';
import { readRootFile } from '../linux/rootfile.js';
import { checkProcMount } from './procmount.js';
import { Op, type PlanOp } from './ops.js';
import { DEFAULT_DEVICE_NODES } from '../devices.js';

export const NS_FLAG: Record<NamespaceType, number> = {
  pid: CLONE.NEWPID,
  network: CLONE.NEWNET,
  mount: CLONE.NEWNS,
  ipc: CLONE.NEWIPC,
  uts: CLONE.NEWUTS,
  user: CLONE.NEWUSER,
  cgroup: CLONE.NEWCGROUP,
  time: CLONE.NEWTIME,
};

// Joining order: the user namespace first (it grants the rights to join the
// others), the mount namespace last (joining it changes how paths resolve).
const JOIN_ORDER: NamespaceType[] = ['user', 'ipc', 'uts', 'network', 'pid', 'cgroup', 'time', 'mount'];

/** One cgroup hierarchy as the container should see it at its cgroup mount. */
export interface CgroupHierarchy {
  /** Directory name under the mount destination: "memory", "cpu", "unified", "" for v2 at the top. */
  dir: string;
  fstype: 'cgroup' | 'cgroup2';
  /** Mount data for a fresh cgroup mount: "memory", "name=systemd", "" for cgroup2. */
  data: string;
  /** The container's own cgroup directory on the host, bound when there is no cgroup namespace. */
  hostPath: string;
}

export interface HostFacts {
  apparmor: boolean;
  selinux: boolean;
  /** /proc/sys/kernel/cap_last_cap: the highest capability this kernel has. */
  capLast: number;
  /** The kernel has keyrings (CONFIG_KEYS): a container gets a session keyring of its own. */
  keyrings: boolean;
  /** The kernel has mount_setattr(2) (Linux 5.12+): one recursive call instead of a remount per mount. */
  mountSetattr?: boolean;
}

/** runc's name for a container's session keyring (exec processes join the same one). */
export function sessionKeyringName(id: string): string {
  return `_ses.${id}`;
}

export interface CreatePlanInput {
  id: string;
  bundle: string;
  rootfs: string;
  spec: Spec;
  /** How berth-init's first process behaves once the container process exists. */
  parentMode: 'exit' | 'wait' | 'wait-tty';
  consoleSocket?: string;
  execFifo: string;
  noPivot: boolean;
  /** A session keyring of the container's own (false: runc's --no-new-keyring). */
  newKeyring: boolean;
  preserveFds: number;
  cgroupProcs: string[];
  cgroupHierarchies: CgroupHierarchy[];
  host: HostFacts;
  /** The mount holding the rootfs (linux/mountinfo.ts), for a shared rootfsPropagation. */
  rootfsParentMount?: string;
}

const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;

function op(code: PlanOp['op'], label: string, ...args: (string | number | bigint)[]): PlanOp {
  return { op: code, label, args };
}

function fail(field: string, message: string, code: 'invalid-argument' | 'unavailable' = 'invalid-argument'): never {
  throw new BerthError('runtime', code, `${field}: ${message}`, { field });
}

function nsOf(spec: Spec, type: NamespaceType): LinuxNamespace | undefined {
  return spec.linux?.namespaces?.find((n) => n.type === type);
}

/**
 * A capability set as a mask. Names this runtime does not know, or that the
 * running kernel does not have (above cap_last_cap), are left out, as runc
 * does; `ignoredCapabilities` lists them for a warning.
 */
export function capMask(
  names: readonly string[] | undefined,
  field: string,
  lastCap = CAPABILITIES.length - 1,
): bigint {
  let mask = 0n;
  for (const n of names ?? []) {
    if (!/^CAP_[A-Z0-9_]+$/.test(n)) fail(field, `unknown capability "${n}"`);
    const bit = (CAPABILITIES as readonly string[]).indexOf(n);
    if (bit < 0 || bit > lastCap) continue;
    mask |= 1n << BigInt(bit);
  }
  return mask;
}

export function ignoredCapabilities(proc: Process | undefined, lastCap: number): string[] {
  const c = proc?.capabilities ?? {};
  const all = [
    ...(c.bounding ?? []),
    ...(c.effective ?? []),
    ...(c.inheritable ?? []),
    ...(c.permitted ?? []),
    ...(c.ambient ?? []),
  ];
  return [
    ...new Set(
      all.filter((n) => {
        const bit = (CAPABILITIES as readonly string[]).indexOf(n);
        return bit < 0 || bit > lastCap;
      }),
    ),
  ].sort();
}

export function hookState(
  input: { id: string; bundle: string; spec: Spec },
  status: State['status'],
  pid?: number,
): string {
  const s: State = { ociVersion: input.spec.ociVersion, id: input.id, status, bundle: input.bundle };
  if (pid !== undefined) s.pid = pid;
  if (input.spec.annotations) s.annotations = input.spec.annotations;
  return JSON.stringify(s);
}

function hookOps(hooks: Hook[] | undefined, kind: string, state: string): PlanOp[] {
  return (hooks ?? []).map((h, i) =>
    op(
      Op.HOOK,
      `${kind} hook #${i} (${h.path})`,
      h.path,
      h.timeout ?? 0,
      state,
      (h.args ?? [h.path]).length,
      ...(h.args ?? [h.path]),
      (h.env ?? []).length,
      ...(h.env ?? []),
    ),
  );
}

function envPath(env: string[] | undefined): string {
  const p = (env ?? []).find((e) => e.startsWith('PATH='));
  return p ? p.slice(5) : '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
}

/** runc sets HOME from the container's /etc/passwd when the config leaves it out. */
export function processEnv(proc: Process, rootfs: string | undefined): string[] {
  const env = [...(proc.env ?? [])];
  if (!env.some((e) => e.startsWith('HOME='))) env.push(`HOME=${homeOf(proc.user.uid, rootfs)}`);
  return env;
}

/** More than any real passwd file; a bigger one is read this far only. */
const PASSWD_LIMIT = 4 << 20;

function homeOf(uid: number, rootfs: string | undefined): string {
  if (!rootfs) return '/';
  // Never by path: a container can swap its /etc/passwd for a link to a
  // host file or a FIFO at any moment (linux/rootfile.ts).
  const text = readRootFile(rootfs, 'etc/passwd', PASSWD_LIMIT)?.toString('utf8');
  for (const line of text?.split('\n') ?? []) {
    const f = line.split(':');
    if (f.length >= 7 && Number(f[2]) === uid && f[5]) return f[5];
  }
  return '/';
}

/** Process-level steps shared by the container's init and `exec`. */
function processOps(
  proc: Process,
  spec: Spec,
  state: string,
  host: HostFacts,
  opts: { lateHooks: PlanOp[]; waitStart: boolean; preserveFds: number; rootfs?: string; inUserNs: boolean },
): PlanOp[] {
  const ops: PlanOp[] = [];
  if (proc.apparmorProfile) {
    if (!host.apparmor) fail('process.apparmorProfile', 'AppArmor is not enabled on this host', 'unavailable');
    ops.push(
      op(
        Op.WRITE_PROC,
        `apply AppArmor profile ${proc.apparmorProfile}`,
        'self/attr/apparmor/exec',
        `exec ${proc.apparmorProfile}`,
      ),
    );
  }
  if (proc.selinuxLabel && host.selinux) {
    ops.push(op(Op.WRITE_PROC, `apply SELinux label ${proc.selinuxLabel}`, 'self/attr/exec', proc.selinuxLabel));
  }
  for (const r of proc.rlimits ?? []) {
    const n = RLIMITS[r.type];
    if (n === undefined) fail('process.rlimits', `unknown rlimit ${r.type}`);
    ops.push(op(Op.RLIMIT, `set ${r.type} to soft ${r.soft}, hard ${r.hard}`, n, BigInt(r.soft), BigInt(r.hard)));
  }
  if (spec.linux?.personality) {
    const p = spec.linux.personality;
    ops.push(op(Op.PERSONALITY, `set personality ${p.domain}`, PERSONALITY[p.domain]));
  }
  if (proc.ioPriority) {
    const cls = IOPRIO_CLASS[proc.ioPriority.class];
    if (cls === undefined) fail('process.ioPriority.class', `unknown class ${proc.ioPriority.class}`);
    ops.push(
      op(
        Op.IOPRIO,
        `set I/O priority ${proc.ioPriority.class}/${proc.ioPriority.priority}`,
        (cls << 13) | proc.ioPriority.priority,
      ),
    );
  }
  if (proc.scheduler) {
    const s = proc.scheduler;
    const policy = SCHED_POLICY[s.policy];
    if (policy === undefined) fail('process.scheduler.policy', `unknown policy ${s.policy}`);
    const flags = (s.flags ?? []).reduce((m, f) => m | (SCHED_FLAG[f] ?? 0), 0);
    ops.push(
      op(
        Op.SCHED,
        `set scheduler ${s.policy}`,
        policy,
        flags,
        s.nice ?? 0,
        s.priority ?? 0,
        s.runtime ?? 0,
        s.deadline ?? 0,
        s.period ?? 0,
      ),
    );
  }
  const caps = proc.capabilities ?? {};
  const last = host.capLast;
  ops.push(
    op(
      Op.CAPS_BOUNDING,
      'drop capabilities from the bounding set',
      capMask(caps.bounding, 'process.capabilities.bounding', last),
    ),
  );

  const nnp = proc.noNewPrivileges === true;
  const seccomp = spec.linux?.seccomp;
  // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it while
  // we still have it. With no_new_privs, load it as late as possible so the
  // filter constrains nothing of the runtime's own set-up.
  if (seccomp && !nnp) ops.push(...compileSeccomp(seccomp, state));

  const groups = proc.user.additionalGids ?? [];
  ops.push(
    op(
      Op.USER,
      `switch to user ${proc.user.uid}:${proc.user.gid}`,
      proc.user.uid,
      proc.user.gid,
      groups.length,
      ...groups,
    ),
  );
  const permitted = capMask(caps.permitted, 'process.capabilities.permitted', last);
  const inheritable = capMask(caps.inheritable, 'process.capabilities.inheritable', last);
  // The kernel only lets a capability into the ambient set when it is both
  // permitted and inheritable; runc ignores the others (with a warning), and
  // configs written for runc (its default spec among them) rely on that.
  const ambient = capMask(caps.ambient, 'process.capabilities.ambient', last) & permitted & inheritable;
  ops.push(
    op(
      Op.CAPS,
      'set capabilities',
      capMask(caps.effective, 'process.capabilities.effective', last),
      permitted,
      inheritable,
      ambient,
    ),
  );
  ops.push(op(Op.UMASK, 'set umask', proc.user.umask ?? 0o022));
  ops.push(op(Op.CHDIR, `chdir to ${proc.cwd}`, proc.cwd));
  if (nnp) ops.push(op(Op.NO_NEW_PRIVS, 'set no_new_privs'));
  const args = proc.args ?? [];
  if (args.length === 0) fail('process.args', 'must name a program to run');
  // Like runc, a program that cannot be run fails `create`, while the caller
  // still listens, rather than the container after `start`.
  if (opts.waitStart) {
    ops.push(op(Op.FIND_EXEC, `exec ${JSON.stringify(args[0])}`, envPath(proc.env), args[0]!));
    ops.push(op(Op.WAIT_START, 'wait for start'));
  }
  ops.push(...opts.lateHooks);
  if (seccomp && nnp) ops.push(...compileSeccomp(seccomp, state));
  ops.push(
    op(
      Op.EXEC,
      `exec ${JSON.stringify(args[0])}`,
      opts.preserveFds,
      envPath(proc.env),
      args.length,
      ...args,
      ...envArgs(processEnv(proc, opts.rootfs)),
    ),
  );
  return ops;
}

function envArgs(env: string[]): (string | number)[] {
  return [env.length, ...env];
}

function idMapText(maps: { containerID: number; hostID: number; size: number }[]): string {
  return maps.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join('');
}

function seccompListenerState(input: CreatePlanInput, pid: number): string {
  const s = input.spec.linux?.seccomp;
  return JSON.stringify({
    ociVersion: input.spec.ociVersion,
    fds: ['seccompFd'],
    pid,
    metadata: s?.listenerMetadata ?? '',
    state: JSON.parse(hookState(input, 'creating', pid)) as unknown,
  });
}

/** The first process's operations. */
export function compileParent(input: CreatePlanInput): PlanOp[] {
  const { spec } = input;
  const ops: PlanOp[] = [op(Op.PARENT_MODE, `parent mode ${input.parentMode}`, input.parentMode)];
  if (input.consoleSocket)
    ops.push(op(Op.OPEN_CONSOLE_SOCKET, `connect to console socket ${input.consoleSocket}`, input.consoleSocket));
  ops.push(op(Op.OPEN_EXEC_FIFO, `open exec fifo ${input.execFifo}`, input.execFifo));
  if (spec.linux?.seccomp && usesNotify(spec.linux.seccomp)) {
    const path = spec.linux.seccomp.listenerPath;
    if (!path) fail('linux.seccomp.listenerPath', 'required when a rule uses SCMP_ACT_NOTIFY');
    ops.push(op(Op.OPEN_SECCOMP_LISTENER, `connect to seccomp listener ${path}`, path));
  }
  const namespaces = spec.linux?.namespaces ?? [];
  for (const type of JOIN_ORDER) {
    const ns = namespaces.find((n) => n.type === type);
    if (ns?.path) ops.push(op(Op.SETNS, `join ${type} namespace ${ns.path}`, ns.path, NS_FLAG[type]));
  }
  const time = nsOf(spec, 'time');
  if (time && !time.path) {
    const offs = spec.linux?.timeOffsets ?? {};
    const text = Object.entries(offs)
      .map(([clock, o]) => `${clock} ${o?.secs ?? 0} ${o?.nanosecs ?? 0}\n`)
      .join('');
    ops.push(op(Op.TIMENS_OFFSETS, 'create time namespace', text));
  }
  let flags = 0;
  for (const ns of namespaces) {
    if (!ns.path && ns.type !== 'time' && ns.type !== 'cgroup') flags |= NS_FLAG[ns.type];
  }
  ops.push(op(Op.CLONE, 'create the container process', flags));
  const user = nsOf(spec, 'user');
  if (user && !user.path) {
    ops.push(op(Op.WRITE_CHILD_FILE, 'write uid_map', 'uid_map', idMapText(spec.linux?.uidMappings ?? [])));
    ops.push(op(Op.WRITE_CHILD_FILE, 'write gid_map', 'gid_map', idMapText(spec.linux?.gidMappings ?? [])));
  }
  // The first write into a cgroup.procs waits for an RCU grace period in
  // the kernel (5-20 ms): released first, the container process does its
  // mounts meanwhile and waits at WAIT_CGROUPS where membership matters.
  if (input.cgroupProcs.length > 0) ops.push(op(Op.RELEASE, 'release the container process'));
  for (const procs of input.cgroupProcs) ops.push(op(Op.CGROUP_ADD_CHILD, `join cgroup ${procs}`, procs));
  return ops;
}

/**
 * `cgroupJoin` (the wait for the cgroup joins, and the new cgroup namespace)
 * is emptied into the ops just before the first cgroup mount, which must
 * show the container's own cgroups; whatever is left the caller places.
 */
function mountOps(input: CreatePlanInput, cgroupJoin: PlanOp[]): PlanOp[] {
  const { spec, rootfs } = input;
  const ops: PlanOp[] = [];
  const newUserNs = !!nsOf(spec, 'user');
  const mounts = spec.mounts ?? [];
  const devBound = mounts.some(
    (m) =>
      m.destination === '/dev' && (m.type === 'bind' || (m.options ?? []).some((o) => o === 'bind' || o === 'rbind')),
  );

  mounts.forEach((m, i) => {
    const field = `mounts[${i}]`;
    const dest = m.destination;
    const o = parseMountOptions(m.options, field);
    const isBind = m.type === 'bind' || (o.flags & MS.BIND) !== 0;
    checkProcMount(m, isBind, field);
    if (isBind) {
      if (o.copyUp) fail(`${field}.options`, 'tmpcopyup applies to tmpfs mounts only, not to a bind mount');
      const src = m.source;
      if (!src) fail(`${field}.source`, 'a bind mount needs a source');
      let kind: 'dir' | 'file';
      try {
        kind = statSync(src).isDirectory() ? 'dir' : 'file';
      } catch (e) {
        fail(`${field}.source`, `cannot bind ${src}: ${(e as Error).message}`);
      }
      ops.push(
        op(
          Op.MOUNT_IN_ROOT,
          `bind mount ${src} on ${dest}`,
          src,
          dest,
          '',
          o.flags | MS.BIND,
          '',
          kind,
          bindRemountFlags(o.flags),
          o.propagation,
        ),
      );
      ops.push(...recursiveAttrOps(o, dest));
      return;
    }
    if (m.type === 'cgroup' || m.type === 'cgroup2') {
      ops.push(...cgroupJoin.splice(0), ...cgroupMountOps(input, dest, o.flags, field));
      return;
    }
    const fstype = m.type ?? '';
    if (!fstype) fail(`${field}.type`, 'required for a mount that is not a bind mount');
    if (o.copyUp && fstype !== 'tmpfs')
      fail(`${field}.options`, `tmpcopyup applies to tmpfs mounts only, not ${fstype}`);
    let data = o.data;
    if (spec.linux?.mountLabel && input.host.selinux && ['tmpfs', 'devpts', 'mqueue', 'shm'].includes(fstype)) {
      data = data ? `${data},context="${spec.linux.mountLabel}"` : `context="${spec.linux.mountLabel}"`;
    }
    if (o.copyUp) {
      ops.push(
        op(
          Op.MOUNT_COPYUP_IN_ROOT,
          `mount ${fstype} on ${dest} with a copy of its contents`,
          m.source ?? fstype,
          dest,
          fstype,
          o.flags,
          data,
          o.propagation,
        ),
      );
    } else {
      // proc and sysfs only on an ordinary directory (as runc): mounted on a
      // symlink's target, they could be swapped away by repointing the link.
      const mkdir = fstype === 'proc' || fstype === 'sysfs' ? 'realdir' : 'dir';
      ops.push(
        op(
          Op.MOUNT_IN_ROOT,
          `mount ${fstype} on ${dest}`,
          m.source ?? fstype,
          dest,
          fstype,
          o.flags,
          data,
          mkdir,
          0,
          o.propagation,
        ),
      );
    }
    ops.push(...recursiveAttrOps(o, dest));
  });
  // Whatever came after it (a mount through a link that aliases /proc), the
  // container's /proc must still be the procfs mounted there.
  if (mounts.some((m) => m.type === 'proc' && posix.normalize(m.destination) === '/proc')) {
    ops.push(op(Op.EXPECT_PROCFS_IN_ROOT, 'check that /proc is a procfs after the mounts', '/proc'));
  }

  if (!devBound) {
    const hasPts = mounts.some((m) => m.destination === '/dev/pts');
    const devices = [
      ...DEFAULT_DEVICE_NODES.map((d) => ({ ...d, fileMode: 0o666, uid: 0, gid: 0 })),
      ...(spec.linux?.devices ?? []),
    ];
    const seen = new Set<string>();
    // A device listed in the config replaces the default of the same path.
    for (const d of devices.reverse()) {
      if (seen.has(d.path)) continue;
      seen.add(d.path);
      if (newUserNs) {
        // mknod is refused in a user namespace: bind the host's node instead.
        ops.push(op(Op.BIND_DEV_IN_ROOT, `bind device ${d.path}`, d.path, d.path));
        continue;
      }
      const typeBits = d.type === 'b' ? S_IFBLK : d.type === 'p' ? S_IFIFO : S_IFCHR;
      ops.push(
        op(
          Op.MKNOD_IN_ROOT,
          `create device ${d.path}`,
          d.path,
          typeBits | ((d.fileMode ?? 0o666) & 0o7777),
          d.major ?? 0,
          d.minor ?? 0,
          d.uid ?? 0,
          d.gid ?? 0,
        ),
      );
    }
    const links: [string, string][] = [
      ['/proc/self/fd', '/dev/fd'],
      ['/proc/self/fd/0', '/dev/stdin'],
      ['/proc/self/fd/1', '/dev/stdout'],
      ['/proc/self/fd/2', '/dev/stderr'],
    ];
    // as runc: only where the kernel has /proc/kcore (CONFIG_PROC_KCORE), never a dangling link
    if (mounts.some((m) => m.destination === '/proc') && hostHasKcore()) links.push(['/proc/kcore', '/dev/core']);
    if (hasPts) links.push(['pts/ptmx', '/dev/ptmx']);
    for (const [target, link] of links) ops.push(op(Op.SYMLINK_IN_ROOT, `symlink ${link} -> ${target}`, target, link));
  }
  void rootfs;
  return ops;
}

let kcore: boolean | undefined;
function hostHasKcore(): boolean {
  if (kcore === undefined) {
    try {
      statSync('/proc/kcore');
      kcore = true;
    } catch {
      kcore = false;
    }
  }
  return kcore;
}

function recursiveAttrOps(o: ParsedMountOptions, dest: string): PlanOp[] {
  const { set, clear } = o.recursive;
  if (set === 0 && clear === 0) return [];
  return [op(Op.MOUNT_SETATTR_IN_ROOT, `set recursive mount options on ${dest}`, dest, set, clear)];
}

function cgroupMountOps(input: CreatePlanInput, dest: string, flags: number, field: string): PlanOp[] {
  const ops: PlanOp[] = [];
  const cgroupNs = nsOf(input.spec, 'cgroup');
  const hier = input.cgroupHierarchies;
  if (hier.length === 0) fail(field, 'this host has no cgroup hierarchy to mount', 'unavailable');
  const base = flags & (MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC | MS.RELATIME);
  const single = hier.length === 1 && hier[0]!.dir === '';
  if (!single) {
    // v1 and hybrid: a tmpfs holding one directory per hierarchy, like the host.
    ops.push(
      op(
        Op.MOUNT_IN_ROOT,
        `mount tmpfs for cgroups on ${dest}`,
        'tmpfs',
        dest,
        'tmpfs',
        MS.NOSUID | MS.NODEV | MS.NOEXEC,
        'mode=755',
        'dir',
        0,
        0,
      ),
    );
  }
  // Binds of the host's directories, on a v1 or hybrid host one per
  // hierarchy: one recursive mount_setattr over all of them where the kernel
  // has it, instead of a remount each (ten fewer mount calls on our hosts).
  const oneSetattr = !cgroupNs && !single && !!input.host.mountSetattr;
  for (const h of hier) {
    const target = h.dir ? `${dest}/${h.dir}` : dest;
    if (cgroupNs) {
      ops.push(
        op(
          Op.MOUNT_IN_ROOT,
          `mount ${h.fstype} ${h.data || ''} on ${target}`.replace('  ', ' '),
          h.fstype,
          target,
          h.fstype,
          base,
          h.data,
          'dir',
          0,
          0,
        ),
      );
    } else {
      ops.push(
        op(
          Op.MOUNT_IN_ROOT,
          `bind cgroup ${h.hostPath} on ${target}`,
          h.hostPath,
          target,
          '',
          MS.BIND | MS.REC,
          '',
          'dir',
          oneSetattr ? 0 : bindRemountFlags(base | MS.BIND),
          0,
        ),
      );
    }
  }
  if (oneSetattr) {
    const attrs = mountAttrsOf(base);
    if (attrs.set !== 0 || attrs.clear !== 0)
      ops.push(
        op(Op.MOUNT_SETATTR_IN_ROOT, `set the cgroup mount options on ${dest} and below`, dest, attrs.set, attrs.clear),
      );
  } else if (!single && flags & MS.RDONLY) {
    ops.push(op(Op.READONLY_IN_ROOT, `make ${dest} read-only`, dest));
  }
  return ops;
}

/** mount(2) flags as mount_setattr(2) attributes to set (and the access-time field to clear). */
function mountAttrsOf(flags: number): { set: number; clear: number } {
  let set = 0;
  let clear = 0;
  if (flags & MS.RDONLY) set |= MOUNT_ATTR.RDONLY;
  if (flags & MS.NOSUID) set |= MOUNT_ATTR.NOSUID;
  if (flags & MS.NODEV) set |= MOUNT_ATTR.NODEV;
  if (flags & MS.NOEXEC) set |= MOUNT_ATTR.NOEXEC;
  if (flags & MS.RELATIME) {
    set |= MOUNT_ATTR.RELATIME;
    clear |= MOUNT_ATTR.ATIME_MASK;
  }
  return { set, clear };
}

/**
 * Whether compileChild's result depends on the container's pid: only the
 * state that createContainer and startContainer hooks and a seccomp notify
 * listener receive carries it. When it does not, the runtime compiles phase 2
 * while berth-init starts, instead of after the pid arrives.
 */
export function childPlanNeedsPid(spec: Spec): boolean {
  return !!(
    spec.hooks?.createContainer?.length ||
    spec.hooks?.startContainer?.length ||
    (spec.linux?.seccomp && usesNotify(spec.linux.seccomp))
  );
}

/** A mount namespace made for the container (not the runtime's, not one joined by path). */
export function hasOwnMountNs(spec: Spec): boolean {
  const mnt = nsOf(spec, 'mount');
  return !!mnt && !mnt.path;
}

/** The container process's operations; `pid` is its host pid, known once CLONE ran. */
export function compileChild(input: CreatePlanInput, pid: number): PlanOp[] {
  const { spec, rootfs } = input;
  const proc = spec.process;
  if (!proc) fail('process', 'required to create a container');
  const ops: PlanOp[] = [];
  const user = nsOf(spec, 'user');
  if (user) {
    // Become the namespace's root at once, so that nothing below runs as an
    // unmapped host root.
    ops.push(op(Op.SETRESGID, 'become root of the user namespace (gid)', 0));
    ops.push(op(Op.SETRESUID, 'become root of the user namespace (uid)', 0));
  }
  if (proc.oomScoreAdj !== undefined) {
    ops.push(
      op(Op.WRITE_PROC, `set oom_score_adj to ${proc.oomScoreAdj}`, 'self/oom_score_adj', String(proc.oomScoreAdj)),
    );
  }
  // Not the runtime's session keyring (runc: unless --no-new-keyring).
  if (input.newKeyring && input.host.keyrings) {
    ops.push(op(Op.SESSION_KEYRING, 'join a new session keyring', sessionKeyringName(input.id)));
  }
  // The first process joins the container's cgroups while this process does
  // its mounts (RELEASE). Wait for that as late as possible: before a new
  // cgroup namespace (its root is the cgroup we are in when it is made),
  // which must come before the cgroup mounts; else before the createRuntime
  // SYNC (the runtime's hooks may look at the container's cgroups). berth-init
  // refuses SYNC, HOOK, WAIT_START and EXEC before it.
  const cg = nsOf(spec, 'cgroup');
  const newCgroupNs = !!cg && !cg.path;
  const cgroupJoin = [op(Op.WAIT_CGROUPS, 'wait for the cgroup joins')];
  if (newCgroupNs) cgroupJoin.push(op(Op.UNSHARE, 'create cgroup namespace', CLONE.NEWCGROUP));
  const uts = nsOf(spec, 'uts');
  if (spec.hostname !== undefined) {
    if (!uts) fail('hostname', 'setting a hostname needs a uts namespace');
    ops.push(op(Op.SETHOSTNAME, `set hostname ${spec.hostname}`, spec.hostname));
  }
  if (spec.domainname !== undefined) {
    if (!uts) fail('domainname', 'setting a domainname needs a uts namespace');
    ops.push(op(Op.SETDOMAINNAME, `set domainname ${spec.domainname}`, spec.domainname));
  }

  const ownMountNs = hasOwnMountNs(spec);
  if (ownMountNs) {
    const propagation = PROPAGATION[spec.linux?.rootfsPropagation ?? 'rslave']!;
    // Stop mount events from flowing back to the host before touching anything
    // (rslave unless the config asks for another propagation, as runc does).
    ops.push(
      op(Op.MOUNT, `make / ${spec.linux?.rootfsPropagation ?? 'rslave'}`, '', '/', '', propagation | MS.REC, ''),
    );
    // As runc: pivot_root refuses a new root whose parent mount is shared, and
    // the bind below would propagate to the host. Shared now, it is made private.
    if ((propagation & MS.SHARED) !== 0 && input.rootfsParentMount) {
      ops.push(
        op(
          Op.MOUNT,
          `make ${input.rootfsParentMount} (the mount holding the rootfs) private`,
          '',
          input.rootfsParentMount,
          '',
          MS.PRIVATE,
          '',
        ),
      );
    }
    ops.push(op(Op.MOUNT, `bind rootfs ${rootfs} on itself`, rootfs, rootfs, '', MS.BIND | MS.REC, ''));
  } else {
    // The runtime's mount namespace (or one joined by path) is the
    // container's: what would change it for everyone is refused, the mounts
    // go under the rootfs (removed at delete, hostmounts.ts) and the root
    // switch is a chroot, as runc does.
    if (spec.linux?.rootfsPropagation)
      fail(
        'linux.rootfsPropagation',
        "needs a mount namespace of the container's own (it would change the host's mounts)",
      );
    // A read-only root remounts "/" after the chroot: it must be a mount of
    // the container's, not the one the rootfs directory sits on.
    if (spec.root?.readonly)
      ops.push(op(Op.MOUNT, `bind rootfs ${rootfs} on itself`, rootfs, rootfs, '', MS.BIND | MS.REC, ''));
  }
  ops.push(op(Op.SET_ROOT, `open rootfs ${rootfs}`, rootfs));
  // Without a new cgroup namespace a cgroup mount binds the host's
  // directories of the container, which need no membership.
  ops.push(...mountOps(input, newCgroupNs ? cgroupJoin : []));
  ops.push(op(Op.MKDIR_IN_ROOT, `create cwd ${proc.cwd}`, proc.cwd, 0o755));
  ops.push(...cgroupJoin);

  const creating = hookState(input, 'creating', pid);
  // The SYNC is there for the runtime's prestart and createRuntime hooks:
  // without any, it would only cost a round trip.
  if (spec.hooks?.prestart?.length || spec.hooks?.createRuntime?.length) {
    ops.push(op(Op.SYNC, 'run createRuntime hooks', 'createRuntime'));
  }
  ops.push(...hookOps(spec.hooks?.createContainer, 'createContainer', creating));

  if (!ownMountNs) ops.push(op(Op.CHROOT, `chroot to ${rootfs}`, rootfs));
  else if (input.noPivot) ops.push(op(Op.MOVE_ROOT, `move rootfs ${rootfs} to /`, rootfs));
  else ops.push(op(Op.PIVOT_ROOT, `pivot_root to ${rootfs}`, rootfs));
  ops.push(op(Op.SET_ROOT, 'open new root', '/'));

  for (const [k, v] of Object.entries(spec.linux?.sysctl ?? {})) {
    if (k.includes('/') || k.split('.').some((c) => c === '' || c === '..'))
      fail(`linux.sysctl.${k}`, 'not a sysctl name');
    ops.push(op(Op.WRITE_PROC, `set sysctl ${k}=${v}`, `sys/${k.replace(/\./g, '/')}`, v));
  }
  for (const p of spec.linux?.readonlyPaths ?? []) ops.push(op(Op.READONLY_IN_ROOT, `make ${p} read-only`, p));
  for (const p of spec.linux?.maskedPaths ?? []) ops.push(op(Op.MASK_IN_ROOT, `mask ${p}`, p));
  if (spec.root?.readonly)
    ops.push(op(Op.MOUNT, 'make the root filesystem read-only', '', '/', '', MS.BIND | MS.REMOUNT | MS.RDONLY, ''));

  if (proc.terminal)
    ops.push(op(Op.CONSOLE, 'set up console', proc.consoleSize?.height ?? 0, proc.consoleSize?.width ?? 0));
  else ops.push(op(Op.SETSID, 'create session'));

  const created = hookState(input, 'created', pid);
  const seccompState = spec.linux?.seccomp && usesNotify(spec.linux.seccomp) ? seccompListenerState(input, pid) : '';
  ops.push(
    ...processOps(proc, spec, seccompState, input.host, {
      lateHooks: hookOps(spec.hooks?.startContainer, 'startContainer', created),
      waitStart: true,
      preserveFds: input.preserveFds,
      rootfs,
      inUserNs: !!user,
    }),
  );
  return ops;
}

export interface ExecPlanInput {
  /** The container's config (its namespaces, seccomp, AppArmor policy). */
  spec: Spec;
  id: string;
  bundle: string;
  rootfs: string;
  initPid: number;
  process: Process;
  parentMode: 'exit' | 'wait' | 'wait-tty';
  consoleSocket?: string;
  preserveFds: number;
  /** Join the container's session keyring (false: it was created with --no-new-keyring). */
  newKeyring: boolean;
  host: HostFacts;
}

/** `exec`: join every namespace of the running container, then run a process. */
export function compileExecParent(input: ExecPlanInput): PlanOp[] {
  const ops: PlanOp[] = [op(Op.PARENT_MODE, `parent mode ${input.parentMode}`, input.parentMode)];
  if (input.consoleSocket)
    ops.push(op(Op.OPEN_CONSOLE_SOCKET, `connect to console socket ${input.consoleSocket}`, input.consoleSocket));
  const seccomp = input.spec.linux?.seccomp;
  if (seccomp && usesNotify(seccomp) && seccomp.listenerPath) {
    ops.push(op(Op.OPEN_SECCOMP_LISTENER, `connect to seccomp listener ${seccomp.listenerPath}`, seccomp.listenerPath));
  }
  const namespaces = input.spec.linux?.namespaces ?? [];
  for (const type of JOIN_ORDER) {
    if (!namespaces.some((n) => n.type === type)) continue;
    const path = `/proc/${input.initPid}/ns/${NAMESPACE_PROC_NAMES[type]}`;
    ops.push(op(Op.SETNS, `join ${type} namespace of the container`, path, NS_FLAG[type]));
  }
  // The cgroup join is the runtime's (cgroup.procs is not visible from the
  // container's mount namespace, which the first process has joined by now):
  // it happens before the process is given its phase 2.
  ops.push(op(Op.CLONE, 'create the exec process', 0));
  return ops;
}

export function compileExecChild(input: ExecPlanInput, pid: number): PlanOp[] {
  const proc = input.process;
  const ops: PlanOp[] = [];
  // The container chrooted in a mount namespace it shares: so must we.
  if (!hasOwnMountNs(input.spec)) ops.push(op(Op.CHROOT_PROCESS_ROOT, "chroot to the container's root", input.initPid));
  if (proc.oomScoreAdj !== undefined) {
    ops.push(
      op(Op.WRITE_PROC, `set oom_score_adj to ${proc.oomScoreAdj}`, 'self/oom_score_adj', String(proc.oomScoreAdj)),
    );
  }
  // The keyring the container's first process made (searchable by its owner), by name.
  if (input.newKeyring && input.host.keyrings) {
    ops.push(op(Op.SESSION_KEYRING, 'join the container session keyring', sessionKeyringName(input.id)));
  }
  if (proc.terminal)
    ops.push(op(Op.CONSOLE, 'set up console', proc.consoleSize?.height ?? 0, proc.consoleSize?.width ?? 0));
  const seccompState =
    input.spec.linux?.seccomp && usesNotify(input.spec.linux.seccomp)
      ? JSON.stringify({
          ociVersion: input.spec.ociVersion,
          fds: ['seccompFd'],
          pid,
          metadata: input.spec.linux.seccomp.listenerMetadata ?? '',
          state: JSON.parse(hookState(input, 'running', input.initPid)) as unknown,
        })
      : '';
  ops.push(
    ...processOps(proc, input.spec, seccompState, input.host, {
      lateHooks: [],
      waitStart: false,
      preserveFds: input.preserveFds,
      rootfs: input.rootfs,
      inUserNs: input.spec.linux?.namespaces?.some((n) => n.type === 'user') ?? false,
    }),
  );
  return ops;
}
