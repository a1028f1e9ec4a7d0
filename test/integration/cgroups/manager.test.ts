// The cgroup managers against this host's kernel: limits written and read
// back, a real process placed, frozen, counted and removed. Every cgroup made
// here is under /berth-it-<pid>-<time>/ and removed in `after`, even on failure.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createManager, createWithResources, type CgroupManager } from '../../../src/runtime/cgroups/index.js';
import type { LinuxResources } from '../../../src/runtime/spec/types.js';
import { BerthError } from '../../../src/common/errors.js';
import { procState, readTrimmed as read, waitFor, waitingShells } from '../../helpers/procs.js';
import { sleep } from '../../helpers/wait.js';
import { hostCgroupLayout } from '../../helpers/cgroups.js';

const isRoot = process.getuid?.() === 0;
let skip: string | false = isRoot ? false : 'needs root to create cgroups';
const host = hostCgroupLayout();
if (host.why) skip = host.why;
const layout = host.layout;

const PARENT = `berth-it-${process.pid}-${Date.now().toString(36)}`;
const MiB = 1024 * 1024;
const shells = waitingShells();
const managers: CgroupManager[] = [];
let restoreUnifiedRoot = (): void => {};

function manager(name: string): CgroupManager {
  const m = createManager({ containerId: name, cgroupsPath: `/${PARENT}/${name}`, layout: layout! });
  managers.push(m);
  return m;
}

const waitingShell = shells.start;

/** A real block device of this host ("254:0"), for blkio throttles. */
function blockDevice(): string | undefined {
  for (const d of existsSync('/sys/block') ? readdirSync('/sys/block') : []) {
    if (d.startsWith('loop') || d.startsWith('ram')) continue;
    const dev = join('/sys/block', d, 'dev');
    if (existsSync(dev)) return read(dev);
  }
  return undefined;
}

function hierarchyRoots(): string[] {
  const roots = Object.values(layout?.v1 ?? {}).map((m) => m.mountpoint);
  if (layout?.unified) roots.push(layout.unified.mountpoint);
  return [...new Set(roots)];
}

before(() => {
  if (!skip) console.log(`# cgroup layout: ${layout!.mode}`);
});

after(async () => {
  shells.killAll();
  await sleep(50);
  for (const m of managers) {
    await m.thaw().catch(() => {});
    await m.destroy().catch(() => {});
  }
  for (const root of hierarchyRoots()) {
    const d = join(root, PARENT);
    if (existsSync(d)) rmdirSync(d);
  }
  restoreUnifiedRoot();
});

