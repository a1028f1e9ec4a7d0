// Restart without loss: berth-engine killed with SIGKILL while 20 containers
// run, then started again on the same root and state. Every container is
// still running and found again with its pid; exec, kill and Wait work; one
// that exited while the engine was down is reported with its real exit code
// and time; a shim killed with SIGKILL stops its task with the reason said.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { clientConstructor, NAMESPACE_HEADER } from '../../../src/api/load.js';
import { waitUntil } from '../../helpers/daemons.js';
import { ShimSet } from '../../../src/shim/shims.js';
import type { Engine } from './helpers.js';
import { startTaskEngine, stopTaskEngine, taskSkip } from '../../helpers/task-engine.js';

const skip = taskSkip;
const N = 20;

interface Answer {
  process?: { pid: number; status: string; exit_status: number; exited_at: { seconds: number; nanos: number } | null };
  exit_status?: number;
  exited_at?: { seconds: number; nanos: number } | null;
}

function tasksClient(sock: string) {
  const Ctor = clientConstructor('containerd.services.tasks.v1.Tasks');
  const client = new Ctor(`unix://${sock}`, grpc.credentials.createInsecure());
  const md = new grpc.Metadata();
  md.set(NAMESPACE_HEADER, NS);
  const call = (method: string, req: object) =>
    new Promise<Answer>((resolve, reject) => {
      const fn = (
        client as unknown as Record<
          string,
          (r: object, m: grpc.Metadata, cb: (e: Error | null, a: Answer) => void) => void
        >
      )[method]!;
      fn.call(client, req, md, (e, a) => (e ? reject(e) : resolve(a)));
    });
  return { call, close: () => client.close() };
}

function alive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

/** Our own containerd namespace: ctr's default cgroupsPath is /<namespace>/<id>, so the parent cgroup is ours to remove. */
const NS = `berth-t${process.pid}`;

