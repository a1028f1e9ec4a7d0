// Resource values the kernel would clamp (or refuse with a bare EINVAL) are
// refused with the field named, at create and at update, with nothing left
// and the kernel's value unchanged; a setting for a controller the host does
// not have is an error naming the field, and one it has reaches the kernel.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isRoot, leftovers, runc, uniqueId, suiteBundles } from '../../helpers/runtime.js';
import type { LinuxResources } from '../../../src/runtime/spec/types.js';

const skip = !isRoot() ? 'needs root' : false;

/**
 * Where the host offers a controller to containers: a v1 mount, the cgroup2
 * hierarchy, or nowhere. Beside v1 controllers (hybrid), the cgroup2 root
 * must delegate it already: the runtime never changes the root's
 * subtree_control.
 */
function controllerHome(controller: string): { v1?: string; v2?: string } {
  let v2: string | undefined;
  let hybrid = false;
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-');
    if (sep < 0) continue;
    if (f[sep + 1] === 'cgroup') hybrid = true;
    if (f[sep + 1] === 'cgroup' && f[sep + 3]!.split(',').includes(controller)) return { v1: f[4] };
    if (f[sep + 1] === 'cgroup2') v2 = f[4];
  }
  const offered =
    v2 && readFileSync(join(v2, hybrid ? 'cgroup.subtree_control' : 'cgroup.controllers'), 'utf8').split(/\s+/);
  return offered && offered.includes(controller) ? { v2 } : {};
}

/** A file of the process's cgroup in the hierarchy that holds `controller`. */
function kernelFile(pid: number, home: { v1?: string; v2?: string }, controller: string, file: string): string {
  const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n');
  const line = home.v1
    ? lines.find((l) => l.split(':')[1]!.split(',').includes(controller))
    : lines.find((l) => l.startsWith('0::'));
  return readFileSync(join((home.v1 ?? home.v2)!, line!.split(':')[2]!, file), 'utf8').trim();
}

describe('resource values the kernel would clamp', { skip }, () => {
  const bundle = suiteBundles();

  const cases: [string, LinuxResources, RegExp][] = [
    [
      'a memory limit above the kernel maximum',
      { memory: { limit: 2 ** 63 } } /* int64 max, as a double holds it */,
      /linux\.resources\.memory\.limit: .* above the kernel's maximum/,
    ],
    [
      'a memory reservation above the kernel maximum',
      { memory: { reservation: 2 ** 64 } },
      /linux\.resources\.memory\.reservation: /,
    ],
    [
      'a negative quota other than -1',
      { cpu: { quota: -5, period: 100000 } },
      /linux\.resources\.cpu\.quota: must be -1 \(unlimited\) or at least 1000/,
    ],
    ['cpu shares below 2', { cpu: { shares: 1 } }, /linux\.resources\.cpu\.shares: must be from 2 to 262144/],
    ['cpu shares above 262144', { cpu: { shares: 300000 } }, /linux\.resources\.cpu\.shares: must be from 2 to 262144/],
    [
      'a CFS period above 1 s',
      { cpu: { period: 2000000 } },
      /linux\.resources\.cpu\.period: must be from 1000 to 1000000/,
    ],
    [
      'a pids limit above PID_MAX_LIMIT',
      { pids: { limit: 5000000 } },
      /linux\.resources\.pids\.limit: .* above the kernel's maximum/,
    ],
    [
      'a blkio weight below 10',
      { blockIO: { weight: 5 } },
      /linux\.resources\.blockIO\.weight: must be from 10 to 1000/,
    ],
    [
      'a hugetlb limit that is not whole pages',
      { hugepageLimits: [{ pageSize: '2MB', limit: 1048576 }] },
      /linux\.resources\.hugepageLimits\[0\]\.limit: 1048576 is not a multiple of the 2MB page size/,
    ],
  ];
  for (const [what, resources, why] of cases) {
    it(`create refuses ${what}`, () => {
      const b = bundle('exec sleep 100', (s) => (s.linux!.resources = { ...s.linux!.resources, ...resources }));
      const id = uniqueId();
      const r = runc(b, ['create', '--bundle', b.dir, id]);
      assert.notEqual(r.status, 0, `created with ${JSON.stringify(resources)}`);
      assert.match(r.stderr, why);
      assert.deepEqual(leftovers(b, id), []);
    });
  }

  it('update refuses a clamped value and the kernel keeps the old one', () => {
    const b = bundle(
      'exec sleep 100',
      (s) => (s.linux!.resources = { ...s.linux!.resources, memory: { limit: 100 << 20 }, cpu: { shares: 512 } }),
    );
    const id = uniqueId();
    assert.equal(runc(b, ['run', '-d', '--bundle', b.dir, id]).status, 0);
    try {
      const pid = JSON.parse(runc(b, ['state', id]).stdout).pid as number;
      const mem = controllerHome('memory');
      const file = mem.v1 ? 'memory.limit_in_bytes' : 'memory.max';
      const before = kernelFile(pid, mem, 'memory', file);
      assert.equal(before, String(100 << 20));
      const res = join(b.dir, 'res.json');
      writeFileSync(res, '{"memory": {"limit": 9223372036854775807}}');
      let r = runc(b, ['update', '-r', res, id]);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /memory\.limit: .* above the kernel's maximum/);
      assert.equal(kernelFile(pid, mem, 'memory', file), before);
      r = runc(b, ['update', '--cpu-quota', '-5', id]);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /cpu\.quota: must be -1/);
    } finally {
      assert.equal(runc(b, ['delete', '--force', id]).status, 0);
    }
  });
});

