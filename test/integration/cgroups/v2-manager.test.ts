// The v2 manager against the real kernel. On a pure v2 host that is the
// ordinary case; on our hybrid machines the controller-less hierarchy at
// /sys/fs/cgroup/unified still has every core v2 feature (cgroup.procs,
// cgroup.freeze/cgroup.events, cgroup.kill, cpu.stat, eBPF device programs),
// so the manager is pointed at a private directory there, taken as the root
// of a "v2" layout, and everything but the controllers is exercised for real.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createManager, type CgroupLayout, type CgroupManager } from '../../../src/runtime/cgroups/index.js';
import { cgbpfPath } from '../../../src/runtime/cgroups/devices/loader.js';
import { procState, readTrimmed as read, waitFor, waitingShells } from '../../helpers/procs.js';
import { sleep } from '../../helpers/wait.js';
import { hostCgroupLayout } from '../../helpers/cgroups.js';

const host = hostCgroupLayout().layout;
const skip =
  process.getuid?.() !== 0
    ? 'needs root'
    : !host?.unified
      ? 'no cgroup2 hierarchy mounted'
      : !existsSync(join(host.unified.mountpoint, 'cgroup.freeze')) && host.mode === 'v2'
        ? 'kernel without cgroup.freeze'
        : false;

const base = host?.unified
  ? join(host.unified.mountpoint, `berth-it-v2-${process.pid}-${Date.now().toString(36)}`)
  : '';
const shells = waitingShells();
let m: CgroupManager | undefined;

/** A "v2 host" whose hierarchy root is our private directory. */
function privateLayout(): CgroupLayout {
  return { mode: 'v2', v1: {}, unified: { mountpoint: base, root: '/' }, own: { v1: {}, unified: '/' }, enabled: [] };
}

const shell = shells.start;

let restoreRoot = (): void => {};

after(async () => {
  shells.killAll();
  await sleep(50);
  await m?.thaw().catch(() => {});
  await m?.destroy().catch(() => {});
  if (base && existsSync(base)) rmdirSync(base);
  restoreRoot();
});

