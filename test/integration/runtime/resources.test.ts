// cgroup limits from config.json and from `update`, as the kernel reports them.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { isRoot, runc, uniqueId, suiteBundles } from '../../helpers/runtime.js';

const skip = !isRoot() ? 'needs root' : false;

/** The container's cgroup directory for a v1 controller (this host is v1/hybrid) or v2. */
function cgroupFile(pid: number, controller: string, file: string): string {
  const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n');
  const v1 = lines.find((l) => l.split(':')[1]!.split(',').includes(controller));
  if (v1) return readFileSync(`/sys/fs/cgroup/${controller}${v1.split(':')[2]}/${file}`, 'utf8').trim();
  const v2 = lines.find((l) => l.startsWith('0::'))!;
  return readFileSync(`/sys/fs/cgroup${v2.slice(3)}/${file}`, 'utf8').trim();
}

const v1 = readFileSync('/proc/self/cgroup', 'utf8').includes(':memory:');

describe('resources', { skip }, () => {
  const bundle = suiteBundles();

  it('limits from config.json reach the kernel; update changes them; stats read them', () => {
    const b = bundle('exec sleep 1000', (s) => {
      s.linux!.resources = {
        ...s.linux!.resources,
        memory: { limit: 100 * 1024 * 1024, reservation: 50 * 1024 * 1024 },
        cpu: { shares: 512, quota: 50000, period: 100000, cpus: '0' },
        pids: { limit: 42 },
      };
    });
    const id = uniqueId();
    assert.equal(runc(b, ['run', '-d', '--bundle', b.dir, id]).status, 0);
    const pid = JSON.parse(runc(b, ['state', id]).stdout).pid as number;
    if (v1) {
      assert.equal(cgroupFile(pid, 'memory', 'memory.limit_in_bytes'), String(100 * 1024 * 1024));
      assert.equal(cgroupFile(pid, 'memory', 'memory.soft_limit_in_bytes'), String(50 * 1024 * 1024));
      assert.equal(cgroupFile(pid, 'cpu', 'cpu.shares'), '512');
      assert.equal(cgroupFile(pid, 'cpu', 'cpu.cfs_quota_us'), '50000');
      assert.equal(cgroupFile(pid, 'cpuset', 'cpuset.cpus'), '0');
      assert.equal(cgroupFile(pid, 'pids', 'pids.max'), '42');
    } else {
      assert.equal(cgroupFile(pid, 'memory', 'memory.max'), String(100 * 1024 * 1024));
      assert.equal(cgroupFile(pid, 'cpu', 'cpu.max'), '50000 100000');
      assert.equal(cgroupFile(pid, 'pids', 'pids.max'), '42');
    }
    // The device rules: /dev/null usable, a disk not.
    let r = runc(b, [
      'exec',
      id,
      'sh',
      '-c',
      'echo ok > /dev/null && echo null-ok; mknod /dev/sdz b 8 0 && head -c1 /dev/sdz; true',
    ]);
    assert.match(r.stdout, /null-ok/);
    assert.match(r.stderr, /Operation not permitted/);

    r = runc(b, ['update', '--memory', '200m', '--pids-limit', '7', '--cpu-share', '256', id]);
    assert.equal(r.status, 0, r.stderr);
    if (v1) {
      assert.equal(cgroupFile(pid, 'memory', 'memory.limit_in_bytes'), String(200 * 1024 * 1024));
      assert.equal(cgroupFile(pid, 'cpu', 'cpu.shares'), '256');
    }
    assert.equal(cgroupFile(pid, 'pids', 'pids.max'), '7');
    r = runc(b, ['update', '--resources', '-', id], { input: JSON.stringify({ pids: { limit: 9 } }) });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(cgroupFile(pid, 'pids', 'pids.max'), '9');
    r = runc(b, ['update', '--resources', '-', id], { input: JSON.stringify({ pids: { limit: 'lots' } }) });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /--resources -.*pids\.limit/);

    const ev = JSON.parse(runc(b, ['events', '--stats', id]).stdout);
    assert.equal(ev.type, 'stats');
    assert.equal(ev.id, id);
    assert.equal(ev.data.pids.current, 1);
    assert.equal(ev.data.pids.limit, 9);
    assert.ok(ev.data.memory.usage.usage > 0);
    assert.ok(ev.data.cpu.usage.total > 0);

    // The pids limit holds inside: a fork bomb stops at 9.
    r = runc(b, ['exec', id, 'sh', '-c', 'for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 5 & done 2>&1; wait']);
    assert.match(r.stdout + r.stderr, /can't fork|Resource temporarily unavailable/);
    assert.equal(runc(b, ['delete', '--force', id]).status, 0);
  });

  it('events streams stats at the interval until the container stops; ps prints ps(1) lines', async () => {
    const b = bundle('exec sleep 1000');
    const id = uniqueId();
    assert.equal(runc(b, ['run', '-d', '--bundle', b.dir, id]).status, 0);
    const pid = JSON.parse(runc(b, ['state', id]).stdout).pid as number;
    const table = runc(b, ['ps', id]).stdout.trim().split('\n');
    assert.match(table[0]!, /PID/);
    assert.equal(table.length, 2);
    assert.match(table[1]!, new RegExp(`\\b${pid}\\b.*sleep 1000`));
    const { spawn } = await import('node:child_process');
    const { CLI } = await import('../../helpers/runtime.js');
    const ev = spawn(CLI, ['--root', b.root, 'events', '--interval', '100ms', id], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    ev.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const exited = new Promise<number | null>((r) => ev.on('close', (c) => r(c))); // close: after the last output
    while (out.split('\n').filter(Boolean).length < 3) await new Promise((r) => setTimeout(r, 50));
    assert.equal(runc(b, ['kill', id, 'KILL']).status, 0);
    assert.equal(await exited, 0);
    const events = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.ok(events.length >= 3);
    for (const e of events) {
      assert.equal(e.type, 'stats');
      assert.equal(e.id, id);
    }
    assert.equal(runc(b, ['delete', id]).status, 0);
  });
});
