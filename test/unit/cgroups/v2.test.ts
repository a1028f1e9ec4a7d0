import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createManager, createWithResources } from '../../../src/runtime/cgroups/manager.js';
import { MemoryCgroupFs } from '../../../src/runtime/cgroups/fs.js';
import { blkioWeightToIoWeight, sharesToWeight, swapMaxValue } from '../../../src/runtime/cgroups/v2-set.js';
import { decodeInsns, runDeviceFilter } from '../../../src/runtime/cgroups/devices/ebpf.js';
import { v2Fs, v2Layout, v2OfHybridLayout } from './fixtures.js';

const CG = '/sys/fs/cgroup';
const MiB = 1024 * 1024;
const DIR = `${CG}/user.slice/user-0.slice/c1`;

/** Like the kernel: writing cgroup.freeze updates cgroup.events. */
class FreezingFs extends MemoryCgroupFs {
  override writeFile(path: string, value: string): void {
    super.writeFile(path, value);
    if (path.endsWith('/cgroup.freeze'))
      this.files.set(path.replace(/cgroup\.freeze$/, 'cgroup.events'), `populated 1\nfrozen ${value}\n`);
  }
}

function setup(opts: { swap?: boolean; bfq?: boolean; fs?: MemoryCgroupFs } = {}) {
  const fs = opts.fs ?? v2Fs(opts);
  const attached: { dir: string; program: Buffer }[] = [];
  const m = createManager({
    containerId: 'c1',
    cgroupsPath: 'c1',
    layout: v2Layout(),
    fs,
    attachDeviceFilter: (dir, program) => attached.push({ dir, program }),
  });
  return { fs, m, attached };
}

test('cpu.shares → cpu.weight with runc formula', () => {
  assert.equal(sharesToWeight(2), 1);
  assert.equal(sharesToWeight(1024), 39);
  assert.equal(sharesToWeight(512), 20);
  assert.equal(sharesToWeight(262144), 10000);
  assert.equal(sharesToWeight(0), 0);
  assert.equal(blkioWeightToIoWeight(10), 1);
  assert.equal(blkioWeightToIoWeight(500), 4950);
  assert.equal(blkioWeightToIoWeight(1000), 10000);
});

test('OCI swap (memory+swap) → memory.swap.max (swap alone)', () => {
  assert.equal(swapMaxValue(128 * MiB, 64 * MiB), String(64 * MiB));
  assert.equal(swapMaxValue(64 * MiB, 64 * MiB), '0');
  assert.equal(swapMaxValue(-1, 64 * MiB), 'max');
  assert.equal(swapMaxValue(undefined, -1), 'max');
  assert.equal(swapMaxValue(undefined, 64 * MiB), undefined);
  assert.throws(() => swapMaxValue(32 * MiB, 64 * MiB), {
    code: 'invalid-argument',
    field: 'linux.resources.memory.swap',
  });
  assert.throws(() => swapMaxValue(32 * MiB, undefined), { message: /needs a memory limit/ });
});

test('create: under the parent of our own cgroup, controllers enabled top-down', async () => {
  const { fs, m } = setup();
  await m.create();
  assert.ok(fs.dirs.has(DIR));
  const enables = fs.writes.filter((w) => w.path.endsWith('cgroup.subtree_control'));
  assert.deepEqual(
    enables.slice(0, 3).map((w) => `${w.path} ${w.value}`),
    [`${CG}/cgroup.subtree_control +cpuset`, `${CG}/cgroup.subtree_control +cpu`, `${CG}/cgroup.subtree_control +io`],
  );
  assert.ok(
    enables.some((w) => w.path === `${CG}/user.slice/user-0.slice/cgroup.subtree_control` && w.value === '+memory'),
  );
  // a v2Fs ancestor already enabling a controller is left alone
  assert.ok(!enables.some((w) => w.value === '+misc'));
  assert.deepEqual(m.procsFiles(), [`${DIR}/cgroup.procs`]);
});

test("create on a hybrid host's cgroup2 hierarchy seen alone: its root's subtree_control is never written", async () => {
  const fs = v2Fs();
  const layout = v2OfHybridLayout();
  assert.equal(layout.mode, 'v2', 'no v1 mount visible');
  assert.ok(layout.v1Bound?.includes('memory'), '/proc/cgroups still shows the v1 hierarchies');
  const m = createManager({ containerId: 'c1', cgroupsPath: 'c1', layout, fs, attachDeviceFilter: () => {} });
  await m.create();
  const enables = fs.writes.filter((w) => w.path.endsWith('cgroup.subtree_control'));
  assert.ok(enables.length > 0, 'the ancestors below the root still get what the root delegates');
  assert.deepEqual(
    enables.filter((w) => w.path === `${CG}/cgroup.subtree_control`),
    [],
    'nothing written to the root',
  );
  // on a pure v2 host the root is written as runc does (the case above)
  assert.deepEqual(v2Layout().v1Bound, []);
});