test('limits set on a real cgroup are what the kernel reports, for a real process inside', { skip }, async () => {
  const m = manager('limits');
  const v1 = m.version !== 'v2';
  const dev = blockDevice();
  const memsw = v1
    ? existsSync(join(layout!.v1['memory']?.mountpoint ?? '/nonexistent', 'memory.memsw.limit_in_bytes'))
    : true;
  const cpus = read(
    join(
      v1 ? layout!.v1['cpuset']!.mountpoint : layout!.unified!.mountpoint,
      v1 ? 'cpuset.cpus' : 'cpuset.cpus.effective',
    ),
  );
  const firstCpu = cpus.split(/[-,]/)[0]!;
  const resources: LinuxResources = {
    memory: { limit: 64 * MiB, ...(memsw ? { swap: 96 * MiB } : {}), reservation: 32 * MiB },
    cpu: { shares: 512, quota: 50000, period: 100000, cpus: firstCpu, mems: '0' },
    pids: { limit: 32 },
    ...(dev
      ? {
          blockIO: {
            throttleReadBpsDevice: [{ major: Number(dev.split(':')[0]), minor: Number(dev.split(':')[1]), rate: MiB }],
          },
        }
      : {}),
  };
  await createWithResources(m, resources);
  const p = m.paths();
  if (v1) {
    assert.equal(read(`${p['memory']}/memory.limit_in_bytes`), String(64 * MiB));
    if (memsw) assert.equal(read(`${p['memory']}/memory.memsw.limit_in_bytes`), String(96 * MiB));
    assert.equal(read(`${p['memory']}/memory.soft_limit_in_bytes`), String(32 * MiB));
    assert.equal(read(`${p['cpu']}/cpu.shares`), '512');
    assert.equal(read(`${p['cpu']}/cpu.cfs_quota_us`), '50000');
    assert.equal(read(`${p['cpu']}/cpu.cfs_period_us`), '100000');
    assert.equal(read(`${p['cpuset']}/cpuset.cpus`), firstCpu);
    assert.equal(read(`${p['cpuset']}/cpuset.mems`), '0');
    assert.equal(read(`${p['pids']}/pids.max`), '32');
    if (dev) assert.equal(read(`${p['blkio']}/blkio.throttle.read_bps_device`), `${dev} ${MiB}`);
  } else {
    const d = p['']!;
    assert.equal(read(`${d}/memory.max`), String(64 * MiB));
    assert.equal(read(`${d}/memory.swap.max`), String(32 * MiB));
    assert.equal(read(`${d}/cpu.weight`), '20');
    assert.equal(read(`${d}/cpu.max`), '50000 100000');
    assert.equal(read(`${d}/pids.max`), '32');
  }

  // a process placed with apply(), then doing work inside
  const sh = waitingShell('x=$(head -c 4000000 /dev/zero | tr "\\0" a); exec sleep 60');
  const pid = sh.pid!;
  await m.apply(pid);
  sh.stdin!.write('go\n');
  const own = read(`/proc/${pid}/cgroup`);
  for (const [name, dir] of Object.entries(p)) {
    const root = name === '' ? layout!.unified!.mountpoint : layout!.v1[name]!.mountpoint;
    assert.ok(
      own
        .split('\n')
        .some(
          (l) => l.endsWith(`:${dir.slice(root.length)}`) && (name === '' ? l.startsWith('0::') : l.includes(name)),
        ),
      `${name} in ${own}`,
    );
  }
  await waitFor('the shell to exec sleep', () => read(`/proc/${pid}/comm`) === 'sleep');
  assert.deepEqual(m.pids(), [pid]);

  const s = m.stats();
  assert.ok(s.cpu.usage.total > 0, `cpu usage ${s.cpu.usage.total}`);
  assert.ok(s.memory.usage.usage > 0, `memory usage ${s.memory.usage.usage}`);
  assert.ok(s.memory.usage.max >= 4_000_000 || !v1, `peak memory ${s.memory.usage.max} covers the 4 MB the shell held`);
  assert.equal(s.memory.usage.limit, 64 * MiB);
  assert.deepEqual(s.pids, { current: 1, limit: 32 });
  assert.deepEqual(s.cpuset.cpus, [Number(firstCpu)]);

  // update: set() again on the live cgroup
  await m.set({ pids: { limit: 5 }, memory: { limit: 48 * MiB, ...(memsw ? { swap: 48 * MiB } : {}) } });
  assert.equal(read(`${v1 ? p['pids'] : p['']}/pids.max`), '5');
  assert.equal(read(v1 ? `${p['memory']}/memory.limit_in_bytes` : `${p['']}/memory.max`), String(48 * MiB));
  assert.equal(m.stats().pids.limit, 5);
});

test('freeze and thaw a real process', { skip }, async () => {
  const m = manager('freezer');
  await m.create();
  const sh = waitingShell('while :; do :; done');
  await m.apply(sh.pid!);
  sh.stdin!.write('go\n');
  await waitFor('the loop to run', () => procState(sh.pid!) === 'R');
  await m.freeze();
  assert.equal(m.state(), 'frozen');
  if (m.version !== 'v2') assert.equal(read(`${m.paths()['freezer']}/freezer.state`), 'FROZEN');
  else assert.match(read(`${m.paths()['']}/cgroup.events`), /^frozen 1$/m);
  // a frozen task shows as D (Linux >= 6.1 freezer) or T/t, never running
  await waitFor('the task to stop running', () => ['D', 'T', 't'].includes(procState(sh.pid!)));
  const before = read(`/proc/${sh.pid}/stat`).split(' ')[13];
  await sleep(200);
  assert.equal(read(`/proc/${sh.pid}/stat`).split(' ')[13], before, 'no user time while frozen');
  await m.thaw();
  assert.equal(m.state(), 'thawed');
  await waitFor(
    'the loop to run again',
    () => procState(sh.pid!) === 'R' || read(`/proc/${sh.pid}/stat`).split(' ')[13] !== before,
  );
});

