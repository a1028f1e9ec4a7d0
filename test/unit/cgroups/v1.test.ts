import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createManager, createWithResources } from '../../../src/runtime/cgroups/manager.js';
import { hybridFs, hybridLayout } from './fixtures.js';

const CG = '/sys/fs/cgroup';
const MiB = 1024 * 1024;

function setup(opts: { memsw?: boolean } = {}) {
  const fs = hybridFs(opts);
  const warnings: string[] = [];
  const m = createManager({
    containerId: 'c1',
    cgroupsPath: '/berth/c1',
    layout: hybridLayout(),
    fs,
    onWarning: (w) => warnings.push(w),
  });
  return { fs, m, warnings };
}

test('create: a directory in every hierarchy and the unified one; cpuset values copied down', async () => {
  const { fs, m } = setup();
  await m.create();
  for (const c of ['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids', 'systemd', 'unified']) {
    assert.ok(fs.dirs.has(`${CG}/${c}/berth/c1`), c);
  }
  // v1 cpuset children start empty: both levels get the root's values, outermost first.
  assert.deepEqual(
    fs.writes.filter((w) => w.path.includes('/cpuset/')),
    [
      { path: `${CG}/cpuset/berth/cpuset.cpus`, value: '0-3' },
      { path: `${CG}/cpuset/berth/c1/cpuset.cpus`, value: '0-3' },
      { path: `${CG}/cpuset/berth/cpuset.mems`, value: '0' },
      { path: `${CG}/cpuset/berth/c1/cpuset.mems`, value: '0' },
    ],
  );
  assert.equal(m.exists(), true);
  assert.deepEqual(m.procsFiles().sort(), [
    `${CG}/blkio/berth/c1/cgroup.procs`,
    `${CG}/cpu/berth/c1/cgroup.procs`,
    `${CG}/cpuacct/berth/c1/cgroup.procs`,
    `${CG}/cpuset/berth/c1/cgroup.procs`,
    `${CG}/devices/berth/c1/cgroup.procs`,
    `${CG}/freezer/berth/c1/cgroup.procs`,
    `${CG}/memory/berth/c1/cgroup.procs`,
    `${CG}/pids/berth/c1/cgroup.procs`,
    `${CG}/systemd/berth/c1/cgroup.procs`,
    `${CG}/unified/berth/c1/cgroup.procs`,
  ]);
});

test('set: the exact files and values for a typical LinuxResources', async () => {
  const { fs, m, warnings } = setup();
  await m.create();
  // a new devices cgroup starts as its parent: the root allows everything
  fs.files.set(`${CG}/devices/berth/c1/devices.list`, 'a *:* rwm\n');
  fs.writes.length = 0;
  await m.set({
    devices: [
      { allow: false, access: 'rwm' },
      { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
      { allow: true, type: 'c', major: 136, access: 'rw' },
    ],
    cpu: { shares: 512, quota: 50000, period: 100000, burst: 1000, cpus: '0-1', mems: '0', idle: 0 },
    memory: {
      limit: 64 * MiB,
      swap: 128 * MiB,
      reservation: 32 * MiB,
      swappiness: 10,
      kernel: 1 * MiB,
      disableOOMKiller: true,
    },
    pids: { limit: 20 },
    blockIO: {
      weight: 500,
      weightDevice: [{ major: 8, minor: 0, weight: 300 }],
      throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }],
      throttleWriteIOPSDevice: [{ major: 8, minor: 16, rate: 100 }],
    },
  });
  const d = (c: string) => `${CG}/${c}/berth/c1`;
  assert.deepEqual(fs.writes, [
    { path: `${d('devices')}/devices.deny`, value: 'a' },
    { path: `${d('devices')}/devices.allow`, value: 'c 1:3 rwm' },
    { path: `${d('devices')}/devices.allow`, value: 'c 136:* rw' },
    { path: `${d('cpuset')}/cpuset.cpus`, value: '0-1' },
    { path: `${d('cpuset')}/cpuset.mems`, value: '0' },
    { path: `${d('cpu')}/cpu.shares`, value: '512' },
    { path: `${d('cpu')}/cpu.cfs_period_us`, value: '100000' },
    { path: `${d('cpu')}/cpu.cfs_quota_us`, value: '50000' },
    { path: `${d('cpu')}/cpu.cfs_burst_us`, value: '1000' },
    { path: `${d('cpu')}/cpu.idle`, value: '0' },
    // memsw grows past the current limit, so it goes first
    { path: `${d('memory')}/memory.memsw.limit_in_bytes`, value: String(128 * MiB) },
    { path: `${d('memory')}/memory.limit_in_bytes`, value: String(64 * MiB) },
    { path: `${d('memory')}/memory.soft_limit_in_bytes`, value: String(32 * MiB) },
    { path: `${d('memory')}/memory.swappiness`, value: '10' },
    { path: `${d('memory')}/memory.oom_control`, value: '1' },
    { path: `${d('pids')}/pids.max`, value: '20' },
    { path: `${d('blkio')}/blkio.bfq.weight`, value: '500' },
    { path: `${d('blkio')}/blkio.bfq.weight_device`, value: '8:0 300' },
    { path: `${d('blkio')}/blkio.throttle.read_bps_device`, value: '8:0 1048576' },
    { path: `${d('blkio')}/blkio.throttle.write_iops_device`, value: '8:16 100' },
  ]);
  assert.deepEqual(warnings, ['linux.resources.memory.kernel is deprecated by the kernel and ignored (as runc does)']);
});

