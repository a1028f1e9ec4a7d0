import { test } from 'node:test';
import assert from 'node:assert/strict';
import { layoutFrom, parseMountinfo, parseProcCgroup } from '../../../src/runtime/cgroups/detect.js';
import {
  HYBRID_MOUNTINFO,
  HYBRID_SELF,
  PROC_CGROUPS,
  V2_MOUNTINFO,
  V2_SELF,
  hybridLayout,
  v2Layout,
} from './fixtures.js';

test('hybrid host: v1 controllers from mountinfo, the cgroup2 mount as unified, own cgroups', () => {
  const l = hybridLayout();
  assert.equal(l.mode, 'hybrid');
  assert.deepEqual(l.unified, { mountpoint: '/sys/fs/cgroup/unified', root: '/' });
  assert.deepEqual(Object.keys(l.v1).sort(), [
    'blkio',
    'cpu',
    'cpuacct',
    'cpuset',
    'devices',
    'freezer',
    'memory',
    'name=systemd',
    'pids',
  ]);
  assert.equal(l.v1['memory']!.mountpoint, '/sys/fs/cgroup/memory');
  assert.equal(l.own.v1['memory'], '/process_api/abc');
  assert.equal(l.own.unified, '/');
  assert.ok(l.enabled.includes('hugetlb'));
  assert.equal(l.v1['hugetlb'], undefined, 'enabled but not mounted');
});

test('pure v2 host', () => {
  const l = v2Layout();
  assert.equal(l.mode, 'v2');
  assert.deepEqual(l.v1, {});
  assert.equal(l.unified!.mountpoint, '/sys/fs/cgroup');
  assert.equal(l.own.unified, '/user.slice/user-0.slice/session-1.scope');
});

test('pure v1 with co-mounted cpu,cpuacct and mount points found, not assumed', () => {
  const mi = `40 1 0:40 / /cg/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
41 1 0:41 / /cg/mem rw - cgroup cgroup rw,memory
42 1 0:42 / /cg/systemd rw - cgroup cgroup rw,xattr,name=systemd
`;
  const l = layoutFrom({ mountinfo: mi, procCgroups: PROC_CGROUPS, selfCgroup: '2:cpu,cpuacct:/a\n1:memory:/b\n' });
  assert.equal(l.mode, 'v1');
  assert.equal(l.unified, undefined);
  assert.equal(l.v1['cpu']!.mountpoint, '/cg/cpu,cpuacct');
  assert.deepEqual(l.v1['cpuacct'], l.v1['cpu']);
  assert.equal(l.v1['memory']!.mountpoint, '/cg/mem');
  assert.equal(l.v1['name=systemd']!.mountpoint, '/cg/systemd');
  assert.equal(l.v1['xattr'], undefined);
  assert.deepEqual(l.own.v1, { cpu: '/a', cpuacct: '/a', memory: '/b' });
});

test('a v2 host whose only v1 mount is name=systemd is still v2', () => {
  const mi = V2_MOUNTINFO + '50 30 0:50 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n';
  assert.equal(layoutFrom({ mountinfo: mi, procCgroups: PROC_CGROUPS, selfCgroup: V2_SELF }).mode, 'v2');
});

test('mountinfo escapes and the mount root (inside a cgroup namespace) are kept', () => {
  const [m] = parseMountinfo('30 22 0:26 /ctr\\040x /sys/fs/cg\\040x rw shared:4 master:1 - cgroup2 cgroup2 rw\n');
  assert.deepEqual(m, { root: '/ctr x', mountpoint: '/sys/fs/cg x', fstype: 'cgroup2', superOptions: ['rw'] });
});

test('/proc/self/cgroup lines', () => {
  assert.deepEqual(parseProcCgroup(HYBRID_SELF).v1['name=systemd'], '/');
  assert.deepEqual(parseProcCgroup('0::/a/b\n'), { v1: {}, unified: '/a/b' });
});

test('no cgroup mount at all is a clear error', () => {
  assert.throws(
    () => layoutFrom({ mountinfo: '22 1 254:0 / / rw - ext4 /dev/vda rw\n', procCgroups: '', selfCgroup: '' }),
    { code: 'unavailable', message: /no cgroup filesystem/ },
  );
});

test('without /proc/cgroups, v1 controllers are still recognised', () => {
  assert.equal(layoutFrom({ mountinfo: HYBRID_MOUNTINFO, procCgroups: '', selfCgroup: HYBRID_SELF }).mode, 'hybrid');
});

test('detectLayout reads the three /proc files through the fs seam', async () => {
  const { detectLayout } = await import('../../../src/runtime/cgroups/detect.js');
  const { MemoryCgroupFs } = await import('../../../src/runtime/cgroups/fs.js');
  const fs = new MemoryCgroupFs()
    .seed('/proc/self', { mountinfo: HYBRID_MOUNTINFO, cgroup: HYBRID_SELF })
    .seed('/proc', { cgroups: PROC_CGROUPS });
  assert.equal(detectLayout(fs).mode, 'hybrid');
  assert.throws(() => detectLayout(new MemoryCgroupFs()), {
    code: 'unavailable',
    message: /cannot read \/proc\/self\/mountinfo/,
  });
});