test(
  'the pids limit stops forks inside; kill --all; a cgroup with processes is destroyed once they exit',
  { skip },
  async (t) => {
    const m = manager('pids');
    await createWithResources(m, { pids: { limit: 3 } });
    const sh = waitingShell('for i in 1 2 3 4 5 6; do sleep 30 & done; wait');
    await m.apply(sh.pid!);
    sh.stdin!.write('go\n');
    let stderr = '';
    sh.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    // dash gives up at the first refused fork ("Cannot fork") and exits, leaving the sleeps it started
    await waitFor('a refused fork', () => /fork|resource/i.test(stderr));
    await waitFor('the shell to exit', () => sh.exitCode !== null);
    const pids = m.pids();
    assert.equal(pids.length, 2, `pids ${pids.join(',')}: the limit of 3 let the shell start only two`);
    assert.equal(m.stats().pids.current, pids.length);
    assert.ok(pids.every((pid) => ['sh', 'sleep'].includes(read(`/proc/${pid}/comm`))));
    // kill --all: cgroup.kill where there is one (v2, or the unified directory on hybrid), else one by one
    if (!m.killAll()) for (const pid of pids) process.kill(pid, 'SIGKILL');
    else t.diagnostic('killed through cgroup.kill');
    await waitFor('the processes to die', () =>
      pids.every((pid) => !existsSync(`/proc/${pid}`) || procState(pid) === 'Z'),
    );
    await m.destroy();
    assert.equal(m.exists(), false);
    for (const d of Object.values(m.paths())) assert.equal(existsSync(d), false, d);
  },
);