test('memory: shrinking memory+swap below the current limit writes the limit first', async () => {
  const { fs, m } = setup();
  await m.create();
  fs.files.set(`${CG}/memory/berth/c1/memory.limit_in_bytes`, String(512 * MiB));
  fs.writes.length = 0;
  await m.set({ memory: { limit: 64 * MiB, swap: 128 * MiB } });
  assert.deepEqual(
    fs.writes.map((w) => w.path.split('/').pop()),
    ['memory.limit_in_bytes', 'memory.memsw.limit_in_bytes'],
  );
});

test('memory: unlimited memory means unlimited memory+swap; swap below limit is refused', async () => {
  const { fs, m } = setup();
  await m.create();
  fs.writes.length = 0;
  await m.set({ memory: { limit: -1 } });
  assert.deepEqual(
    fs.writes.map((w) => `${w.path.split('/').pop()}=${w.value}`),
    ['memory.memsw.limit_in_bytes=-1', 'memory.limit_in_bytes=-1'],
  );
  await assert.rejects(m.set({ memory: { limit: 128 * MiB, swap: 64 * MiB } }), {
    code: 'invalid-argument',
    field: 'linux.resources.memory.swap',
  });
  await assert.rejects(m.set({ memory: { swappiness: 101 } }), {
    code: 'invalid-argument',
    field: 'linux.resources.memory.swappiness',
  });
});

test('memory: swap without memsw files (swap accounting off) is a clear error', async () => {
  const { m } = setup({ memsw: false });
  await m.create();
  await assert.rejects(m.set({ memory: { limit: 64 * MiB, swap: 128 * MiB } }), {
    code: 'unavailable',
    message:
      'linux.resources.memory.swap: this host has no memory.memsw.limit_in_bytes (swap accounting off: boot with swapaccount=1)',
  });
  await m.set({ memory: { limit: 64 * MiB } });
});

test('pids: a limit <= 0 means max', async () => {
  const { fs, m } = setup();
  await m.create();
  fs.writes.length = 0;
  await m.set({ pids: { limit: 0 } });
  await m.set({ pids: { limit: -1 } });
  assert.deepEqual(
    fs.writes.map((w) => w.value),
    ['max', 'max'],
  );
});

test('a setting for a controller this host has not mounted names the setting', async () => {
  const { m } = setup();
  await m.create();
  await assert.rejects(m.set({ hugepageLimits: [{ pageSize: '2MB', limit: 1 << 21 }] }), {
    code: 'unavailable',
    message:
      'linux.resources.hugepageLimits[0]: this host has no hugetlb cgroup controller (not mounted as cgroup v1, not offered by the cgroup2 hierarchy at /sys/fs/cgroup/unified)',
  });
  await assert.rejects(m.set({ network: { classID: 0x100001 } }), {
    code: 'unavailable',
    field: 'linux.resources.network.classID',
  });
  await assert.rejects(m.set({ network: { priorities: [{ name: 'eth0', priority: 5 }] } }), {
    code: 'unavailable',
    field: 'linux.resources.network.priorities[0]',
  });
  await assert.rejects(m.set({ unified: { 'memory.high': '1G' } }), {
    code: 'unavailable',
    field: 'linux.resources.unified["memory.high"]',
    message: /not offered by the cgroup2 hierarchy/,
  });
  await assert.rejects(m.set({ unified: { '../x.y': '1' } }), { code: 'invalid-argument' });
  await assert.rejects(m.set({ blockIO: { leafWeight: 500 } }), { code: 'unavailable', message: /blkio\.leaf_weight/ });
});

