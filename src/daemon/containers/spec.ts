// The OCI runtime spec of a container, from its (image-merged) Config and
// HostConfig, with Docker's defaults: the mounts every container gets, the
// capability set, masked and read-only /proc paths, the device cgroup rules,
// namespaces by pid/ipc/uts/network mode, resources, ulimits, sysctls,
// seccomp and no-new-privileges. What runc (or berth-runc) receives from
// containerd is exactly this document.

import type { ContainerRecord } from './record.js';
import { capabilities } from './caps.js';
import { badRequest } from '../http/errors.js';
import { seccompFor } from './seccomp.js';
import { hostDevices } from './devices.js';
import { kernelMounts, READONLY_PROC_PATHS } from '../../runtime/spec/defaults.js';

export type Spec = Record<string, unknown> & {
  process: SpecProcess;
  mounts: SpecMount[];
  linux: Record<string, unknown>;
};
export interface SpecMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}
export interface SpecProcess {
  terminal: boolean;
  user: { uid: number; gid: number; additionalGids?: number[] };
  args: string[];
  env: string[];
  cwd: string;
  capabilities?: Record<string, string[]>;
  rlimits?: { type: string; soft: number; hard: number }[];
  noNewPrivileges?: boolean;
  oomScoreAdj?: number;
}

export const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Docker's default masked paths (inspect shows them as HostConfig.MaskedPaths when the create gave none). */
export const MASKED: readonly string[] = [
  '/proc/asound',
  '/proc/acpi',
  '/proc/interrupts',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];
const DEFAULT_SHM = 64 * 1024 * 1024;

/** Docker's default device cgroup: nothing but the usual character devices (and mknod of anything). */
const DEVICE_RULES = [
  { allow: false, access: 'rwm' },
  { allow: true, type: 'c', access: 'm' },
  { allow: true, type: 'b', access: 'm' },
  ...[
    [1, 3],
    [1, 5],
    [1, 7],
    [1, 8],
    [1, 9],
    [5, 0],
    [5, 1],
    [5, 2],
    [10, 200],
  ].map(([major, minor]) => ({ allow: true, type: 'c', major, minor, access: 'rwm' })),
  { allow: true, type: 'c', major: 136, access: 'rwm' },
];

/** Sysctls a container may set: those its own namespaces scope (Docker's rule). */
function checkSysctl(name: string, hostNet: boolean, ipcHost: boolean): void {
  const ipc =
    /^kernel\.(msgmax|msgmnb|msgmni|sem|shmall|shmmax|shmmni|shm_rmid_forced)$/.test(name) ||
    name.startsWith('fs.mqueue.');
  if (ipc) {
    if (ipcHost) throw badRequest(`sysctl "${name}" is not allowed when joining the host's IPC namespace`, 'Sysctls');
    return;
  }
  if (name.startsWith('net.')) {
    if (hostNet) throw badRequest(`sysctl "${name}" is not allowed in host network mode`, 'Sysctls');
    return;
  }
  throw badRequest(`sysctl "${name}" is not allowed: not namespaced`, 'Sysctls');
}

const RLIMITS = [
  'core',
  'cpu',
  'data',
  'fsize',
  'locks',
  'memlock',
  'msgqueue',
  'nice',
  'nofile',
  'nproc',
  'rss',
  'rtprio',
  'rttime',
  'sigpending',
  'stack',
  'as',
];

function checkUlimit(u: { Name: string; Soft: number; Hard: number }): void {
  if (!RLIMITS.includes(u.Name)) throw badRequest(`invalid ulimit type: ${u.Name}`, 'Ulimits');
  if (u.Soft > u.Hard)
    throw badRequest(`ulimit soft limit must be less than or equal to hard limit: ${u.Soft} > ${u.Hard}`, 'Ulimits');
}

/** The checks of HostConfig that need no image: run at create, so a bad container is never made. */
export function validateHostConfig(h: ContainerRecord['HostConfig']): void {
  const hostNet = h.NetworkMode === 'host';
  for (const k of Object.keys(h.Sysctls ?? {})) checkSysctl(k, hostNet, h.IpcMode === 'host');
  for (const u of h.Ulimits ?? []) checkUlimit(u);
  if (h.NanoCpus && (h.CpuQuota || h.CpuPeriod))
    throw badRequest('conflicting options: Nano CPUs and CPU Period/Quota cannot both be set', 'NanoCpus');
}

/** The cgroup namespace a container gets: its HostConfig.CgroupnsMode, else dockerd's default for the hierarchy. */
export function cgroupnsMode(asked: string | undefined, cgroupV2: boolean): string {
  return asked || (cgroupV2 ? 'private' : 'host');
}

export interface SpecInputs {
  rec: ContainerRecord;
  user: { uid: number; gid: number; additionalGids: number[] };
  cgroupsPath: string;
  cgroupV2: boolean;
  /** Namespace paths of other containers (container:<id> modes), by kind. */
  joins: Partial<Record<'pid' | 'ipc' | 'network', string>>;
  /** The host path of docker-init, when --init. */
  initPath?: string;
}

