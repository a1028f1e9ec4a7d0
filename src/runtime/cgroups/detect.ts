// Finds the cgroup layout of this host from what the kernel reports: the
// cgroup mounts in /proc/self/mountinfo, the known controllers in
// /proc/cgroups, and this process's own cgroups in /proc/self/cgroup. No path
// is assumed: /sys/fs/cgroup is only where the mounts usually are.

import { BerthError } from '../../common/errors.js';
import { realCgroupFs, type CgroupFs } from './fs.js';

export type CgroupMode = 'v1' | 'v2' | 'hybrid';

export interface CgroupMount {
  mountpoint: string;
  /** The cgroup the mount shows as its root (not "/" inside a cgroup namespace). */
  root: string;
}

export interface CgroupLayout {
  mode: CgroupMode;
  /**
   * v1 hierarchies by controller name ("memory", "cpu", "name=systemd"...).
   * Controllers mounted together ("cpu,cpuacct") map to the same mount.
   */
  v1: Record<string, CgroupMount>;
  /** The cgroup2 hierarchy (the whole tree on v2; the empty one on hybrid). */
  unified?: CgroupMount;
  /** This process's cgroup in each hierarchy, as /proc/self/cgroup says. */
  own: { v1: Record<string, string>; unified?: string };
  /** Controllers the kernel has enabled (/proc/cgroups), mounted or not. */
  enabled: string[];
  /**
   * Controllers bound to a cgroup v1 hierarchy somewhere on the host
   * (/proc/cgroups: a hierarchy id other than 0), even when no v1 mount is
   * visible here: a cgroup2 hierarchy seen as "v2" from a mount namespace
   * of its own is then the hybrid host's unified one, whose root is the host's.
   */
  v1Bound?: string[];
}

export interface MountinfoEntry {
  root: string;
  mountpoint: string;
  fstype: string;
  superOptions: string[];
}

/** Undo mountinfo's octal escapes (\040 for a space, \011, \012, \134). */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function parseMountinfo(text: string): MountinfoEntry[] {
  const out: MountinfoEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const parts = line.split(' ');
    const sep = parts.indexOf('-', 6);
    if (sep < 0 || parts.length < sep + 4) continue;
    out.push({
      root: unescape(parts[3]!),
      mountpoint: unescape(parts[4]!),
      fstype: parts[sep + 1]!,
      superOptions: parts[sep + 3]!.split(','),
    });
  }
  return out;
}

/** /proc/<pid>/cgroup: "4:memory:/a/b" → { v1: {memory: "/a/b"} }, "0::/x" → unified "/x". */
export function parseProcCgroup(text: string): { v1: Record<string, string>; unified?: string } {
  const v1: Record<string, string> = {};
  let unified: string | undefined;
  for (const line of text.split('\n')) {
    if (!line) continue;
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const id = line.slice(0, first);
    const names = line.slice(first + 1, second);
    const path = line.slice(second + 1);
    if (id === '0' && names === '') unified = path;
    else for (const n of names.split(',')) if (n) v1[n] = path;
  }
  return unified === undefined ? { v1 } : { v1, unified };
}

/** Enabled controllers from /proc/cgroups ("#subsys_name hierarchy num_cgroups enabled"). */
export function parseProcCgroups(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const [name, , , enabled] = line.split(/\s+/);
    if (name && enabled === '1') out.push(name);
  }
  return out;
}

/** Controllers /proc/cgroups shows in a v1 hierarchy (its second column is not 0). */
export function parseV1Bound(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const [name, hierarchy, , enabled] = line.split(/\s+/);
    if (name && enabled === '1' && hierarchy !== undefined && hierarchy !== '0') out.push(name);
  }
  return out;
}

/** Controllers a v1 mount can carry, in case /proc/cgroups is missing or terse. */
const V1_CONTROLLERS = [
  'cpu',
  'cpuacct',
  'cpuset',
  'memory',
  'devices',
  'freezer',
  'net_cls',
  'net_prio',
  'blkio',
  'perf_event',
  'hugetlb',
  'pids',
  'rdma',
  'misc',
];

export interface DetectSources {
  mountinfo: string;
  procCgroups: string;
  selfCgroup: string;
}

/** The layout from the texts of the three /proc files (pure, for tests). */
export function layoutFrom(src: DetectSources): CgroupLayout {
  const enabled = parseProcCgroups(src.procCgroups);
  const known = new Set([...enabled, ...V1_CONTROLLERS]);
  const v1: Record<string, CgroupMount> = {};
  let unified: CgroupMount | undefined;
  let controllersOnV1 = 0;
  for (const m of parseMountinfo(src.mountinfo)) {
    if (m.fstype === 'cgroup2') {
      unified ??= { mountpoint: m.mountpoint, root: m.root };
    } else if (m.fstype === 'cgroup') {
      for (const opt of m.superOptions) {
        const isController = known.has(opt);
        if (!isController && !opt.startsWith('name=')) continue;
        // The first mount of a hierarchy wins (bind mounts of it come later).
        if (v1[opt]) continue;
        v1[opt] = { mountpoint: m.mountpoint, root: m.root };
        if (isController) controllersOnV1++;
      }
    }
  }
  let mode: CgroupMode;
  if (controllersOnV1 > 0) mode = unified ? 'hybrid' : 'v1';
  else if (unified) mode = 'v2';
  else throw new BerthError('runtime', 'unavailable', 'no cgroup filesystem is mounted (none in /proc/self/mountinfo)');
  return {
    mode,
    v1: mode === 'v2' ? {} : v1,
    ...(unified ? { unified } : {}),
    own: parseProcCgroup(src.selfCgroup),
    enabled,
    v1Bound: parseV1Bound(src.procCgroups),
  };
}

/** Reads /proc and returns this host's layout. */
export function detectLayout(fs: CgroupFs = realCgroupFs): CgroupLayout {
  const read = (p: string): string => {
    try {
      return fs.readFile(p);
    } catch (e) {
      throw new BerthError('runtime', 'unavailable', `cannot read ${p} to find the cgroup layout`, { cause: e });
    }
  };
  return layoutFrom({
    mountinfo: read('/proc/self/mountinfo'),
    procCgroups: fs.exists('/proc/cgroups') ? read('/proc/cgroups') : '',
    selfCgroup: read('/proc/self/cgroup'),
  });
}