test('hugetlb and net_cls/net_prio files when the controllers exist', async () => {
  const fs = hybridFs();
  fs.seed(`${CG}/hugetlb`, { 'cgroup.procs': '', 'hugetlb.2MB.limit_in_bytes': '', 'hugetlb.1GB.limit_in_bytes': '' });
  fs.seed(`${CG}/net_cls,net_prio`, { 'cgroup.procs': '', 'net_cls.classid': '', 'net_prio.ifpriomap': '' });
  const mi =
    (await import('./fixtures.js')).HYBRID_MOUNTINFO +
    '60 31 0:60 / /sys/fs/cgroup/hugetlb rw - cgroup cgroup rw,hugetlb\n61 31 0:61 / /sys/fs/cgroup/net_cls,net_prio rw - cgroup cgroup rw,net_cls,net_prio\n';
  const { layoutFrom } = await import('../../../src/runtime/cgroups/detect.js');
  const { PROC_CGROUPS, HYBRID_SELF } = await import('./fixtures.js');
  const m = createManager({
    containerId: 'c1',
    layout: layoutFrom({ mountinfo: mi, procCgroups: PROC_CGROUPS, selfCgroup: HYBRID_SELF }),
    fs,
  });
  await m.create();
  fs.writes.length = 0;
  await m.set({
    hugepageLimits: [{ pageSize: '2MB', limit: 4 << 21 }],
    network: {
      classID: 0x100001,
      priorities: [
        { name: 'eth0', priority: 5 },
        { name: 'lo', priority: 2 },
      ],
    },
  });
  assert.deepEqual(fs.writes, [
    { path: `${CG}/hugetlb/c1/hugetlb.2MB.limit_in_bytes`, value: String(4 << 21) },
    { path: `${CG}/net_cls,net_prio/c1/net_cls.classid`, value: String(0x100001) },
    { path: `${CG}/net_cls,net_prio/c1/net_prio.ifpriomap`, value: 'eth0 5' },
    { path: `${CG}/net_cls,net_prio/c1/net_prio.ifpriomap`, value: 'lo 2' },
  ]);
  await assert.rejects(m.set({ hugepageLimits: [{ pageSize: '2M', limit: 1 }] }), {
    code: 'invalid-argument',
    field: 'linux.resources.hugepageLimits[0].pageSize',
  });
});

test('kernel refusals become errors naming the OCI field', async () => {
  const { fs, m } = setup();
  await m.create();
  fs.failWrites.set(`${CG}/cpu/berth/c1/cpu.cfs_quota_us`, 'EINVAL');
  await assert.rejects(m.set({ cpu: { quota: 5 } }), {
    code: 'invalid-argument',
    message: 'linux.resources.cpu.quota: the kernel rejects "5" for cpu.cfs_quota_us (EINVAL)',
  });
  fs.failWrites.set(`${CG}/memory/berth/c1/memory.kmem.tcp.limit_in_bytes`, 'EPERM');
  await assert.rejects(m.set({ memory: { kernelTCP: 1 << 20 } }), {
    code: 'unavailable',
    field: 'linux.resources.memory.kernelTCP',
    message: /refuses/,
  });
});

test('a failed set after create leaves no cgroup behind, intermediate directories included', async () => {
  const { fs, m } = setup();
  fs.failWrites.set(`${CG}/pids/berth/c1/pids.max`, 'EACCES');
  await assert.rejects(createWithResources(m, { pids: { limit: 5 } }), {
    code: 'unavailable',
    field: 'linux.resources.pids.limit',
  });
  assert.equal(m.exists(), false);
  assert.deepEqual(
    [...fs.dirs].filter((d) => d.includes('berth')),
    [],
  );
});

test('freeze/thaw/state through freezer.state; apply writes the pid everywhere', async () => {
  const { fs, m } = setup();
  await m.create();
  await m.apply(42);
  assert.equal(fs.readFile(`${CG}/memory/berth/c1/cgroup.procs`), '42');
  assert.equal(fs.readFile(`${CG}/unified/berth/c1/cgroup.procs`), '42');
  assert.deepEqual(m.pids(), [42]);
  await m.freeze();
  assert.equal(m.state(), 'frozen');
  await m.thaw();
  assert.equal(m.state(), 'thawed');
  assert.equal(m.killAll(), false, 'no cgroup.kill in this fixture');
  await assert.rejects(m.apply(0), { code: 'invalid-argument' });
});

