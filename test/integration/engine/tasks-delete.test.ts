// tasks.Delete answers before its clean-up (runtime state, shim, bundle)
// has run: a run --rm of the same id right after must work, containers rm
// must find the task's rest gone, and an engine killed while a clean-up runs
// finishes it at its next start (the task is never shown again).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { clientConstructor, NAMESPACE_HEADER } from '../../../src/api/load.js';
import { waitUntil } from '../../helpers/daemons.js';
import type { Engine } from './helpers.js';
import { startTaskEngine, stopTaskEngine, taskSkip } from '../../helpers/task-engine.js';

const skip = taskSkip;
const NS = `berth-del${process.pid}`;

/** What a task leaves in the state directory: shim directories (not the spare), bundles, runtime state. */
function leftovers(state: string): string[] {
  const list = (d: string) => (existsSync(d) ? readdirSync(d) : []);
  return [
    ...list(join(state, 'shims'))
      .filter((n) => !n.startsWith('.spare-'))
      .map((n) => `shims/${n}`),
    ...list(join(state, 'tasks', NS)).map((n) => `tasks/${NS}/${n}`),
    ...list(join(state, 'runtime', NS)).map((n) => `runtime/${NS}/${n}`),
  ];
}

describe('tasks.Delete answered before its clean-up', { skip }, () => {
  let e: Engine;
  let rootfs: string;
  const ctr = (args: string[]) => e.ctr(args, { ns: NS });

  before(async () => ({ e, rootfs } = await startTaskEngine('berth-del-')));
  after(() => stopTaskEngine(e, NS));

  it('run --rm of one id again and again: each run works, nothing is left after the last', () => {
    const c = `again-${process.pid}`;
    for (let i = 0; i < 6; i++) {
      const r = ctr(['run', '--rm', '--rootfs', rootfs, c, 'sh', '-c', `echo run-${i}; exit ${i}`]);
      assert.equal(r.status, i, r.stderr);
      assert.equal(r.stdout, `run-${i}\n`);
    }
    // containers.Delete (the last call of run --rm) waited for the clean-up
    assert.deepEqual(leftovers(e.state), []);
    assert.equal(existsSync(`/sys/fs/cgroup/memory/${NS}/${c}`), false, 'its cgroup is gone');
  });

  it('an engine SIGKILLed right after a Delete: the task is gone after the restart, its rest removed', async () => {
    const c = `cut-${process.pid}`;
    assert.equal(ctr(['run', '-d', '--rootfs', rootfs, c, 'sleep', '300']).status, 0);
    assert.equal(ctr(['task', 'kill', '-s', 'KILL', c]).status, 0);
    await waitUntil('the task to stop', () =>
      new RegExp(`^${c}\\s+\\d+\\s+STOPPED`, 'm').test(ctr(['task', 'ls']).stdout),
    );
    const Ctor = clientConstructor('containerd.services.tasks.v1.Tasks');
    const client = new Ctor(`unix://${e.sock}`, grpc.credentials.createInsecure());
    const md = new grpc.Metadata();
    md.set(NAMESPACE_HEADER, NS);
    const answer = await new Promise<{ exit_status: number }>((resolve, reject) =>
      (
        client as unknown as {
          Delete: (r: object, m: grpc.Metadata, cb: (err: Error | null, a: { exit_status: number }) => void) => void;
        }
      ).Delete({ container_id: c }, md, (err, a) => (err ? reject(err) : resolve(a))),
    );
    client.close();
    // killed at once: the clean-up the answer did not wait for may be cut short
    await e.kill9();
    assert.equal(answer.exit_status, 137);
    await e.restart();
    assert.doesNotMatch(ctr(['task', 'ls']).stdout, new RegExp(`^${c}\\s`, 'm'), 'a deleted task stays deleted');
    await waitUntil('the rest to go', () => leftovers(e.state).length === 0, 15000).catch(() => undefined);
    assert.deepEqual(
      leftovers(e.state),
      [],
      e
        .log()
        .split('\n')
        .filter((l) => l.includes(c))
        .slice(-8)
        .join('\n'),
    );
    assert.equal(ctr(['containers', 'rm', c]).status, 0);
  });
});