test('set: the exact files and values for a typical LinuxResources', async () => {
  const { fs, m, attached } = setup();
  await m.create();
  fs.writes.length = 0;
  await m.set({
    cpu: { shares: 1024, quota: 50000, period: 100000, cpus: '0-1', mems: '0', idle: 1 },
    memory: { limit: 64 * MiB, swap: 96 * MiB, reservation: 32 * MiB },
    pids: { limit: 0 },
    blockIO: {
      weight: 500,
      weightDevice: [{ major: 8, minor: 0, weight: 100 }],
      throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }],
      throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 0 }],
    },
    hugepageLimits: [{ pageSize: '2MB', limit: 8 * MiB }],
    unified: { 'memory.high': '50M' },
    devices: [
      { allow: false, access: 'rwm' },
      { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
    ],
  });
  assert.deepEqual(
    fs.writes.map((w) => `${w.path.slice(DIR.length + 1)}=${w.value}`),
    [
      'cpu.weight=39',
      'cpu.max=50000 100000',
      'cpu.idle=1',
      'cpuset.cpus=0-1',
      'cpuset.mems=0',
      `memory.swap.max=${32 * MiB}`,
      `memory.max=${64 * MiB}`,
      `memory.low=${32 * MiB}`,
      'pids.max=max',
      'io.weight=default 4950',
      'io.weight=8:0 910',
      'io.max=8:0 rbps=1048576',
      'io.max=8:0 wiops=max',
      `hugetlb.2MB.max=${8 * MiB}`,
      'memory.high=50M',
    ],
  );
  assert.equal(attached.length, 1);
  assert.equal(attached[0]!.dir, DIR);
  const insns = decodeInsns(attached[0]!.program);
  assert.equal(runDeviceFilter(insns, { type: 'c', major: 1, minor: 3, access: 'rw' }), 1);
  assert.equal(runDeviceFilter(insns, { type: 'b', major: 8, minor: 0, access: 'r' }), 0);
});

test('cpu.max forms and burst ordering', async () => {
  const { fs, m } = setup();
  await m.create();
  fs.writes.length = 0;
  await m.set({ cpu: { quota: -1, period: 50000 } });
  await m.set({ cpu: { quota: 20000 } });
  await m.set({ cpu: { quota: 20000, period: 100000, burst: 5000 } });
  assert.deepEqual(
    fs.writes.map((w) => `${w.path.slice(DIR.length + 1)}=${w.value}`),
    ['cpu.max=max 50000', 'cpu.max=20000', 'cpu.max.burst=5000', 'cpu.max=20000 100000', 'cpu.max.burst=5000'],
  );
});

test('io with BFQ: raw weights in io.bfq.weight', async () => {
  const { fs, m } = setup({ bfq: true });
  await m.create();
  fs.writes.length = 0;
  await m.set({ blockIO: { weight: 500, weightDevice: [{ major: 8, minor: 0, weight: 100 }] } });
  assert.deepEqual(
    fs.writes.map((w) => `${w.path.slice(DIR.length + 1)}=${w.value}`),
    ['io.bfq.weight=500', 'io.bfq.weight=8:0 100'],
  );
});

test('settings v2 cannot honour are errors, never dropped', async () => {
  const { m } = setup();
  await m.create();
  const cases: [object, string][] = [
    [{ cpu: { realtimeRuntime: 1000 } }, 'linux.resources.cpu.realtimeRuntime'],
    [{ memory: { swappiness: 10 } }, 'linux.resources.memory.swappiness'],
    [{ memory: { disableOOMKiller: true } }, 'linux.resources.memory.disableOOMKiller'],
    [{ memory: { kernelTCP: MiB } }, 'linux.resources.memory.kernelTCP'],
    [{ network: { classID: 1 } }, 'linux.resources.network.classID'],
    [{ blockIO: { leafWeight: 100 } }, 'linux.resources.blockIO.leafWeight'],
  ];
  for (const [r, field] of cases) await assert.rejects(m.set(r), { code: 'unavailable', field }, field);
});