test('destroy removes nested directories and retries while processes leave', async () => {
  const { fs, m } = setup();
  await m.create();
  fs.mkdir(`${CG}/memory/berth/c1/sub/deeper`);
  let busyTries = 3;
  fs.busy = (dir) => dir === `${CG}/freezer/berth/c1` && busyTries-- > 0;
  await m.destroy();
  assert.equal(m.exists(), false);
  assert.equal(busyTries, -1);
  assert.ok(!fs.dirs.has(`${CG}/memory/berth/c1/sub/deeper`));
  // a second destroy is harmless
  await m.destroy();
});

test('stats from v1 files', async () => {
  const { fs, m } = setup();
  await m.create();
  const d = (c: string, f: string, v: string) => fs.files.set(`${CG}/${c}/berth/c1/${f}`, v);
  d('cpuacct', 'cpuacct.usage', '5000\n');
  d('cpuacct', 'cpuacct.usage_percpu', '3000 2000 \n');
  d('cpuacct', 'cpuacct.stat', 'user 3\nsystem 1\n');
  d('cpu', 'cpu.stat', 'nr_periods 10\nnr_throttled 2\nthrottled_time 777\n');
  d('memory', 'memory.usage_in_bytes', '1000');
  d('memory', 'memory.limit_in_bytes', '9223372036854771712');
  d('memory', 'memory.stat', 'cache 11\nrss 22\ntotal_cache 33\n');
  d('pids', 'pids.current', '3');
  d('pids', 'pids.max', 'max');
  d('blkio', 'blkio.throttle.io_service_bytes_recursive', '8:0 Read 4096\n8:0 Write 0\nTotal 4096\n');
  const s = m.stats();
  assert.equal(s.cpu.usage.total, 5000);
  assert.deepEqual(s.cpu.usage.percpu, [3000, 2000]);
  assert.equal(s.cpu.usage.user, 30_000_000);
  assert.equal(s.cpu.usage.kernel, 10_000_000);
  assert.deepEqual(s.cpu.throttling, { periods: 10, throttledPeriods: 2, throttledTime: 777 });
  assert.equal(s.memory.usage.usage, 1000);
  assert.equal(s.memory.usage.limit, 2 ** 64); // math.MaxUint64, as a double holds it
  assert.equal(s.memory.cache, 33);
  assert.equal(s.memory.raw['rss'], 22);
  assert.deepEqual(s.pids, { current: 3, limit: 0 });
  assert.deepEqual(s.blkio.ioServiceBytesRecursive, [
    { major: 8, minor: 0, op: 'Read', value: 4096 },
    { major: 8, minor: 0, op: 'Write', value: 0 },
  ]);
  assert.deepEqual(s.cpuset, { cpus: [0, 1, 2, 3], mems: [0] });
});

test('hybrid: a controller the cgroup2 root delegates (hugetlb here) is used there, enabled on demand in the directories the container made', async () => {
  const { fs, m } = setup();
  fs.files.set(`${CG}/unified/cgroup.controllers`, 'hugetlb\n');
  fs.files.set(`${CG}/unified/cgroup.subtree_control`, 'hugetlb\n');
  fs.files.set(`${CG}/unified/hugetlb.2MB.max`, '');
  await m.create();
  assert.ok(!fs.writes.some((w) => w.path.endsWith('cgroup.subtree_control')), 'create leaves the unified root alone');
  fs.writes.length = 0;
  await m.set({
    hugepageLimits: [{ pageSize: '2MB', limit: 4 << 21 }],
    unified: { 'hugetlb.2MB.max': String(2 << 21) },
  });
  assert.deepEqual(fs.writes, [
    { path: `${CG}/unified/berth/cgroup.subtree_control`, value: '+hugetlb' },
    { path: `${CG}/unified/berth/c1/hugetlb.2MB.max`, value: String(4 << 21) },
    { path: `${CG}/unified/berth/c1/hugetlb.2MB.max`, value: String(2 << 21) },
  ]);
});

test('hybrid: a controller the cgroup2 root offers but does not delegate is an error naming the field; the root is not changed', async () => {
  const { fs, m } = setup();
  fs.files.set(`${CG}/unified/cgroup.controllers`, 'hugetlb\n');
  fs.files.set(`${CG}/unified/hugetlb.2MB.max`, '');
  await m.create();
  fs.writes.length = 0;
  await assert.rejects(m.set({ hugepageLimits: [{ pageSize: '2MB', limit: 4 << 21 }] }), {
    code: 'unavailable',
    message:
      /^linux\.resources\.hugepageLimits\[0\]: this host has no hugetlb cgroup controller for containers: .* does not delegate it/,
  });
  assert.deepEqual(fs.writes, []);
});

