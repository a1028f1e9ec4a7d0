// What the issue lists beyond ctr's run and task verbs, on berth-engine:
// the exec, pause and resume events as `ctr events` shows them (in order,
// with their payloads), and tasks.Update (resources) as the kernel's cgroup
// files show it.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { clientConstructor, NAMESPACE_HEADER } from '../../../src/api/load.js';
import { waitUntil } from '../../helpers/daemons.js';
import type { Engine } from './helpers.js';
import { startTaskEngine, stopTaskEngine, taskSkip, watchEvents } from '../../helpers/task-engine.js';

const skip = taskSkip;
const NS = `berth-ev${process.pid}`;

describe('task events and Update on berth-engine', { skip }, () => {
  let e: Engine;
  let rootfs: string;
  const ctr = (args: string[]) => e.ctr(args, { ns: NS });
  const c = `evt-${process.pid}`;

  before(async () => ({ e, rootfs } = await startTaskEngine('berth-evt-')));
  after(() => stopTaskEngine(e, NS));

  it('exec added/started, its exit, paused, resumed: in order, with their ids (no delete for an exec, as containerd)', async () => {
    const ev = await watchEvents(e.sock);
    try {
      assert.equal(ctr(['run', '-d', '--rootfs', rootfs, c, 'sleep', '300']).status, 0);
      const x = ctr(['task', 'exec', '--exec-id', 'x7', c, 'sh', '-c', 'exit 7']);
      assert.equal(x.status, 7, x.stderr);
      assert.equal(ctr(['task', 'pause', c]).status, 0);
      assert.equal(ctr(['task', 'resume', c]).status, 0);
      await waitUntil('the resumed event', () => ev.out().includes('/tasks/resumed'), 5000);
      const mine = ev.lines(c);
      assert.deepEqual(ev.topics(c), [
        '/containers/create',
        '/tasks/create',
        '/tasks/start',
        '/tasks/exec-added',
        '/tasks/exec-started',
        '/tasks/exit',
        '/tasks/paused',
        '/tasks/resumed',
      ]);
      const of = (topic: string) =>
        JSON.parse(mine.find((l) => l.includes(` ${topic} `))!.replace(/^.*? \{/, '{')) as Record<string, unknown>;
      assert.equal(of('/tasks/exec-added').exec_id, 'x7');
      const started = of('/tasks/exec-started');
      assert.equal(started.exec_id, 'x7');
      assert.ok(Number(started.pid) > 0);
      const exit = of('/tasks/exit');
      assert.equal(exit.id, 'x7', "the exec's exit, not the task's");
      assert.equal(exit.exit_status, 7);
      assert.equal(exit.pid, started.pid);
    } finally {
      ev.stop();
    }
  });

  it('tasks.Update: the new limits are in the cgroup files; a bad one is INVALID_ARGUMENT naming the field', async () => {
    const pid = Number(new RegExp(`^${c}\\s+(\\d+)`, 'm').exec(ctr(['task', 'ls']).stdout)?.[1]);
    const memcg = readFileSync(`/proc/${pid}/cgroup`, 'utf8')
      .split('\n')
      .find((l) => /:memory:/.test(l))!
      .split(':')[2]!;
    const pidscg = readFileSync(`/proc/${pid}/cgroup`, 'utf8')
      .split('\n')
      .find((l) => /:pids:/.test(l))!
      .split(':')[2]!;
    const Ctor = clientConstructor('containerd.services.tasks.v1.Tasks');
    const client = new Ctor(`unix://${e.sock}`, grpc.credentials.createInsecure());
    const md = new grpc.Metadata();
    md.set(NAMESPACE_HEADER, NS);
    const update = (resources: object) =>
      new Promise<void>((resolve, reject) =>
        (
          client as unknown as {
            Update: (r: object, m: grpc.Metadata, cb: (err: Error | null) => void) => void;
          }
        ).Update(
          {
            container_id: c,
            resources: {
              type_url: 'types.containerd.io/opencontainers/runtime-spec/1/LinuxResources',
              value: Buffer.from(JSON.stringify(resources)),
            },
          },
          md,
          (err) => (err ? reject(err) : resolve()),
        ),
      );
    try {
      await update({ memory: { limit: 48 << 20 }, pids: { limit: 33 } });
      assert.equal(
        readFileSync(`/sys/fs/cgroup/memory${memcg}/memory.limit_in_bytes`, 'utf8').trim(),
        String(48 << 20),
      );
      assert.equal(readFileSync(`/sys/fs/cgroup/pids${pidscg}/pids.max`, 'utf8').trim(), '33');
      await assert.rejects(update({ cpu: { shares: 1e9 } }), (err: grpc.ServiceError) => {
        assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
        assert.match(err.details, /cpu\.shares/);
        return true;
      });
      assert.equal(readFileSync(`/sys/fs/cgroup/pids${pidscg}/pids.max`, 'utf8').trim(), '33', 'unchanged');
    } finally {
      client.close();
      ctr(['task', 'kill', '-s', 'KILL', c]);
    }
  });
});