describe('berth-engine restart without loss', { skip }, () => {
  let e: Engine;
  const ctr = (args: string[], o: Parameters<Engine['ctr']>[1] = {}) => e.ctr(args, { ns: NS, ...o });
  let rootfs: string;
  const ids = Array.from({ length: N }, (_, i) => `rr-${i}-${process.pid}`);
  const quick = `rr-quick-${process.pid}`;

  before(async () => ({ e, rootfs } = await startTaskEngine('berth-restart-')));
  after(() => stopTaskEngine(e, NS));

  it('finds 20 running containers again after a SIGKILL, and what exited meanwhile', async () => {
    for (const id of ids) {
      const r = ctr(['run', '-d', '--rootfs', rootfs, id, 'sh', '-c', 'while true; do sleep 0.2; done']);
      assert.equal(r.status, 0, r.stderr);
    }
    assert.equal(ctr(['run', '-d', '--rootfs', rootfs, quick, 'sh', '-c', 'sleep 1; exit 5']).status, 0);
    const pids = new Map<string, number>();
    for (const line of ctr(['task', 'ls']).stdout.split('\n').slice(1).filter(Boolean)) {
      const [id, pid] = line.split(/\s+/);
      pids.set(id!, Number(pid));
    }
    assert.equal(pids.size, N + 1);

    const killedAt = Date.now();
    await e.kill9();
    for (const id of ids) assert.ok(alive(pids.get(id)!), `${id} runs while the engine is down`);
    await waitUntil('the quick container to exit', () => !alive(pids.get(quick)!), 10000);
    const exitSeen = Date.now();
    // a create the crash interrupted: its shim runs, no container was registered with it
    const ghost = await new ShimSet(join(e.state, 'shims')).start(`${NS}/ghost`, {
      ns: NS,
      id: 'ghost',
      bundle: join(e.state, 'tasks', NS, 'ghost'),
      mounted: false,
      runtime: { kind: 'berth' },
      io: { stdin: '', stdout: '', stderr: '', terminal: false },
      rootfs: [],
    });
    await e.restart();
    // recovery runs as the engine starts serving; task calls wait for it
    assert.doesNotMatch(ctr(['task', 'ls']).stdout, /^ghost\s/m);
    await waitUntil('the interrupted create to be removed', () => !existsSync(ghost.dir), 5000);
    await waitUntil('its shim to end', () => !ghost.alive(), 5000);
    assert.doesNotMatch(ctr(['task', 'ls']).stdout, /^ghost\s/m);

    const ls = ctr(['task', 'ls']).stdout;
    for (const id of ids) assert.match(ls, new RegExp(`^${id}\\s+${pids.get(id)}\\s+RUNNING`, 'm'));
    assert.match(ls, new RegExp(`^${quick}\\s+${pids.get(quick)}\\s+STOPPED`, 'm'));

    const api = tasksClient(e.sock);
    try {
      const q = await api.call('Get', { container_id: quick });
      assert.equal(q.process?.exit_status, 5);
      const at = Number(q.process.exited_at!.seconds) * 1000 + q.process.exited_at!.nanos / 1e6;
      assert.ok(
        at >= killedAt - 1000 && at <= exitSeen + 5,
        `exit time ${new Date(at).toISOString()} is when it exited, not when the engine came back`,
      );

      const x = ctr(['task', 'exec', '--exec-id', 'after', ids[0]!, 'sh', '-c', 'echo exec-after-restart; exit 3']);
      assert.equal(x.status, 3, x.stderr);
      assert.equal(x.stdout, 'exec-after-restart\n');

      const waiting = api.call('Wait', { container_id: ids[1] });
      assert.equal(ctr(['task', 'kill', '-s', 'KILL', ids[1]!]).status, 0);
      const w = await waiting;
      assert.equal(w.exit_status, 137);
      assert.ok(!alive(pids.get(ids[1]!)!));
    } finally {
      api.close();
    }
  });

  it('a shim killed with SIGKILL stops its task with the reason, and its container goes', async () => {
    const victim = ids[2]!;
    const shimDir = readdirSync(join(e.state, 'shims'))
      .map((d) => join(e.state, 'shims', d))
      .find(
        (d) =>
          existsSync(join(d, 'shim.json')) &&
          (JSON.parse(readFileSync(join(d, 'shim.json'), 'utf8')) as { key: string }).key === `${NS}/${victim}`,
      );
    assert.ok(shimDir);
    const rec = JSON.parse(readFileSync(join(shimDir, 'shim.json'), 'utf8')) as { shimPid: number };
    const line = ctr(['task', 'ls'])
      .stdout.split('\n')
      .find((l) => l.startsWith(`${victim} `));
    const pid = Number(/^\S+\s+(\d+)/.exec(line ?? '')?.[1]);
    assert.ok(pid > 0, `${victim} in task ls`);
    process.kill(rec.shimPid, 'SIGKILL');
    await waitUntil(
      'the task to be stopped',
      () => new RegExp(`^${victim}\\s+\\d+\\s+STOPPED`, 'm').test(ctr(['task', 'ls']).stdout),
      10000,
    );
    await waitUntil('its container process to be gone', () => !alive(pid), 10000);
    assert.match(e.log(), new RegExp(`berth-shim of task ${victim} exited unexpectedly`));
    const rm = ctr(['task', 'rm', victim]);
    assert.equal(rm.status, 0, rm.stderr);
    assert.match(rm.stderr, /exit code 255/);
  });

  it('SIGTERM stops the engine at once and leaves its containers running', async () => {
    const keep = ids[3]!;
    const line = ctr(['task', 'ls'])
      .stdout.split('\n')
      .find((l) => l.startsWith(`${keep} `));
    const pid = Number(/^\S+\s+(\d+)/.exec(line ?? '')?.[1]);
    assert.ok(alive(pid));
    const t0 = Date.now();
    e.proc.kill('SIGTERM');
    await new Promise((r) => e.proc.once('exit', r));
    assert.equal(e.proc.exitCode, 0);
    assert.ok(Date.now() - t0 < 5000, `stopped in ${Date.now() - t0} ms (no handle of the shims keeps it up)`);
    assert.ok(alive(pid), 'the container runs on');
    await e.restart();
    assert.match(ctr(['task', 'ls']).stdout, new RegExp(`^${keep}\\s+${pid}\\s+RUNNING`, 'm'));
  });
});