test('pure v1: unified keys have nowhere to go', async () => {
  const { layoutFrom } = await import('../../../src/runtime/cgroups/detect.js');
  const { HYBRID_MOUNTINFO, PROC_CGROUPS, HYBRID_SELF } = await import('./fixtures.js');
  const mi = HYBRID_MOUNTINFO.split('\n')
    .filter((l) => !l.includes('cgroup2'))
    .join('\n');
  const m = createManager({
    containerId: 'c1',
    layout: layoutFrom({ mountinfo: mi, procCgroups: PROC_CGROUPS, selfCgroup: HYBRID_SELF }),
    fs: hybridFs(),
  });
  assert.equal(m.version, 'v1');
  await m.create();
  await assert.rejects(m.set({ unified: { 'memory.high': '1G' } }), { code: 'unavailable', message: /only cgroup v1/ });
});

test("hybrid: kill --all through the unified directory's cgroup.kill when the kernel has it", async () => {
  const fs = hybridFs();
  fs.files.set(`${CG}/unified/cgroup.kill`, '');
  const m = createManager({ containerId: 'c1', layout: hybridLayout(), fs });
  await m.create();
  assert.equal(m.killAll(), true);
  assert.deepEqual(fs.writes.at(-1), { path: `${CG}/unified/c1/cgroup.kill`, value: '1' });
});

test("hybrid without a v1 freezer: pause goes through the unified directory's cgroup.freeze", async () => {
  const { MemoryCgroupFs } = await import('../../../src/runtime/cgroups/fs.js');
  const { layoutFrom } = await import('../../../src/runtime/cgroups/detect.js');
  const { HYBRID_MOUNTINFO, PROC_CGROUPS, HYBRID_SELF } = await import('./fixtures.js');
  class FreezingFs extends MemoryCgroupFs {
    override writeFile(path: string, value: string): void {
      super.writeFile(path, value);
      if (path.endsWith('/cgroup.freeze'))
        this.files.set(path.replace(/cgroup\.freeze$/, 'cgroup.events'), `populated 1\nfrozen ${value}\n`);
    }
  }
  const fs = new FreezingFs();
  for (const [k, v] of hybridFs().files) fs.files.set(k, v);
  for (const d of hybridFs().dirs) fs.dirs.add(d);
  fs.files.set(`${CG}/unified/cgroup.freeze`, '0');
  fs.files.set(`${CG}/unified/cgroup.events`, '');
  const mi = HYBRID_MOUNTINFO.split('\n')
    .filter((l) => !l.includes('freezer'))
    .join('\n');
  const m = createManager({
    containerId: 'c1',
    layout: layoutFrom({ mountinfo: mi, procCgroups: PROC_CGROUPS, selfCgroup: HYBRID_SELF }),
    fs,
  });
  await m.create();
  await m.freeze();
  assert.equal(m.state(), 'frozen');
  assert.equal(fs.readFile(`${CG}/unified/c1/cgroup.freeze`), '1');
  await m.thaw();
  assert.equal(m.state(), 'thawed');
});

test('v1 devices update of a running container: only the differences, no deny-all moment', async () => {
  const { fs, m } = setup();
  await m.create();
  fs.files.set(`${CG}/devices/berth/c1/devices.list`, 'c 1:3 rwm\nc 1:5 rwm\nc 136:* rwm\n');
  fs.writes.length = 0;
  await m.set({
    devices: [
      { allow: false, access: 'rwm' },
      { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
      { allow: true, type: 'c', major: 136, access: 'rw' },
      { allow: true, type: 'c', major: 10, minor: 200, access: 'r' },
      { allow: true, type: 'c', major: 10, minor: 200, access: 'w' },
    ],
  });
  assert.deepEqual(
    fs.writes.map((w) => `${w.path.split('/').pop()} ${w.value}`),
    ['devices.allow c 10:200 rw', 'devices.deny c 1:5 rwm', 'devices.deny c 136:* m'],
  );
  // a change to allow-by-default resets first
  fs.writes.length = 0;
  await m.set({ devices: [{ allow: true }, { allow: false, type: 'c', major: 1, minor: 5 }] });
  assert.deepEqual(
    fs.writes.map((w) => `${w.path.split('/').pop()} ${w.value}`),
    ['devices.allow a', 'devices.deny c 1:5 rwm'],
  );
  // what v1 cannot express is refused before any write
  fs.writes.length = 0;
  await assert.rejects(
    m.set({
      devices: [
        { allow: false },
        { allow: true, type: 'c', major: 1 },
        { allow: false, type: 'c', major: 1, minor: 5 },
      ],
    }),
    {
      code: 'invalid-argument',
      field: 'linux.resources.devices[2]',
    },
  );
  assert.deepEqual(fs.writes, []);
});