test('v2 manager on the real kernel: create, apply, freeze, devices, stats, kill, destroy', { skip }, async () => {
  mkdirSync(base);
  m = createManager({ containerId: 'c1', cgroupsPath: '/c1', layout: privateLayout() });
  assert.equal(m.version, 'v2');
  await m.create();
  const dir = m.paths()['']!;
  assert.equal(dir, join(base, 'c1'));
  assert.ok(existsSync(join(dir, 'cgroup.procs')));

  const sh = shell('i=0; while :; do i=$((i+1)); done');
  await m.apply(sh.pid!);
  sh.stdin!.write('go\n');
  const rel = dir.slice(host!.unified!.mountpoint.length);
  assert.ok(read(`/proc/${sh.pid}/cgroup`).split('\n').includes(`0::${rel}`));
  assert.deepEqual(m.pids(), [sh.pid]);

  await waitFor('the loop to run', () => procState(sh.pid!) === 'R');
  await m.freeze();
  assert.equal(m.state(), 'frozen');
  assert.match(read(join(dir, 'cgroup.events')), /^frozen 1$/m);
  // the v2 freezer parks tasks in an interruptible sleep (S), v1's in D: either way not running
  await waitFor('the task to stop', () => procState(sh.pid!) !== 'R');
  const utime = read(`/proc/${sh.pid}/stat`).split(' ')[13];
  await sleep(200);
  assert.equal(read(`/proc/${sh.pid}/stat`).split(' ')[13], utime, 'no user time while frozen');
  await m.thaw();
  assert.equal(m.state(), 'thawed');
  assert.match(read(join(dir, 'cgroup.events')), /^frozen 0$/m);

  await sleep(50);
  const s = m.stats();
  assert.ok(s.cpu.usage.total > 0, `cpu usage ${s.cpu.usage.total}`);
  assert.ok(s.cpu.usage.user > 0);

  // a controller this cgroup does not have: the error names the field and the controller
  await assert.rejects(m.set({ pids: { limit: 10 } }), {
    code: 'unavailable',
    field: 'linux.resources.pids.limit',
    message: /the pids controller is not available to .*c1 \(cgroup\.controllers: none\)/,
  });

  // devices through the manager: eBPF program attached by berth-cgbpf
  if (existsSync(cgbpfPath())) {
    await m.set({
      devices: [
        { allow: false, access: 'rwm' },
        { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
      ],
    });
    const probe = shell('head -c0 /dev/null && echo null-ok; head -c1 /dev/zero >/dev/null 2>&1 || echo zero-denied');
    await m.apply(probe.pid!);
    let out = '';
    probe.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    probe.stdin!.end('go\n');
    await new Promise((r) => probe.on('close', r)); // close: 'exit' can come before the last output
    assert.equal(out, 'null-ok\nzero-denied\n');
  }

  // kill --all through cgroup.kill
  assert.equal(m.killAll(), true);
  await waitFor('the loop to die', () => sh.signalCode !== null);
  assert.equal(sh.signalCode, 'SIGKILL');
  await m.destroy();
  assert.equal(m.exists(), false);
});

test(
  'v2 controllers enabled down the path and written: hugetlb, the one controller a hybrid host leaves to cgroup2',
  { skip },
  async (t) => {
    const root = host!.unified!.mountpoint;
    const offered = read(join(root, 'cgroup.controllers')).split(/\s+/);
    if (!offered.includes('hugetlb')) return t.skip('the cgroup2 hierarchy offers no hugetlb here');
    if (
      !existsSync('/sys/kernel/mm/hugepages') ||
      !readdirSync('/sys/kernel/mm/hugepages').includes('hugepages-2048kB')
    )
      return t.skip('no 2MB huge pages');
    // make hugetlb available to our private root, as a v2 host's root offers it
    const before = read(join(root, 'cgroup.subtree_control')).split(/\s+/);
    if (!before.includes('hugetlb')) {
      writeFileSync(join(root, 'cgroup.subtree_control'), '+hugetlb');
      restoreRoot = () => writeFileSync(join(root, 'cgroup.subtree_control'), '-hugetlb');
    }
    if (!existsSync(base)) mkdirSync(base);
    const h = createManager({ containerId: 'h1', cgroupsPath: '/a/h1', layout: privateLayout() });
    try {
      await h.create();
      // create() enabled it in the private root and in the intermediate /a
      assert.match(read(join(base, 'cgroup.subtree_control')), /\bhugetlb\b/);
      assert.match(read(join(base, 'a', 'cgroup.subtree_control')), /\bhugetlb\b/);
      const dir = h.paths()['']!;
      await h.set({ hugepageLimits: [{ pageSize: '2MB', limit: 8 * 1024 * 1024 }] });
      assert.equal(read(join(dir, 'hugetlb.2MB.max')), String(8 * 1024 * 1024));
      await h.set({ unified: { 'hugetlb.2MB.max': String(4 * 1024 * 1024) } });
      assert.equal(read(join(dir, 'hugetlb.2MB.max')), String(4 * 1024 * 1024));
      assert.deepEqual(h.stats().hugetlb['2MB'], { usage: 0, max: 0, failcnt: 0 });
      await assert.rejects(h.set({ hugepageLimits: [{ pageSize: '3MB', limit: 1 }] }), {
        code: 'unavailable',
        field: 'linux.resources.hugepageLimits[0]',
      });
    } finally {
      await h.destroy();
      for (const d of [join(base, 'a')]) if (existsSync(d)) rmdirSync(d);
      // the private root's subtree_control must be emptied before the host root can drop hugetlb
      if (existsSync(base)) writeFileSync(join(base, 'cgroup.subtree_control'), '-hugetlb');
    }
  },
);
