// The config.json that `berth-runc spec` writes: the same example bundle that
// `runc spec` writes (runc 1.1), so that tutorials written for runc work
// unchanged, with two deliberate differences: the hostname is "berth", and
// ociVersion is the spec version Berth implements (runc 1.1 prints
// "1.0.2-dev"). Keys are built in the order runc prints them, so the JSON
// lines up with runc's output line for line.

import { statfsSync } from 'node:fs';
import type { LinuxNamespace, Mount, Spec } from './types.js';

/** The runtime-spec version Berth implements and writes. */
export const OCI_VERSION = '1.2.0';

export interface DefaultSpecOptions {
  /** The `--rootless` variant: a user namespace mapping the caller, no network namespace, no cgroup settings. */
  rootless?: boolean;
  /** Host uid/gid mapped to root in the rootless variant; default the effective ids of this process. */
  uid?: number;
  gid?: number;
  /**
   * Add a cgroup namespace. runc does when the host is pure cgroup v2, and so
   * do we by default; pass a boolean to decide regardless of the host.
   */
  cgroupNamespace?: boolean;
}

const CGROUP2_SUPER_MAGIC = 0x63677270;

/** True when /sys/fs/cgroup is a cgroup2 filesystem (no v1 or hybrid layout). */
export function isCgroup2Unified(): boolean {
  try {
    return statfsSync('/sys/fs/cgroup').type === CGROUP2_SUPER_MAGIC;
  } catch {
    return false;
  }
}

/** The /proc paths runc's example and Docker's default both make read-only. */
export const READONLY_PROC_PATHS: readonly string[] = [
  '/proc/bus',
  '/proc/fs',
  '/proc/irq',
  '/proc/sys',
  '/proc/sysrq-trigger',
];

const DEFAULT_CAPS = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'] as const;

/** A mount every field of which is set (what both runtime-spec readers, Berth's and the daemon's, take). */
export interface KernelMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

/** The kernel filesystems by name; /proc has no options of its own. */
export type KernelMounts = { proc: Omit<KernelMount, 'options'> } & Record<
  'dev' | 'devpts' | 'shm' | 'mqueue' | 'sys' | 'cgroup',
  KernelMount
>;

const NOSUID_NOEXEC_NODEV = ['nosuid', 'noexec', 'nodev'];

/**
 * The kernel filesystems of a Linux container, as runc's example spec and
 * Docker's default spec both mount them (each picks its order, and Docker
 * gives /proc the options runc's example leaves out): /sys and its cgroup
 * tree read-only unless `readOnlySys` is false (Docker's --privileged), and
 * /dev/shm of `shmSize` (a tmpfs size= value).
 */
export function kernelMounts(opts: { readOnlySys?: boolean; shmSize?: string } = {}): KernelMounts {
  const sys = opts.readOnlySys === false ? 'rw' : 'ro';
  return {
    proc: { destination: '/proc', type: 'proc', source: 'proc' },
    dev: {
      destination: '/dev',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
    },
    devpts: {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    shm: {
      destination: '/dev/shm',
      type: 'tmpfs',
      source: 'shm',
      options: [...NOSUID_NOEXEC_NODEV, 'mode=1777', `size=${opts.shmSize ?? '65536k'}`],
    },
    mqueue: { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: [...NOSUID_NOEXEC_NODEV] },
    sys: { destination: '/sys', type: 'sysfs', source: 'sysfs', options: [...NOSUID_NOEXEC_NODEV, sys] },
    cgroup: {
      destination: '/sys/fs/cgroup',
      type: 'cgroup',
      source: 'cgroup',
      options: [...NOSUID_NOEXEC_NODEV, 'relatime', sys],
    },
  };
}

/** runc's example mounts, in its order. */
function defaultMounts(): Mount[] {
  const m = kernelMounts();
  return [m.proc, m.dev, m.devpts, m.shm, m.mqueue, m.sys, m.cgroup];
}

/** The example config.json; a fresh object on every call. */
export function defaultSpec(opts: DefaultSpecOptions = {}): Spec {
  const namespaces: LinuxNamespace[] = [
    { type: 'pid' },
    { type: 'network' },
    { type: 'ipc' },
    { type: 'uts' },
    { type: 'mount' },
  ];
  if (opts.cgroupNamespace ?? isCgroup2Unified()) namespaces.push({ type: 'cgroup' });

  const spec: Spec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: ['sh'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
      cwd: '/',
      capabilities: {
        bounding: [...DEFAULT_CAPS],
        effective: [...DEFAULT_CAPS],
        permitted: [...DEFAULT_CAPS],
        ambient: [...DEFAULT_CAPS],
      },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'berth',
    mounts: defaultMounts(),
    linux: {
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      namespaces,
      maskedPaths: [
        '/proc/acpi',
        '/proc/asound',
        '/proc/kcore',
        '/proc/keys',
        '/proc/latency_stats',
        '/proc/timer_list',
        '/proc/timer_stats',
        '/proc/sched_debug',
        '/sys/firmware',
        '/proc/scsi',
      ],
      readonlyPaths: [...READONLY_PROC_PATHS],
    },
  };
  if (opts.rootless) toRootless(spec, opts.uid ?? process.geteuid?.() ?? 0, opts.gid ?? process.getegid?.() ?? 0);
  return spec;
}

/**
 * runc's --rootless rewrite: a user namespace that maps the caller to root, no
 * network namespace (an unprivileged user could not connect it anywhere), /sys
 * bound from the host (sysfs cannot be mounted from a user namespace that does
 * not own the network namespace), no uid=/gid= mount options (gid 5 is not
 * mapped), and no cgroup resources (an unprivileged user usually has no
 * cgroup to write to).
 */
function toRootless(spec: Spec, uid: number, gid: number): void {
  const linux = spec.linux!;
  const namespaces = (linux.namespaces ?? []).filter((n) => n.type !== 'network' && n.type !== 'user');
  namespaces.push({ type: 'user' });
  // Rebuilt so that the mappings come first, where runc prints them.
  spec.linux = {
    uidMappings: [{ containerID: 0, hostID: uid, size: 1 }],
    gidMappings: [{ containerID: 0, hostID: gid, size: 1 }],
    namespaces,
    maskedPaths: linux.maskedPaths,
    readonlyPaths: linux.readonlyPaths,
  };
  spec.mounts = (spec.mounts ?? []).map((m) => {
    if (m.destination.replace(/\/+$/, '') === '/sys') {
      return {
        destination: '/sys',
        type: 'none',
        source: '/sys',
        options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'],
      };
    }
    if (!m.options) return m;
    return { ...m, options: m.options.filter((o) => !o.startsWith('uid=') && !o.startsWith('gid=')) };
  });
}
