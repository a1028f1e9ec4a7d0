// The engine primes the kernel's cgroup attach lock at containers.Create
// (src/engine/tasks/warm.ts): a write of its own pid into the cgroup.procs of
// the cgroup it is in. That write must move nothing: had it named any other
// cgroup, the engine itself (and the shims and berth-inits it starts after)
// would land there. What /proc shows of the engine's cgroups is the same
// after containers were created and run as before, and no prime failed.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Engine } from './helpers.js';
import { startTaskEngine, stopTaskEngine, taskSkip } from '../../helpers/task-engine.js';

const NS = `berth-warm${process.pid}`;

describe('priming the cgroup attach lock at containers.Create', { skip: taskSkip }, () => {
  let e: Engine;
  let rootfs: string;

  before(async () => ({ e, rootfs } = await startTaskEngine('berth-warm-')));
  after(() => stopTaskEngine(e, NS));

  it('moves the engine nowhere and never fails, for a run, a run -d and a container never started', () => {
    const cgroups = () => readFileSync(`/proc/${e.proc.pid}/cgroup`, 'utf8');
    const before = cgroups();
    const run = e.ctr(['run', '--rm', '--rootfs', rootfs, 'warm-rm', '/bin/true'], { ns: NS });
    assert.equal(run.status, 0, run.stderr);
    const d = e.ctr(['run', '-d', '--rootfs', rootfs, 'warm-d', '/bin/sleep', '60'], { ns: NS });
    assert.equal(d.status, 0, d.stderr);
    const c = e.ctr(['containers', 'create', '--rootfs', rootfs, 'warm-c', '/bin/true'], { ns: NS });
    assert.equal(c.status, 0, c.stderr);
    assert.equal(cgroups(), before);
    // the running container is in its own cgroups, not in the engine's
    const pid = /^\s*warm-d\s+(\d+)/m.exec(e.ctr(['task', 'ls'], { ns: NS }).stdout)?.[1];
    assert.ok(pid, 'warm-d is listed with its pid');
    assert.match(readFileSync(`/proc/${pid}/cgroup`, 'utf8'), new RegExp(`/${NS}/warm-d$`, 'm'));
    assert.doesNotMatch(e.log(), /priming the cgroup attach lock/);
  });
});
