// The generated eBPF device filter, loaded into the kernel by
// native/berth-cgbpf and attached to a cgroup v2 directory: on our hybrid
// machines that is a directory in the controller-less hierarchy at
// /sys/fs/cgroup/unified, which still runs device programs. A process placed
// there may open /dev/null but not /dev/zero, nor a block device node.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deviceFilterProgram } from '../../../src/runtime/cgroups/devices/ebpf.js';
import {
  CGBPF_REFUSED,
  attachWithHelper,
  cgbpfPath,
  queryDeviceFilters,
} from '../../../src/runtime/cgroups/devices/loader.js';
import { applyDeviceRules, normalizeDeviceRules } from '../../../src/runtime/cgroups/devices/rules.js';
import { hostCgroupLayout } from '../../helpers/cgroups.js';

const layout = hostCgroupLayout().layout;
const skip =
  process.getuid?.() !== 0
    ? 'needs root (bpf and cgroups)'
    : !layout?.unified
      ? 'no cgroup2 hierarchy mounted'
      : !existsSync(cgbpfPath())
        ? `${cgbpfPath()} is not built (make -C native)`
        : false;

const dir = layout?.unified
  ? join(layout.unified.mountpoint, `berth-it-bpf-${process.pid}-${Date.now().toString(36)}`)
  : '';
const tmp = mkdtempSync(join(tmpdir(), 'berth-bpf-'));
const pids: number[] = [];

after(async () => {
  for (const p of pids) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  for (let i = 0; i < 50 && dir && existsSync(dir); i++) {
    try {
      rmdirSync(dir);
    } catch {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  rmSync(tmp, { recursive: true, force: true });
});

/** Runs a shell script inside `dir` (placed before it starts) and returns its output. */
async function runInside(script: string): Promise<string> {
  const c = spawn('/bin/sh', ['-c', `read go; ${script}`], { stdio: ['pipe', 'pipe', 'pipe'] });
  pids.push(c.pid!);
  writeFileSync(join(dir, 'cgroup.procs'), String(c.pid));
  let out = '';
  c.stdout.on('data', (b: Buffer) => (out += b.toString()));
  c.stderr.on('data', (b: Buffer) => (out += b.toString()));
  c.stdin.end('go\n');
  await new Promise((r) => c.on('close', r)); // close, not exit: after the output is read
  return out;
}

test('the generated program allows /dev/null and denies other devices, enforced by the kernel', { skip }, async () => {
  mkdirSync(dir);
  const node = join(tmp, 'sda');
  // b 8:0 (sd*): no such disk here, so outside the filter opening it fails with ENXIO
  assert.equal(spawnSync('mknod', [node, 'b', '8', '0']).status, 0);
  const outside = spawnSync('/bin/sh', ['-c', `head -c1 ${node} 2>&1`], { encoding: 'utf8' }).stdout;
  assert.match(outside, /No such device or address/);

  const rules = applyDeviceRules(
    normalizeDeviceRules([
      { allow: false, access: 'rwm' },
      { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }, // /dev/null
      { allow: true, type: 'c', major: 1, minor: 5, access: 'r' }, // /dev/zero, read only
    ]),
  );
  attachWithHelper(dir, deviceFilterProgram(rules));
  assert.equal(queryDeviceFilters(dir).length, 1);

  const out = await runInside(
    [
      'head -c0 /dev/null && echo null-read-ok',
      'echo x > /dev/null && echo null-write-ok',
      'head -c1 /dev/zero >/dev/null && echo zero-read-ok',
      'echo x > /dev/zero || echo zero-write-denied',
      `head -c1 ${node} || echo sda-denied`,
      `mknod ${tmp}/full c 1 7 || echo mknod-denied`,
      `mknod ${tmp}/null2 c 1 3 && echo mknod-null-ok`,
    ].join('; '),
  );
  assert.match(out, /null-read-ok/);
  assert.match(out, /null-write-ok/);
  assert.match(out, /zero-read-ok/);
  assert.match(out, /zero-write-denied/);
  // EPERM from the filter, not the ENXIO the device itself gives
  assert.match(out, new RegExp(`${node}.*Operation not permitted`));
  assert.match(out, /sda-denied/);
  assert.match(out, /mknod-denied/);
  assert.match(out, /mknod-null-ok/, 'the rwm rule for 1:3 includes mknod');
});

test('attaching again (update) replaces the filter instead of stacking a second one', { skip }, async () => {
  if (!existsSync(dir)) mkdirSync(dir);
  const before = queryDeviceFilters(dir);
  // now only /dev/zero
  attachWithHelper(
    dir,
    deviceFilterProgram(
      applyDeviceRules(normalizeDeviceRules([{ allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' }])),
    ),
  );
  const now = queryDeviceFilters(dir);
  assert.equal(now.length, 1);
  assert.notDeepEqual(now, before);
  const out = await runInside(
    'head -c0 /dev/null 2>&1 || echo null-denied; test "$(head -c1 /dev/zero | wc -c)" = 1 && echo zero-ok',
  );
  assert.match(out, /null-denied/);
  assert.match(out, /zero-ok/);
});

test('the loader reports failures as "berth-cgbpf: <step>: <strerror>"', { skip }, () => {
  const r = spawnSync(cgbpfPath(), ['/nonexistent-cgroup'], { input: Buffer.alloc(16), encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.equal(r.stderr.trim(), 'berth-cgbpf: open cgroup: No such file or directory');
  const bad = spawnSync(cgbpfPath(), [dir || '/'], { input: Buffer.alloc(7), encoding: 'utf8' });
  assert.equal(bad.stderr.trim(), 'berth-cgbpf: read program: Invalid argument');
  // a program the verifier refuses (no exit): the verifier's log is shown
  const loop = Buffer.from('b400000000000000', 'hex');
  const v = spawnSync(cgbpfPath(), [dir], { input: loop, encoding: 'utf8' });
  assert.equal(v.status, 1);
  assert.match(v.stderr, /berth-cgbpf: load program: /);
});

test(
  'the kernel refusing (EPERM, here as nobody) is exit status 3, which the loader reports as unavailable',
  { skip },
  () => {
    if (!existsSync(dir)) mkdirSync(dir);
    const program = deviceFilterProgram(
      applyDeviceRules(normalizeDeviceRules([{ allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }])),
    );
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', cgbpfPath(), dir], {
      input: program,
      encoding: 'utf8',
    });
    assert.equal(r.status, CGBPF_REFUSED, r.stderr);
    assert.match(r.stderr.trim(), /^berth-cgbpf: [a-z ]+: Operation not permitted$/);
  },
);