export function buildSpec(inp: SpecInputs): Spec {
  const { rec } = inp;
  const c = rec.Config;
  const h = rec.HostConfig;
  const privileged = h.Privileged ?? false;
  const tty = c.Tty ?? false;
  const caps = capabilities(privileged, h.CapAdd ?? [], h.CapDrop ?? []);
  let args = [rec.Path, ...rec.Args];
  const kernel = kernelMounts({ readOnlySys: !privileged, shmSize: String(h.ShmSize || DEFAULT_SHM) });
  // Docker's order, and its options for /proc (runc's example gives none).
  const proc = { ...kernel.proc, options: ['nosuid', 'noexec', 'nodev'] };
  const mounts: SpecMount[] = [proc, kernel.dev, kernel.devpts, kernel.sys, kernel.cgroup, kernel.mqueue];
  const ipcMode = h.IpcMode || 'private';
  if (ipcMode !== 'host') {
    mounts.push(kernel.shm);
  } else {
    mounts.push({ destination: '/dev/shm', type: 'bind', source: '/dev/shm', options: ['rbind', 'rprivate'] });
  }
  for (const [dst, src] of [
    ['/etc/resolv.conf', rec.ResolvConfPath],
    ['/etc/hostname', rec.HostnamePath],
    ['/etc/hosts', rec.HostsPath],
  ] as const) {
    if (!rec.Mounts.some((m) => m.Destination === dst))
      mounts.push({ destination: dst, type: 'bind', source: src, options: ['rbind', 'rprivate'] });
  }
  for (const m of rec.Mounts) {
    if (m.Type === 'tmpfs') {
      mounts.push({
        destination: m.Destination,
        type: 'tmpfs',
        source: 'tmpfs',
        options: ['nosuid', 'nodev', 'noexec', ...(m.Options ?? [])],
      });
    } else {
      const prop = m.Propagation || 'rprivate';
      mounts.push({
        destination: m.Destination,
        type: 'bind',
        source: m.Source,
        options: ['rbind', prop, m.RW ? 'rw' : 'ro'],
      });
    }
  }
  if (inp.initPath) {
    mounts.push({
      destination: '/sbin/docker-init',
      type: 'bind',
      source: inp.initPath,
      options: ['rbind', 'ro', 'rprivate'],
    });
    args = ['/sbin/docker-init', '--', ...args];
  }

  const netMode = h.NetworkMode || 'default';
  const hostNet = netMode === 'host';
  const namespaces: { type: string; path?: string }[] = [{ type: 'mount' }];
  const pidMode = h.PidMode || '';
  if (pidMode.startsWith('container:')) namespaces.push({ type: 'pid', path: inp.joins.pid });
  else if (pidMode !== 'host') namespaces.push({ type: 'pid' });
  if (ipcMode.startsWith('container:')) namespaces.push({ type: 'ipc', path: inp.joins.ipc });
  else if (ipcMode !== 'host') namespaces.push({ type: 'ipc' });
  if ((h.UTSMode || '') !== 'host') namespaces.push({ type: 'uts' });
  // container:<id>, or host: berthd's own network namespace (the host's, unless berthd runs in another).
  if (inp.joins.network) namespaces.push({ type: 'network', path: inp.joins.network });
  else if (!hostNet) namespaces.push({ type: 'network' });
  // --cgroupns; unset: a private cgroup namespace where the hierarchy is v2 only, as Docker's default (v1: the host's).
  if (cgroupnsMode(h.CgroupnsMode, inp.cgroupV2) === 'private') namespaces.push({ type: 'cgroup' });

  const sysctl: Record<string, string> = {};
  for (const [k, v] of Object.entries(h.Sysctls ?? {})) {
    checkSysctl(k, hostNet, ipcMode === 'host');
    sysctl[k] = v;
  }
  const rlimits = [{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 1024 }];
  for (const u of h.Ulimits ?? []) {
    checkUlimit(u);
    const type = `RLIMIT_${u.Name.toUpperCase()}`;
    const i = rlimits.findIndex((r) => r.type === type);
    if (i >= 0) rlimits.splice(i, 1);
    rlimits.push({ type, soft: u.Soft, hard: u.Hard });
  }

  const sec = securityOpts(h.SecurityOpt ?? [], privileged, caps);
  const process: SpecProcess = {
    terminal: tty,
    user: {
      uid: inp.user.uid,
      gid: inp.user.gid,
      ...(inp.user.additionalGids.length ? { additionalGids: inp.user.additionalGids } : {}),
    },
    args,
    env: envOf(rec),
    cwd: c.WorkingDir || '/',
    capabilities: { bounding: caps, effective: caps, permitted: caps },
    rlimits,
    noNewPrivileges: sec.noNewPrivileges,
    ...(h.OomScoreAdj ? { oomScoreAdj: h.OomScoreAdj } : {}),
  };
  const asked = hostDevices(h.Devices ?? []);
  const linux: Record<string, unknown> = {
    namespaces,
    cgroupsPath: inp.cgroupsPath,
    ...(asked.devices.length ? { devices: asked.devices } : {}),
    resources: {
      devices: privileged ? [{ allow: true, access: 'rwm' }] : [...DEVICE_RULES, ...asked.rules],
      ...resources(rec),
    },
    ...(Object.keys(sysctl).length ? { sysctl } : {}),
    // a create's own lists (`--security-opt systempaths=unconfined` sends []) over Docker's defaults
    ...(privileged
      ? {}
      : { maskedPaths: [...(h.MaskedPaths ?? MASKED)], readonlyPaths: [...(h.ReadonlyPaths ?? READONLY_PROC_PATHS)] }),
    ...(sec.seccomp ? { seccomp: sec.seccomp } : {}),
  };
  return {
    ociVersion: '1.0.2-dev',
    process,
    root: { path: 'rootfs', readonly: h.ReadonlyRootfs ?? false },
    hostname: c.Hostname || rec.Id.slice(0, 12),
    ...(c.Domainname ? { domainname: c.Domainname } : {}),
    mounts,
    linux,
  };
}