test('swap without memory.swap.max is a clear error; -1 is accepted', async () => {
  const { m } = setup({ swap: false });
  await m.create();
  await assert.rejects(m.set({ memory: { limit: 64 * MiB, swap: 128 * MiB } }), {
    code: 'unavailable',
    message: /memory\.swap\.max/,
  });
  await m.set({ memory: { limit: 64 * MiB, swap: -1 } });
});

test('unified keys are validated: no "/" or "..", no runtime-owned files', async () => {
  const { m } = setup();
  await m.create();
  for (const k of ['../memory.max', 'memory/../x', 'memory..max', 'noDot', 'cgroup.procs', 'cgroup.subtree_control']) {
    await assert.rejects(
      m.set({ unified: { [k]: '1' } }),
      { code: 'invalid-argument', field: `linux.resources.unified["${k}"]` },
      k,
    );
  }
  await assert.rejects(m.set({ unified: { 'misc.max': 'x 1' } }), {
    code: 'unavailable',
    message: /the misc controller is not available/,
  });
});

test('a controller not available to the cgroup is named in the error', async () => {
  const fs = v2Fs();
  for (const d of [CG, `${CG}/user.slice`, `${CG}/user.slice/user-0.slice`]) {
    fs.files.set(`${d}/cgroup.controllers`, 'cpu memory\n');
    fs.files.delete(`${d}/pids.max`);
  }
  const { m } = setup({ fs });
  await m.create();
  await assert.rejects(m.set({ pids: { limit: 10 } }), {
    code: 'unavailable',
    message: /^linux\.resources\.pids\.limit: the pids controller is not available to .*c1 \(cgroup\.controllers: /,
  });
});

test('freeze waits for cgroup.events "frozen 1"; kill through cgroup.kill', async () => {
  const ffs = v2Fs({}, new FreezingFs());
  const { m } = setup({ fs: ffs });
  await m.create();
  await m.freeze();
  assert.equal(m.state(), 'frozen');
  assert.match(ffs.readFile(`${DIR}/cgroup.events`), /frozen 1/);
  await m.thaw();
  assert.equal(m.state(), 'thawed');
  assert.equal(m.killAll(), true);
  assert.equal(ffs.readFile(`${DIR}/cgroup.kill`), '1');
});

test('a failed set after create removes the cgroup it made', async () => {
  const { fs, m } = setup();
  fs.failWrites.set(`${DIR}/memory.max`, 'EBUSY');
  await assert.rejects(createWithResources(m, { memory: { limit: MiB } }), {
    code: 'failed-precondition',
    field: 'linux.resources.memory.limit',
  });
  assert.equal(m.exists(), false);
});

test('stats from v2 files', async () => {
  const { fs, m } = setup();
  await m.create();
  const set = (f: string, v: string) => fs.files.set(`${DIR}/${f}`, v);
  set('cpu.stat', 'usage_usec 100\nuser_usec 60\nsystem_usec 40\nnr_periods 5\nnr_throttled 1\nthrottled_usec 7\n');
  set('memory.current', '4096\n');
  set('memory.max', 'max\n');
  set('memory.stat', 'anon 1\nfile 2\n');
  set('pids.current', '2\n');
  set('pids.max', '10\n');
  set('io.stat', '8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n');
  const s = m.stats();
  assert.deepEqual(s.cpu.usage, { total: 100000, user: 60000, kernel: 40000 });
  assert.deepEqual(s.cpu.throttling, { periods: 5, throttledPeriods: 1, throttledTime: 7000 });
  assert.equal(s.memory.usage.usage, 4096);
  assert.equal(s.memory.usage.limit, 2 ** 64); // math.MaxUint64, as a double holds it
  assert.equal(s.memory.cache, 2);
  // swap in v1's memory+swap shape, as runc reports it on v2
  set('memory.max', '1000000\n');
  set('memory.swap.current', '100\n');
  set('memory.swap.max', '5000\n');
  assert.deepEqual(m.stats().memory.swap, { usage: 4196, max: 0, limit: 1005000, failcnt: 0 });
  assert.deepEqual(s.pids, { current: 2, limit: 10 });
  assert.deepEqual(s.blkio.ioServiceBytesRecursive, [
    { major: 8, minor: 0, op: 'Read', value: 10 },
    { major: 8, minor: 0, op: 'Write', value: 20 },
  ]);
  assert.deepEqual(
    s.blkio.ioServicedRecursive.map((e) => e.value),
    [1, 2],
  );
});
