// The rules of config.json that relate one field to another, or that a schema
// cannot say (absolute paths, namespace requirements, overlapping id ranges).
// They follow runc where runc is stricter or looser than the spec's text, so
// that a config runc accepts is accepted here and vice versa; the places where
// we differ say why.
//
// Each rule throws through `fail(field, message)`; `field` is a config.json
// path such as "linux.namespaces[2].path".

import { posix } from 'node:path';
import { fieldKey, type Fail } from './field.js';
import { checkResourceRanges } from './ranges.js';
import { NAMESPACE_PROC_NAMES, SECCOMP_ERRNO_ACTIONS } from './names.js';
import { checkSysctl } from './sysctl.js';
import { checkExecSize } from './execsize.js';
import type { Hook, Linux, LinuxIDMapping, NamespaceType, Process, Spec } from './types.js';

/** Runs every rule; may normalise the spec in place (relative mount destinations). */
export function checkSpec(spec: Spec, fail: Fail): void {
  checkVersion(spec, fail);
  if (!spec.root) fail('root', 'is required');
  if (spec.root.path === '') fail('root.path', 'must not be empty');
  noNul(spec.root.path, 'root.path', fail);
  if (!spec.process) fail('process', 'is required');
  checkProcess(spec.process, fail);
  const ns = namespaceSet(spec.linux, fail);
  checkMounts(spec, ns, fail);
  checkHostnames(spec, ns, fail);
  checkHooks(spec, fail);
  if (spec.linux) checkLinux(spec.linux, ns, fail);
}

// ---------------------------------------------------------------- helpers

const isAbs = (p: string) => p.startsWith('/');

function noNul(value: string, field: string, fail: Fail): void {
  if (value.includes('\0')) fail(field, 'must not contain a NUL byte');
}

function absolute(value: string, field: string, fail: Fail): void {
  noNul(value, field, fail);
  if (!isAbs(value)) fail(field, `must be an absolute path, got ${JSON.stringify(value)}`);
}

/** "KEY=value" with a non-empty key, as execve and runc require. */
function checkEnv(env: string[] | undefined, field: string, fail: Fail): void {
  env?.forEach((e, i) => {
    noNul(e, `${field}[${i}]`, fail);
    const eq = e.indexOf('=');
    if (eq < 0) fail(`${field}[${i}]`, `must be "KEY=value", got ${JSON.stringify(e)}`);
    if (eq === 0) fail(`${field}[${i}]`, `has an empty variable name: ${JSON.stringify(e)}`);
  });
}

/** A cpuset-style list: "0-3,7". The empty string means "not set". */
export function isCpuList(s: string): boolean {
  if (s === '') return true;
  for (const part of s.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) return false;
    if (m[2] !== undefined && Number(m[2]) < Number(m[1])) return false;
  }
  return true;
}

function cpuList(value: string | undefined, field: string, fail: Fail): void {
  if (value !== undefined && !isCpuList(value))
    fail(field, `must be a list such as "0-3,7", got ${JSON.stringify(value)}`);
}

// ---------------------------------------------------------------- top level