export function envOf(rec: ContainerRecord): string[] {
  const env = [...(rec.Config.Env ?? [])];
  if (!env.some((e) => e.startsWith('PATH='))) env.unshift(DEFAULT_PATH);
  if (!env.some((e) => e.startsWith('HOSTNAME=')))
    env.unshift(`HOSTNAME=${rec.Config.Hostname || rec.Id.slice(0, 12)}`);
  if (rec.Config.Tty && !env.some((e) => e.startsWith('TERM='))) env.push('TERM=xterm');
  return env;
}

/** The OCI `linux.resources` of the record's limits (devices apart): the spec's at start, `docker update`'s for a running task. */
export function resources(rec: ContainerRecord): Record<string, unknown> {
  const h = rec.HostConfig;
  const out: Record<string, unknown> = {};
  const memory: Record<string, number> = {};
  if (h.Memory) memory.limit = h.Memory;
  if (h.MemoryReservation) memory.reservation = h.MemoryReservation;
  if (h.MemorySwap) memory.swap = h.MemorySwap;
  else if (h.Memory) memory.swap = h.Memory * 2; // Docker: swap defaults to as much again as memory
  if (Object.keys(memory).length) out.memory = memory;
  const cpu: Record<string, number | string> = {};
  if (h.NanoCpus) {
    if (h.CpuQuota || h.CpuPeriod)
      throw badRequest('conflicting options: Nano CPUs and CPU Period/Quota cannot both be set', 'NanoCpus');
    cpu.period = 100000;
    cpu.quota = Math.round((h.NanoCpus * 100000) / 1e9);
  }
  if (h.CpuShares) cpu.shares = h.CpuShares;
  if (h.CpuPeriod) cpu.period = h.CpuPeriod;
  if (h.CpuQuota) cpu.quota = h.CpuQuota;
  if (h.CpusetCpus) cpu.cpus = h.CpusetCpus;
  if (h.CpusetMems) cpu.mems = h.CpusetMems;
  if (Object.keys(cpu).length) out.cpu = cpu;
  if (h.PidsLimit && h.PidsLimit > 0) out.pids = { limit: h.PidsLimit };
  if (h.BlkioWeight) out.blockIO = { weight: h.BlkioWeight };
  return out;
}

/** --security-opt: no-new-privileges[:true|=true], seccomp=unconfined|<profile JSON>, label=..., apparmor=... */
export function securityOpts(
  opts: string[],
  privileged: boolean,
  caps: string[],
): { noNewPrivileges: boolean; seccomp?: Record<string, unknown> } {
  let nnp = false;
  let profile: string | undefined;
  opts.forEach((o, i) => {
    const sep = o.search(/[=:]/);
    const key = sep < 0 ? o : o.slice(0, sep);
    const value = sep < 0 ? '' : o.slice(sep + 1);
    if (key === 'no-new-privileges') {
      if (value && value !== 'true' && value !== 'false')
        throw badRequest(`invalid --security-opt ${i + 1}: "${o}"`, 'SecurityOpt');
      nnp = value !== 'false';
    } else if (key === 'seccomp') {
      profile = value;
    } else if (key === 'label' || key === 'apparmor') {
      // No SELinux or AppArmor on the hosts berthd runs on: accepted, nothing to apply.
    } else {
      throw badRequest(`invalid --security-opt ${i + 1}: "${o}"`, 'SecurityOpt');
    }
  });
  if (privileged || profile === 'unconfined') return { noNewPrivileges: nnp };
  return { noNewPrivileges: nnp, seccomp: seccompFor(profile, caps) };
}
