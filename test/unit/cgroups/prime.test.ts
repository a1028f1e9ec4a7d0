// The target of the attach-lock prime: always this process's own cgroup (a
// write anywhere else would move the runtime), never outside a mount's view.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { layoutFrom } from '../../../src/runtime/cgroups/detect.js';
import { primeTarget } from '../../../src/runtime/cgroups/prime.js';
import { HYBRID_SELF, PROC_CGROUPS, V2_SELF, hybridLayout, v2Layout } from './fixtures.js';

test('hybrid: the unified hierarchy, where the runtime is now', () => {
  assert.equal(primeTarget(hybridLayout(), HYBRID_SELF), '/sys/fs/cgroup/unified/cgroup.procs');
  // /proc/self/cgroup as read at the prime wins over the layout's older copy.
  assert.equal(
    primeTarget(hybridLayout(), HYBRID_SELF.replace(/^0::\/$/m, '0::/moved/here')),
    '/sys/fs/cgroup/unified/moved/here/cgroup.procs',
  );
});

test('pure v2: its own cgroup', () => {
  assert.equal(primeTarget(v2Layout(), V2_SELF), '/sys/fs/cgroup/user.slice/user-0.slice/session-1.scope/cgroup.procs');
});

test('pure v1: the first hierarchy it is in, below the mount root', () => {
  const mi = `40 1 0:40 /outer /cg/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
41 1 0:41 / /cg/mem rw - cgroup cgroup rw,memory
`;
  const self = '2:cpu,cpuacct:/outer/a\n1:memory:/b\n';
  const l = layoutFrom({ mountinfo: mi, procCgroups: PROC_CGROUPS, selfCgroup: self });
  assert.equal(primeTarget(l, self), '/cg/cpu,cpuacct/a/cgroup.procs');
});

test("a cgroup outside the mount's view, or none at all: no prime", () => {
  const mi = '30 22 0:26 /ctr /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n';
  const l = layoutFrom({ mountinfo: mi, procCgroups: '', selfCgroup: '0::/ctr/inner\n' });
  assert.equal(primeTarget(l, '0::/ctr/inner\n'), '/sys/fs/cgroup/inner/cgroup.procs');
  assert.equal(primeTarget(l, '0::/elsewhere\n'), undefined);
  assert.equal(primeTarget(l, '0::/ctrl\n'), undefined);
  assert.equal(primeTarget(l, ''), undefined);
});
