// Host layouts for the unit tests, as the kernel would show them.
import { layoutFrom, type CgroupLayout } from '../../../src/runtime/cgroups/detect.js';
import { MemoryCgroupFs } from '../../../src/runtime/cgroups/fs.js';

export const PROC_CGROUPS = `#subsys_name\thierarchy\tnum_cgroups\tenabled
cpuset\t3\t1\t1
cpu\t1\t1\t1
cpuacct\t2\t1\t1
blkio\t7\t1\t1
memory\t4\t19\t1
devices\t5\t1\t1
freezer\t6\t1\t1
net_cls\t0\t1\t1
perf_event\t0\t1\t1
net_prio\t0\t1\t1
hugetlb\t0\t1\t1
pids\t8\t1\t1
`;

/** Our machines: v1 controllers (no hugetlb/net_cls/net_prio mounted), an empty cgroup2 at /sys/fs/cgroup/unified. */
export const HYBRID_MOUNTINFO = `22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;

export const HYBRID_SELF = `9:name=systemd:/
8:pids:/
7:blkio:/
6:freezer:/
5:devices:/
4:memory:/process_api/abc
3:cpuset:/
2:cpuacct:/
1:cpu:/
0::/
`;

export const V2_MOUNTINFO = `22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
30 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`;
export const V2_SELF = '0::/user.slice/user-0.slice/session-1.scope\n';

export function hybridLayout(): CgroupLayout {
  return layoutFrom({ mountinfo: HYBRID_MOUNTINFO, procCgroups: PROC_CGROUPS, selfCgroup: HYBRID_SELF });
}

/** A pure v2 host's /proc/cgroups: every controller in hierarchy 0. */
export const V2_PROC_CGROUPS = PROC_CGROUPS.replace(/^(\w+)\t\d+\t/gm, '$1\t0\t');

export function v2Layout(): CgroupLayout {
  return layoutFrom({ mountinfo: V2_MOUNTINFO, procCgroups: V2_PROC_CGROUPS, selfCgroup: V2_SELF });
}

/** A hybrid host's cgroup2 hierarchy seen alone (a mount namespace with only it at /sys/fs/cgroup). */
export function v2OfHybridLayout(): CgroupLayout {
  return layoutFrom({ mountinfo: V2_MOUNTINFO, procCgroups: PROC_CGROUPS, selfCgroup: V2_SELF });
}

const F = (names: string[], value = ''): Record<string, string> => Object.fromEntries(names.map((n) => [n, value]));

/** A v1 host's hierarchy roots with the control files a 6.x kernel shows. */
export function hybridFs(opts: { memsw?: boolean } = {}): MemoryCgroupFs {
  const fs = new MemoryCgroupFs();
  const root = '/sys/fs/cgroup';
  const procs = { 'cgroup.procs': '' };
  fs.seed(`${root}/cpu`, {
    ...procs,
    ...F([
      'cpu.shares',
      'cpu.cfs_period_us',
      'cpu.cfs_quota_us',
      'cpu.cfs_burst_us',
      'cpu.rt_period_us',
      'cpu.rt_runtime_us',
      'cpu.idle',
      'cpu.stat',
    ]),
  });
  fs.seed(`${root}/cpuacct`, { ...procs, ...F(['cpuacct.usage', 'cpuacct.usage_percpu', 'cpuacct.stat']) });
  fs.seed(`${root}/cpuset`, { ...procs, 'cpuset.cpus': '0-3\n', 'cpuset.mems': '0\n' });
  const mem = [
    'memory.limit_in_bytes',
    'memory.soft_limit_in_bytes',
    'memory.kmem.tcp.limit_in_bytes',
    'memory.swappiness',
    'memory.oom_control',
    'memory.use_hierarchy',
    'memory.usage_in_bytes',
    'memory.max_usage_in_bytes',
    'memory.failcnt',
    'memory.stat',
  ];
  if (opts.memsw !== false) mem.push('memory.memsw.limit_in_bytes');
  fs.seed(`${root}/memory`, { ...procs, ...F(mem) });
  fs.seed(`${root}/memory/process_api/abc`, { ...procs, ...F(mem) });
  fs.seed(`${root}/devices`, { ...procs, ...F(['devices.allow', 'devices.deny', 'devices.list']) });
  fs.seed(`${root}/freezer`, { ...procs, 'freezer.state': 'THAWED\n' });
  fs.seed(`${root}/blkio`, {
    ...procs,
    ...F([
      'blkio.bfq.weight',
      'blkio.bfq.weight_device',
      'blkio.throttle.read_bps_device',
      'blkio.throttle.write_bps_device',
      'blkio.throttle.read_iops_device',
      'blkio.throttle.write_iops_device',
    ]),
  });
  fs.seed(`${root}/pids`, { ...procs, ...F(['pids.max', 'pids.current']) });
  fs.seed(`${root}/systemd`, procs);
  fs.seed(`${root}/unified`, { ...procs, 'cgroup.controllers': '', 'cgroup.subtree_control': '' });
  return fs;
}

/** A pure v2 host: the root offers every controller; the session scope holds processes. */
export function v2Fs(
  opts: { swap?: boolean; bfq?: boolean } = {},
  fs: MemoryCgroupFs = new MemoryCgroupFs(),
): MemoryCgroupFs {
  const root = '/sys/fs/cgroup';
  const files = [
    'cgroup.procs',
    'cgroup.subtree_control',
    'cgroup.freeze',
    'cgroup.events',
    'cgroup.kill',
    'cpu.weight',
    'cpu.max',
    'cpu.max.burst',
    'cpu.idle',
    'cpu.stat',
    'cpuset.cpus',
    'cpuset.mems',
    'memory.max',
    'memory.low',
    'memory.high',
    'memory.current',
    'memory.stat',
    'pids.max',
    'pids.current',
    'io.weight',
    'io.max',
    'io.stat',
    'hugetlb.2MB.max',
    'hugetlb.1GB.max',
  ];
  if (opts.swap !== false) files.push('memory.swap.max');
  if (opts.bfq) files.push('io.bfq.weight');
  // New directories copy their parent's file names (MemoryCgroupFs), so the
  // ancestors get the full set a cgroup with every controller enabled shows.
  for (const d of [root, `${root}/user.slice`, `${root}/user.slice/user-0.slice`]) {
    fs.seed(d, { ...F(files), 'cgroup.controllers': 'cpuset cpu io memory hugetlb pids rdma\n' });
  }
  return fs;
}