test(
  'v1 devices cgroup: only the allowed devices open',
  { skip: skip || (layout?.mode === 'v2' ? 'v1 devices controller only' : false) },
  async () => {
    const m = manager('devices');
    await createWithResources(m, {
      devices: [
        { allow: false, access: 'rwm' },
        { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
      ],
    });
    assert.equal(read(`${m.paths()['devices']}/devices.list`), 'c 1:3 rwm');
    const sh = waitingShell(
      'head -c0 /dev/null && echo null-ok; head -c1 /dev/zero >/dev/null 2>&1 || echo zero-denied',
    );
    await m.apply(sh.pid!);
    let out = '';
    sh.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    sh.stdin!.write('go\n');
    await new Promise((r) => sh.on('close', r));
    assert.equal(out, 'null-ok\nzero-denied\n');

    // update: /dev/zero readable too, /dev/null read-only; applied as differences
    await m.set({
      devices: [
        { allow: false, access: 'rwm' },
        { allow: true, type: 'c', major: 1, minor: 3, access: 'r' },
        { allow: true, type: 'c', major: 1, minor: 5, access: 'r' },
      ],
    });
    assert.equal(read(`${m.paths()['devices']}/devices.list`), 'c 1:3 r\nc 1:5 r');
    const sh2 = waitingShell('head -c1 /dev/zero | wc -c; (echo x > /dev/null) 2>/dev/null || echo null-write-denied');
    await m.apply(sh2.pid!);
    let out2 = '';
    sh2.stdout!.on('data', (b: Buffer) => (out2 += b.toString()));
    sh2.stdin!.write('go\n');
    await new Promise((r) => sh2.on('close', r));
    assert.equal(out2.replace(/ /g, ''), '1\nnull-write-denied\n');
  },
);

test('a setting the host refuses is a clear error and leaves no cgroup behind', { skip }, async () => {
  const m = manager('refused');
  await assert.rejects(createWithResources(m, { cpu: { cpus: '4095' } }), {
    code: 'invalid-argument',
    field: 'linux.resources.cpu.cpus',
  });
  assert.equal(m.exists(), false);
  await assert.rejects(createWithResources(m, { network: { classID: 0x100001 } }), {
    code: 'unavailable',
    field: 'linux.resources.network.classID',
  });
  assert.equal(m.exists(), false);
  for (const root of hierarchyRoots()) {
    const d = join(root, PARENT, 'refused');
    assert.equal(existsSync(d), false, d);
  }
});

test('nested cgroups made inside the container are removed by destroy', { skip }, async () => {
  const m = manager('nested');
  await m.create();
  const base = m.version === 'v2' ? m.paths()['']! : m.paths()['memory']!;
  const { mkdirSync } = await import('node:fs');
  mkdirSync(join(base, 'a/b'), { recursive: true });
  await m.destroy();
  assert.equal(existsSync(base), false);
});

test(
  'hugepage limits: v1 hugetlb, or on hybrid the cgroup2 hierarchy when only it offers hugetlb',
  { skip },
  async (t) => {
    const sizes = existsSync('/sys/kernel/mm/hugepages') ? readdirSync('/sys/kernel/mm/hugepages') : [];
    if (!sizes.includes('hugepages-2048kB')) return t.skip('no 2MB huge pages on this host');
    const m = manager('hugetlb');
    const root = layout!.unified?.mountpoint;
    const rootControl = root ? read(join(root, 'cgroup.subtree_control')) : '';
    try {
      await createWithResources(m, { hugepageLimits: [{ pageSize: '2MB', limit: 4 * 2 * MiB }] });
      const file = layout!.v1['hugetlb']
        ? `${m.paths()['hugetlb']}/hugetlb.2MB.limit_in_bytes`
        : `${m.paths()['']}/hugetlb.2MB.max`;
      assert.equal(read(file), String(8 * MiB));
      assert.ok('2MB' in m.stats().hugetlb);
    } catch (e) {
      // a host with neither: the error says so
      if (!(e instanceof BerthError && e.code === 'unavailable')) throw e;
      assert.match(e.message, /no hugetlb cgroup controller/);
      t.diagnostic(e.message);
      assert.equal(m.exists(), false);
    } finally {
      await m.destroy();
      // leave the host's unified root as it was (done in `after`, once our directories are gone)
      if (
        root &&
        !rootControl.split(' ').includes('hugetlb') &&
        read(join(root, 'cgroup.subtree_control')).includes('hugetlb')
      ) {
        restoreUnifiedRoot = () => writeFileSync(join(root, 'cgroup.subtree_control'), '-hugetlb');
      }
    }
  },
);

test('the memory limit is enforced: a process going past it is OOM-killed by the kernel', { skip }, async () => {
  const m = manager('oom');
  const v1 = m.version !== 'v2';
  const memsw =
    v1 && existsSync(join(layout!.v1['memory']?.mountpoint ?? '/nonexistent', 'memory.memsw.limit_in_bytes'));
  await createWithResources(m, { memory: { limit: 16 * MiB, ...(memsw ? { swap: 16 * MiB } : {}) } });
  // holds 64 MB in a shell variable
  const sh = waitingShell('x=$(head -c 64000000 /dev/zero | tr "\\0" a); echo survived');
  await m.apply(sh.pid!);
  sh.stdin!.write('go\n');
  let out = '';
  sh.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  await new Promise((r) => sh.on('close', r));
  assert.equal(out, '', 'the shell never got its 64 MB');
  assert.equal(sh.signalCode, 'SIGKILL');
  const oom = v1 ? read(`${m.paths()['memory']}/memory.oom_control`) : read(`${m.paths()['']}/memory.events`);
  assert.match(oom, /^oom_kill [1-9]/m);
  if (v1) {
    const peak = m.stats().memory.usage.max;
    assert.ok(peak <= 16 * MiB && peak > 8 * MiB, `peak ${peak} reached the 16 MiB limit and no further`);
  }
  await assert.rejects(m.apply(sh.pid!), { code: 'failed-precondition', message: /has exited/ });
});

test('blkio weights and hierarchy flags: written, or refused with the field named', { skip }, async (t) => {
  const m = manager('weights');
  await m.create();
  const dev = blockDevice();
  const p = m.paths();
  const v1 = m.version !== 'v2';
  try {
    await m.set({ blockIO: { weight: 500 } });
    if (v1)
      assert.equal(
        read(existsSync(`${p['blkio']}/blkio.weight`) ? `${p['blkio']}/blkio.weight` : `${p['blkio']}/blkio.bfq.weight`)
          .split('\n')[0]!
          .replace(/^default /, ''),
        '500',
      );
  } catch (e) {
    if (!(e instanceof BerthError && e.code === 'unavailable' && e.field === 'linux.resources.blockIO.weight')) throw e;
    t.diagnostic(e.message);
  }
  if (dev) {
    // per-device weights need BFQ on that device; with another scheduler the kernel says EOPNOTSUPP
    const [major, minor] = dev.split(':').map(Number) as [number, number];
    try {
      await m.set({ blockIO: { weightDevice: [{ major, minor, weight: 300 }] } });
    } catch (e) {
      if (!(
        e instanceof BerthError &&
        e.code === 'unavailable' &&
        e.field === 'linux.resources.blockIO.weightDevice[0].weight'
      ))
        throw e;
      t.diagnostic(e.message);
    }
  }
  if (v1) {
    // the kernel has made every memory cgroup hierarchical: turning it off is refused
    await assert.rejects(m.set({ memory: { useHierarchy: false } }), {
      code: 'invalid-argument',
      field: 'linux.resources.memory.useHierarchy',
    });
    await m.set({ memory: { useHierarchy: true } });
  }
});