function checkVersion(spec: Spec, fail: Fail): void {
  // SemVer, leniently: runc reads no version at all, and "1.0" from an old
  // generator should not stop a container that runc would run.
  const m = /^(\d+)(?:\.\d+){0,2}(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/.exec(spec.ociVersion);
  if (!m) fail('ociVersion', `must be a SemVer version such as "1.2.0", got ${JSON.stringify(spec.ociVersion)}`);
  if (m[1] !== '1') fail('ociVersion', `unsupported version ${JSON.stringify(spec.ociVersion)} (Berth supports 1.x)`);
}

/** The rules of one process object; `at` prefixes field names ("process." in config.json, "" in a process.json). */
export function checkProcess(p: Process, failAt: Fail, at = 'process.'): void {
  const fail: Fail = (field, message) => failAt(at + field.replace(/^process\./, ''), message);
  if (!p.args || p.args.length === 0) fail('process.args', 'must be a non-empty array of strings');
  if (p.args[0] === '') fail('process.args[0]', 'must not be empty');
  p.args.forEach((a, i) => noNul(a, `process.args[${i}]`, fail));
  if (p.cwd === '') fail('process.cwd', 'must not be empty');
  absolute(p.cwd, 'process.cwd', fail);
  checkEnv(p.env, 'process.env', fail);
  checkExecSize(p, fail);
  if (p.user.umask !== undefined && p.user.umask > 0o777) fail('process.user.umask', 'must be from 0 to 0777 (511)');
  const seen = new Map<string, number>();
  p.rlimits?.forEach((r, i) => {
    const f = `process.rlimits[${i}]`;
    const prev = seen.get(r.type);
    if (prev !== undefined) fail(`${f}.type`, `duplicate rlimit ${r.type} (also process.rlimits[${prev}])`);
    seen.set(r.type, i);
    if (r.soft > r.hard) fail(`${f}.soft`, `soft limit ${r.soft} exceeds hard limit ${r.hard}`);
  });
  const s = p.scheduler;
  if (s) {
    if (
      (s.policy === 'SCHED_OTHER' || s.policy === 'SCHED_BATCH') &&
      s.nice !== undefined &&
      (s.nice < -20 || s.nice > 19)
    ) {
      fail('process.scheduler.nice', `must be from -20 to 19 with ${s.policy}`);
    }
    if (s.priority && s.policy !== 'SCHED_FIFO' && s.policy !== 'SCHED_RR') {
      fail('process.scheduler.priority', 'can only be set with SCHED_FIFO or SCHED_RR');
    }
    if (s.policy !== 'SCHED_DEADLINE' && (s.runtime || s.deadline || s.period)) {
      fail('process.scheduler', 'runtime, deadline and period can only be set with SCHED_DEADLINE');
    }
  }
  cpuList(p.execCPUAffinity?.initial, 'process.execCPUAffinity.initial', fail);
  cpuList(p.execCPUAffinity?.final, 'process.execCPUAffinity.final', fail);
}

// ---------------------------------------------------------------- namespaces

interface NsInfo {
  /** Types listed in linux.namespaces (created or joined). */
  has: Set<NamespaceType>;
  /** Types joined by path. */
  joined: Map<NamespaceType, string>;
}

/** /proc/<pid>/ns/<name> (or task/<tid>/ns/...): the name tells the type. */
const PROC_NS = /^\/proc\/(?:self|thread-self|\d+)(?:\/task\/\d+)?\/ns\/([a-z_]+)$/;

function namespaceSet(linux: Linux | undefined, fail: Fail): NsInfo {
  const info: NsInfo = { has: new Set(), joined: new Map() };
  const firstAt = new Map<NamespaceType, number>();
  linux?.namespaces?.forEach((ns, i) => {
    const f = `linux.namespaces[${i}]`;
    const prev = firstAt.get(ns.type);
    if (prev !== undefined) fail(`${f}.type`, `duplicate namespace "${ns.type}" (also linux.namespaces[${prev}])`);
    firstAt.set(ns.type, i);
    info.has.add(ns.type);
    if (ns.path !== undefined && ns.path !== '') {
      absolute(ns.path, `${f}.path`, fail);
      const m = PROC_NS.exec(posix.normalize(ns.path));
      if (m) {
        const name = m[1]!.replace(/_for_children$/, '');
        if (name !== NAMESPACE_PROC_NAMES[ns.type]) {
          fail(`${f}.path`, `${ns.path} is a "${name}" namespace, not "${ns.type}"`);
        }
      }
      info.joined.set(ns.type, ns.path);
    }
  });
  return info;
}

function checkIdMappings(maps: LinuxIDMapping[], field: string, fail: Fail): void {
  // The kernel's limit on lines in uid_map/gid_map (since Linux 4.15).
  if (maps.length > 340) fail(field, `has ${maps.length} entries; the kernel accepts at most 340`);
  const LIMIT = 2 ** 32;
  maps.forEach((m, i) => {
    const f = `${field}[${i}]`;
    if (m.size === 0) fail(`${f}.size`, 'must be at least 1');
    if (m.containerID + m.size > LIMIT) fail(f, 'containerID + size exceeds 2^32');
    if (m.hostID + m.size > LIMIT) fail(f, 'hostID + size exceeds 2^32');
    for (let j = 0; j < i; j++) {
      const o = maps[j]!;
      if (m.containerID < o.containerID + o.size && o.containerID < m.containerID + m.size) {
        fail(`${f}.containerID`, `range overlaps ${field}[${j}]`);
      }
      if (m.hostID < o.hostID + o.size && o.hostID < m.hostID + m.size) {
        fail(`${f}.hostID`, `range overlaps ${field}[${j}]`);
      }
    }
  });
}

// ---------------------------------------------------------------- mounts, hostname, hooks

function checkMounts(spec: Spec, ns: NsInfo, fail: Fail): void {
  spec.mounts?.forEach((m, i) => {
    const f = `mounts[${i}]`;
    if (m.destination === '') fail(`${f}.destination`, 'must not be empty');
    noNul(m.destination, `${f}.destination`, fail);
    if (m.source !== undefined) noNul(m.source, `${f}.source`, fail);
    if (m.type !== undefined) noNul(m.type, `${f}.type`, fail);
    m.options?.forEach((o, j) => noNul(o, `${f}.options[${j}]`, fail));
    // The spec wants absolute destinations; runc takes relative ones as relative
    // to "/" (with a deprecation warning). We do the same, once, here.
    if (!isAbs(m.destination)) m.destination = posix.resolve('/', m.destination);
    if (m.uidMappings || m.gidMappings) {
      if (!m.uidMappings || !m.gidMappings) {
        fail(
          m.uidMappings ? `${f}.gidMappings` : `${f}.uidMappings`,
          'is required: an id-mapped mount needs both uidMappings and gidMappings',
        );
      }
      const bind = m.type === 'bind' || (m.options ?? []).some((o) => o === 'bind' || o === 'rbind');
      if (!bind) fail(`${f}.uidMappings`, 'id-mapped mounts are only supported for bind mounts');
      checkIdMappings(m.uidMappings, `${f}.uidMappings`, fail);
      checkIdMappings(m.gidMappings, `${f}.gidMappings`, fail);
    }
  });
}

function checkHostnames(spec: Spec, ns: NsInfo, fail: Fail): void {
  for (const name of ['hostname', 'domainname'] as const) {
    const v = spec[name];
    if (v === undefined || v === '') continue;
    // Like runc, a joined UTS namespace is enough: CRI containers join their pod's.
    if (!ns.has.has('uts'))
      fail(name, `cannot be set without a UTS namespace (add {"type": "uts"} to linux.namespaces)`);
    if (Buffer.byteLength(v) > 64) fail(name, 'must be at most 64 bytes long');
    noNul(v, name, fail);
  }
}

function checkHooks(spec: Spec, fail: Fail): void {
  if (!spec.hooks) return;
  for (const [phase, list] of Object.entries(spec.hooks) as [string, Hook[] | undefined][]) {
    list?.forEach((h, i) => {
      const f = `hooks.${phase}[${i}]`;
      absolute(h.path, `${f}.path`, fail);
      h.args?.forEach((a, j) => noNul(a, `${f}.args[${j}]`, fail));
      checkEnv(h.env, `${f}.env`, fail);
    });
  }
}

// ---------------------------------------------------------------- linux

function checkLinux(linux: Linux, ns: NsInfo, fail: Fail): void {
  // user namespace and id mappings
  const hasMaps = linux.uidMappings !== undefined || linux.gidMappings !== undefined;
  if (ns.has.has('user')) {
    if (!ns.joined.has('user')) {
      if (!linux.uidMappings) fail('linux.uidMappings', 'is required with a new user namespace');
      if (!linux.gidMappings) fail('linux.gidMappings', 'is required with a new user namespace');
    }
    // With a joined user namespace, mappings may be given too (containerd does);
    // they must then match the namespace's, which only the host can tell.
  } else if (hasMaps) {
    fail(
      linux.uidMappings ? 'linux.uidMappings' : 'linux.gidMappings',
      'needs a user namespace (add {"type": "user"} to linux.namespaces)',
    );
  }
  if (linux.uidMappings) checkIdMappings(linux.uidMappings, 'linux.uidMappings', fail);
  if (linux.gidMappings) checkIdMappings(linux.gidMappings, 'linux.gidMappings', fail);

  // time namespace
  if (linux.timeOffsets) {
    for (const [clock, off] of Object.entries(linux.timeOffsets)) {
      const f = fieldKey('linux.timeOffsets', clock);
      if (clock !== 'monotonic' && clock !== 'boottime')
        fail(f, `unknown clock "${clock}" (only "monotonic" and "boottime" have offsets)`);
      if (off && off.nanosecs !== undefined && off.nanosecs >= 1e9) fail(`${f}.nanosecs`, 'must be below 1000000000');
    }
    if (!ns.has.has('time'))
      fail('linux.timeOffsets', 'need a time namespace (add {"type": "time"} to linux.namespaces)');
    if (ns.joined.has('time')) fail('linux.timeOffsets', 'cannot be set when the time namespace is joined by path');
  }

  linux.devices?.forEach((d, i) => {
    const f = `linux.devices[${i}]`;
    absolute(d.path, `${f}.path`, fail);
    if (d.type !== 'p' && (d.major === undefined || d.minor === undefined)) {
      fail(d.major === undefined ? `${f}.major` : `${f}.minor`, `is required for a device of type "${d.type}"`);
    }
  });

  if (linux.cgroupsPath !== undefined) {
    noNul(linux.cgroupsPath, 'linux.cgroupsPath', fail);
    if (linux.cgroupsPath.split(/[/:]/).includes('..'))
      fail('linux.cgroupsPath', `must not contain "..": ${JSON.stringify(linux.cgroupsPath)}`);
  }
  if (linux.resources) checkResources(linux, fail);

  const closID = linux.intelRdt?.closID;
  if (closID !== undefined && (closID === '.' || closID === '..' || closID.includes('/'))) {
    fail('linux.intelRdt.closID', `invalid CLOS id ${JSON.stringify(closID)}`);
  }

  if (linux.sysctl) checkSysctl(linux.sysctl, ns.has, fail);
  if (linux.seccomp) checkSeccomp(linux, fail);

  for (const list of ['maskedPaths', 'readonlyPaths'] as const) {
    const paths = linux[list];
    if (!paths || paths.length === 0) continue;
    if (!ns.has.has('mount'))
      fail(`linux.${list}`, 'need a mount namespace (add {"type": "mount"} to linux.namespaces)');
    paths.forEach((p, i) => absolute(p, `linux.${list}[${i}]`, fail));
  }

  const mp = linux.memoryPolicy;
  if (mp) {
    cpuList(mp.nodes, 'linux.memoryPolicy.nodes', fail);
    const noNodes = mp.nodes === undefined || mp.nodes === '';
    if ((mp.mode === 'MPOL_DEFAULT' || mp.mode === 'MPOL_LOCAL') && !noNodes)
      fail('linux.memoryPolicy.nodes', `must be empty with ${mp.mode}`);
    if (mp.mode !== 'MPOL_DEFAULT' && mp.mode !== 'MPOL_LOCAL' && mp.mode !== 'MPOL_PREFERRED' && noNodes) {
      fail('linux.memoryPolicy.nodes', `is required with ${mp.mode}`);
    }
  }

  if (linux.netDevices && Object.keys(linux.netDevices).length > 0) {
    if (!ns.has.has('network'))
      fail('linux.netDevices', 'need a network namespace (add {"type": "network"} to linux.namespaces)');
    for (const [name, dev] of Object.entries(linux.netDevices)) {
      const f = fieldKey('linux.netDevices', name);
      if (!validIfName(name)) fail(f, `invalid network interface name ${JSON.stringify(name)}`);
      if (dev.name !== undefined && dev.name !== '' && !validIfName(dev.name))
        fail(`${f}.name`, `invalid network interface name ${JSON.stringify(dev.name)}`);
    }
  }
}

function validIfName(n: string): boolean {
  return n.length > 0 && Buffer.byteLength(n) < 16 && n !== '.' && n !== '..' && !/[/:\s\0]/.test(n);
}

function checkResources(linux: Linux, fail: Fail): void {
  const r = linux.resources!;
  r.devices?.forEach((d, i) => {
    const f = `linux.resources.devices[${i}].access`;
    // runc refuses a rule without access; so do we (a silent "rwm" would widen a deny rule's meaning less than expected)
    if (d.access === undefined || d.access === '') fail(f, 'is required: some of "rwm"');
    if (!/^[rwm]{1,3}$/.test(d.access) || new Set(d.access).size !== d.access.length) {
      fail(f, `must be letters from "rwm", each at most once, got ${JSON.stringify(d.access)}`);
    }
  });
  const m = r.memory;
  if (m) {
    for (const k of ['limit', 'reservation', 'swap'] as const) {
      const v = m[k];
      if (v !== undefined && v < -1) fail(`linux.resources.memory.${k}`, 'must be -1 (unlimited) or a number of bytes');
    }
    if (m.limit !== undefined && m.swap !== undefined && m.limit > 0 && m.swap > 0 && m.swap < m.limit) {
      fail(
        'linux.resources.memory.swap',
        `memory+swap limit (${m.swap}) must be at least the memory limit (${m.limit})`,
      );
    }
    if (m.swappiness !== undefined && m.swappiness > 100)
      fail('linux.resources.memory.swappiness', 'must be from 0 to 100');
  }
  checkResourceRanges(r, fail);
  cpuList(r.cpu?.cpus, 'linux.resources.cpu.cpus', fail);
  cpuList(r.cpu?.mems, 'linux.resources.cpu.mems', fail);
  r.hugepageLimits?.forEach((h, i) => {
    if (!/^\d+(?:KB|MB|GB|TB|PB)$/.test(h.pageSize)) {
      fail(
        `linux.resources.hugepageLimits[${i}].pageSize`,
        `must be a size such as "2MB" or "1GB", got ${JSON.stringify(h.pageSize)}`,
      );
    }
  });
  r.network?.priorities?.forEach((p, i) => {
    if (p.name === '') fail(`linux.resources.network.priorities[${i}].name`, 'must not be empty');
  });
  for (const k of Object.keys(r.unified ?? {})) {
    // A key names one file of the container's cgroup directory: "memory.high".
    if (!/^[A-Za-z0-9_]+\.[A-Za-z0-9_.]+$/.test(k)) {
      fail(
        fieldKey('linux.resources.unified', k),
        `must name a cgroup file such as "memory.high", got ${JSON.stringify(k)}`,
      );
    }
  }
}

function checkSeccomp(linux: Linux, fail: Fail): void {
  const sc = linux.seccomp!;
  const errnoOk = (a: string) => (SECCOMP_ERRNO_ACTIONS as readonly string[]).includes(a);
  if (sc.defaultAction === 'SCMP_ACT_NOTIFY')
    fail('linux.seccomp.defaultAction', 'SCMP_ACT_NOTIFY cannot be the default action');
  if (sc.defaultErrnoRet !== undefined && !errnoOk(sc.defaultAction)) {
    fail(
      'linux.seccomp.defaultErrnoRet',
      `cannot be used with ${sc.defaultAction} (only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take an errno)`,
    );
  }
  let notify = false;
  sc.syscalls?.forEach((s, i) => {
    const f = `linux.seccomp.syscalls[${i}]`;
    if (s.names.length === 0) fail(`${f}.names`, 'must be a non-empty array of syscall names');
    s.names.forEach((n, j) => {
      if (!/^[a-z0-9_]+$/.test(n)) fail(`${f}.names[${j}]`, `invalid syscall name ${JSON.stringify(n)}`);
    });
    if (s.errnoRet !== undefined && !errnoOk(s.action)) {
      fail(`${f}.errnoRet`, `cannot be used with ${s.action} (only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take an errno)`);
    }
    if (s.action === 'SCMP_ACT_NOTIFY') {
      notify = true;
      // The notifying process would block writing its own notification.
      if (s.names.includes('write')) fail(`${f}.action`, 'SCMP_ACT_NOTIFY cannot be used for the write syscall');
    }
  });
  if (notify && !sc.listenerPath) fail('linux.seccomp.listenerPath', 'is required when an action is SCMP_ACT_NOTIFY');
  if (sc.listenerPath) absolute(sc.listenerPath, 'linux.seccomp.listenerPath', fail);
}
