// OOM kills reported when they happen: a container whose child allocates
// past the memory limit is OOM-killed by the kernel while the container's
// init goes on; `ctr events` shows /tasks/oom at that moment (the task still
// RUNNING, no exit), not only when the container exits. berth-shim watches
// the memory cgroup (v1 memory.oom_control eventfd on this host). After a
// SIGKILL and restart of the engine the watch is set up again.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { waitUntil } from '../../helpers/daemons.js';
import type { Engine } from './helpers.js';
import { startTaskEngine, stopTaskEngine, taskSkip, watchEvents } from '../../helpers/task-engine.js';

const skip = taskSkip;
const NS = `berth-oom${process.pid}`;

describe('OOM kills on berth-engine', { skip }, () => {
  let e: Engine;
  let rootfs: string;
  const ctr = (args: string[]) => e.ctr(args, { ns: NS });

  before(async () => ({ e, rootfs } = await startTaskEngine('berth-oom-')));
  after(() => stopTaskEngine(e, NS));

  it('a child OOM-killed in a running container: /tasks/oom at once, the task still running', async () => {
    const ev = await watchEvents(e.sock);
    const c = `oom-child-${process.pid}`;
    try {
      // sh stays; tail (reading /dev/zero for a newline that never comes) grows until the kernel kills it
      const r = ctr([
        'run',
        '-d',
        '--memory-limit',
        String(16 << 20),
        '--rootfs',
        rootfs,
        c,
        'sh',
        '-c',
        'tail /dev/zero; echo "tail ended: $?" > /tmp/after; sleep 300',
      ]);
      assert.equal(r.status, 0, r.stderr);
      await waitUntil('the /tasks/oom event', () => ev.lines(c).some((l) => l.includes('/tasks/oom')), 15000);
      const ls = ctr(['task', 'ls']).stdout;
      assert.match(ls, new RegExp(`^${c}\\s+\\d+\\s+RUNNING`, 'm'), 'the container runs on');
      const mine = ev.lines(c);
      assert.equal(mine.filter((l) => l.includes('/tasks/exit')).length, 0, 'no exit came before it');
      assert.equal(mine.filter((l) => l.includes('/tasks/oom')).length, 1, 'one kill, one event');
      // the kernel's word for it: the memory cgroup counted one OOM kill, and tail died of SIGKILL
      const pid = Number(new RegExp(`^${c}\\s+(\\d+)`, 'm').exec(ls)?.[1]);
      const memcg = readFileSync(`/proc/${pid}/cgroup`, 'utf8')
        .split('\n')
        .find((l) => /:memory:/.test(l))
        ?.split(':')[2];
      assert.ok(memcg, 'a v1 memory cgroup');
      assert.match(readFileSync(`/sys/fs/cgroup/memory${memcg}/memory.oom_control`, 'utf8'), /^oom_kill 1$/m);
      await waitUntil(
        'sh to go on',
        () => ctr(['task', 'exec', '--exec-id', 'cat', c, 'cat', '/tmp/after']).stdout !== '',
        5000,
      );
      assert.equal(ctr(['task', 'exec', '--exec-id', 'cat2', c, 'cat', '/tmp/after']).stdout, 'tail ended: 137\n');
    } finally {
      ev.stop();
    }

    // The engine is SIGKILLed and started again: the running task's watch is
    // set up again (the kill already reported is not reported twice), and
    // the next kill, in an exec, is published at once.
    await e.kill9();
    await e.restart();
    const ev2 = await watchEvents(e.sock, 500);
    const ooms = () => ev2.lines(c).filter((l) => l.includes('/tasks/oom')).length;
    try {
      assert.equal(ooms(), 0, 'the kill before the restart is not reported again');
      const x = ctr(['task', 'exec', '--exec-id', 'grow', c, 'tail', '/dev/zero']);
      assert.equal(x.status, 137, x.stderr);
      await waitUntil('the second /tasks/oom event', () => ooms() === 1, 15000);
      assert.match(ctr(['task', 'ls']).stdout, new RegExp(`^${c}\\s+\\d+\\s+RUNNING`, 'm'));
      // the exit that follows brings no further OOM event
      assert.equal(ctr(['task', 'kill', '-s', 'KILL', c]).status, 0);
      await waitUntil(
        'the exit event',
        () => ev2.lines(`"container_id":"${c}","id":"${c}"`).some((l) => l.includes('/tasks/exit')),
        10000,
      );
      assert.equal(ooms(), 1);
    } finally {
      ev2.stop();
      ctr(['task', 'rm', '-f', c]);
      ctr(['containers', 'rm', c]);
    }
  });
});
