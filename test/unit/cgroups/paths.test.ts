import { test } from 'node:test';
import assert from 'node:assert/strict';
import { innerPath, unifiedDir, v1Dir } from '../../../src/runtime/cgroups/paths.js';
import { createManager } from '../../../src/runtime/cgroups/manager.js';
import { hybridLayout, v2Layout } from './fixtures.js';
import { layoutFrom } from '../../../src/runtime/cgroups/detect.js';

test('empty cgroupsPath is /<containerId> (runc cgroupfs default)', () => {
  assert.deepEqual(innerPath('', 'web'), { path: '/web', absolute: true });
  assert.deepEqual(innerPath(undefined, 'web'), { path: '/web', absolute: true });
});

test('paths are cleaned; ".." is rejected, not rewritten', () => {
  assert.deepEqual(innerPath('/a//b/./c/', 'x'), { path: '/a/b/c', absolute: true });
  assert.deepEqual(innerPath('a/b', 'x'), { path: 'a/b', absolute: false });
  for (const bad of ['../x', '/a/../../etc', 'a/..', '..']) {
    assert.throws(() => innerPath(bad, 'x'), {
      code: 'invalid-argument',
      field: 'linux.cgroupsPath',
      message: /"\.\."/,
    });
  }
  assert.throws(() => innerPath('/', 'x'), { code: 'invalid-argument' });
  assert.throws(() => innerPath('', '../x'), { code: 'invalid-argument' });
});

test('systemd-style paths get a clear unavailable error', () => {
  assert.throws(() => innerPath('system.slice:docker:abc', 'x'), {
    code: 'unavailable',
    message: /systemd cgroup driver is not supported/,
  });
  assert.throws(() => innerPath(':berth:abc', 'x'), { code: 'unavailable' });
});

test('absolute paths start at each hierarchy root', () => {
  const l = hybridLayout();
  const inner = innerPath('/berth/c1', 'c1');
  assert.equal(v1Dir(l, 'memory', inner), '/sys/fs/cgroup/memory/berth/c1');
  assert.equal(v1Dir(l, 'cpu', inner), '/sys/fs/cgroup/cpu/berth/c1');
  assert.equal(v1Dir(l, 'hugetlb', inner), undefined);
  assert.equal(unifiedDir(l, inner), '/sys/fs/cgroup/unified/berth/c1');
});

test('relative paths: under our own cgroup on v1 and hybrid, under its parent on v2', () => {
  const l = hybridLayout();
  const inner = innerPath('berth/c1', 'c1');
  assert.equal(v1Dir(l, 'memory', inner), '/sys/fs/cgroup/memory/process_api/abc/berth/c1');
  assert.equal(v1Dir(l, 'cpu', inner), '/sys/fs/cgroup/cpu/berth/c1');
  assert.equal(unifiedDir(l, inner), '/sys/fs/cgroup/unified/berth/c1');
  assert.equal(unifiedDir(v2Layout(), inner), '/sys/fs/cgroup/user.slice/user-0.slice/berth/c1');
});

test('inside a cgroup namespace the mount root is taken off our own cgroup', () => {
  const l = layoutFrom({
    mountinfo: '30 22 0:26 /outer /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n',
    procCgroups: '',
    selfCgroup: '0::/outer/inner/me\n',
  });
  assert.equal(unifiedDir(l, innerPath('c1', 'c1')), '/sys/fs/cgroup/inner/c1');
});

test('manager paths(): one per hierarchy, "" for the unified directory', () => {
  const m = createManager({ containerId: 'c1', layout: hybridLayout() });
  assert.equal(m.version, 'hybrid');
  const p = m.paths();
  assert.equal(p['memory'], '/sys/fs/cgroup/memory/c1');
  assert.equal(p['name=systemd'], '/sys/fs/cgroup/systemd/c1');
  assert.equal(p[''], '/sys/fs/cgroup/unified/c1');
  assert.deepEqual(createManager({ containerId: 'c1', layout: v2Layout() }).paths(), { '': '/sys/fs/cgroup/c1' });
});