describe('a setting the host cannot honour is an error naming the field', { skip }, () => {
  const bundle = suiteBundles();

  // One setting per controller, its kernel file and the value the kernel then shows.
  const settings: {
    controller: string;
    resources: LinuxResources;
    field: RegExp;
    v1: [string, string];
    v2?: [string, string];
  }[] = [
    {
      controller: 'hugetlb',
      resources: { hugepageLimits: [{ pageSize: '2MB', limit: 4 << 20 }] },
      field: /linux\.resources\.hugepageLimits\[0\]/,
      v1: ['hugetlb.2MB.limit_in_bytes', String(4 << 20)],
      v2: ['hugetlb.2MB.max', String(4 << 20)],
    },
    {
      controller: 'net_cls',
      resources: { network: { classID: 0x100001 } },
      field: /linux\.resources\.network\.classID/,
      v1: ['net_cls.classid', String(0x100001)],
    },
    {
      controller: 'net_prio',
      resources: { network: { priorities: [{ name: 'lo', priority: 5 }] } },
      field: /linux\.resources\.network\.priorities\[0\]/,
      v1: ['net_prio.ifpriomap', 'lo 5'],
    },
    {
      controller: 'rdma',
      resources: { rdma: { mlx_berth0: { hcaHandles: 3 } } },
      field: /linux\.resources\.rdma\["mlx_berth0"\]/,
      v1: ['rdma.max', 'mlx_berth0'],
      v2: ['rdma.max', 'mlx_berth0'],
    },
    {
      controller: 'pids',
      resources: { pids: { limit: 42 } },
      field: /linux\.resources\.pids\.limit/,
      v1: ['pids.max', '42'],
      v2: ['pids.max', '42'],
    },
    {
      controller: 'memory',
      resources: { memory: { limit: 64 << 20 } },
      field: /linux\.resources\.memory\.limit/,
      v1: ['memory.limit_in_bytes', String(64 << 20)],
      v2: ['memory.max', String(64 << 20)],
    },
  ];
  // The host's cgroup tree is as it was after each test (nothing enabled at the root).
  const rootControl = () =>
    readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .filter((l) => l.includes(' - cgroup2 '))
      .map((l) => readFileSync(join(l.split(' ')[4]!, 'cgroup.subtree_control'), 'utf8'));
  for (const s of settings) {
    const home = controllerHome(s.controller);
    const usable = home.v1 !== undefined || (home.v2 !== undefined && s.v2 !== undefined);
    it(`${s.controller}: ${usable ? 'reaches the kernel' : 'absent here, so create fails naming the field'}`, () => {
      const b = bundle(
        'exec sleep 100',
        (spec) => (spec.linux!.resources = { ...spec.linux!.resources, ...s.resources }),
      );
      const id = uniqueId();
      const control = rootControl();
      const r = runc(b, ['create', '--bundle', b.dir, id]);
      assert.deepEqual(rootControl(), control, "the cgroup2 root's subtree_control is unchanged");
      if (!usable) {
        assert.notEqual(r.status, 0, `${s.controller} is not on this host, yet the container was created`);
        assert.match(r.stderr, s.field);
        assert.deepEqual(leftovers(b, id), []);
        return;
      }
      // rdma: the kernel refuses a device it does not have, naming it.
      if (s.controller === 'rdma' && r.status !== 0) {
        assert.match(r.stderr, s.field);
        return;
      }
      assert.equal(r.status, 0, r.stderr);
      try {
        const pid = JSON.parse(runc(b, ['state', id]).stdout).pid as number;
        const [file, value] = home.v1 ? s.v1 : s.v2!;
        assert.ok(kernelFile(pid, home, s.controller, file).includes(value), `${file}`);
      } finally {
        assert.equal(runc(b, ['delete', '--force', id]).status, 0);
      }
    });
  }
});
