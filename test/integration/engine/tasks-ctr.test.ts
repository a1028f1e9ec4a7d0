// containerd's `ctr` against berth-engine's containers and tasks services:
// containers run under berth-shim by the runtime library (and by runc and
// berth-runc with --runc-binary), their exit codes, stdio and terminal,
// task verbs, container records and the events a run publishes.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { clientConstructor, NAMESPACE_HEADER } from '../../../src/api/load.js';
import { mountsUnder, waitUntil } from '../../helpers/daemons.js';
import { driveTty } from '../../helpers/pty.js';
import { REPO, type Engine } from './helpers.js';
import { startTaskEngine, stopTaskEngine, taskSkip, watchEvents } from '../../helpers/task-engine.js';

const skip = taskSkip;

/** Our own containerd namespace: ctr's default cgroupsPath is /<namespace>/<id>, so the parent cgroup is ours to remove. */
const NS = `berth-t${process.pid}`;

/** The tasks' shim directories (the engine's spare shim, ".spare-*", is not a task's). */
function taskShimDirs(state: string): string[] {
  return readdirSync(join(state, 'shims')).filter((n) => !n.startsWith('.spare-'));
}

describe('ctr run and task verbs on berth-engine', { skip }, () => {
  let e: Engine;
  const ctr = (args: string[], o: Parameters<Engine['ctr']>[1] = {}) => e.ctr(args, { ns: NS, ...o });
  let rootfs: string;
  const id = (s: string) => `tc-${s}-${process.pid}`;

  before(async () => ({ e, rootfs } = await startTaskEngine('berth-tasks-')));
  after(() => stopTaskEngine(e, NS));

  it('run --rm: stdout, stderr and the exit code come back; nothing is left', () => {
    const r = ctr(['run', '--rm', '--rootfs', rootfs, id('rm'), 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    assert.equal(r.status, 3, r.stderr);
    assert.equal(r.stdout, 'out\n');
    assert.match(r.stderr, /^err$/m);
    assert.equal(ctr(['containers', 'ls', '-q']).stdout.trim(), '');
    assert.deepEqual(taskShimDirs(e.state), [], 'no shim directory left');
    const killed = ctr(['run', '--rm', '--rootfs', rootfs, id('sig'), 'sh', '-c', 'sleep 30 & kill -9 $!; wait $!']);
    assert.equal(killed.status, 137, 'the status of a child killed by SIGKILL, passed on by sh');
  });

  it('run --rm with stdin', () => {
    // The end of ctr's input is no EOF in the container: the shim holds the
    // stdin FIFO open until a CloseIO, as containerd's shim does (and ctr
    // sends none when its input ends before the task exists), so the
    // container reads what it needs and ends by itself.
    const r = ctr(
      ['run', '--rm', '--rootfs', rootfs, id('in'), 'sh', '-c', 'for i in 1 2; do read l; echo "got $l"; done'],
      {
        input: 'one\ntwo\n',
        timeout: 30000,
      },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'got one\ngot two\n');
  });

  it('run -t: a terminal in the container, its exit code', async () => {
    const r = await driveTty(
      ['ctr', '-a', e.sock, '-n', NS, 'run', '--rm', '-t', '--rootfs', rootfs, id('tty'), 'sh'],
      [
        // busybox ash asks the cursor position (ESC [6n) after its prompt
        { expect: /\/ # /, send: 'tty; exit 7\r' },
      ],
    );
    assert.equal(r.timedOut, false, r.output);
    assert.equal(r.code, 7, r.output);
    assert.match(r.output, /\/dev\/pts\/\d+/);
  });

  it('run -d, then task ls/ps/exec/pause/resume/metrics/kill/rm and containers ls/info/rm', async () => {
    const c = id('d');
    assert.equal(ctr(['run', '-d', '--rootfs', rootfs, c, 'sh', '-c', 'while true; do sleep 0.2; done']).status, 0);
    const ls = ctr(['task', 'ls']).stdout;
    const m = new RegExp(`^${c}\\s+(\\d+)\\s+RUNNING`, 'm').exec(ls);
    assert.ok(m, ls);
    const pid = Number(m[1]);
    assert.ok(existsSync(`/proc/${pid}`), 'the pid ctr shows is a live host process');
    const ps = ctr(['task', 'ps', c]).stdout;
    assert.match(ps, new RegExp(`^${pid}\\s`, 'm'));
    const x = ctr(['task', 'exec', '--exec-id', 'x1', c, 'sh', '-c', 'echo from-exec; cat /proc/1/cmdline; exit 6']);
    assert.equal(x.status, 6, x.stderr);
    assert.match(x.stdout, /^from-exec\nsh/);
    const tx = await driveTty(
      ['ctr', '-a', e.sock, '-n', NS, 'task', 'exec', '-t', '--exec-id', 'tty1', c, 'sh'],
      [{ expect: /\/ # /, send: 'tty; exit 3\r' }],
    );
    assert.equal(tx.timedOut, false, tx.output);
    assert.equal(tx.code, 3, tx.output);
    assert.match(tx.output, /\/dev\/pts\/\d+/);
    assert.deepEqual(
      ctr(['containers', 'ls', '-q', `id==${c}`])
        .stdout.split('\n')
        .filter(Boolean),
      [c],
    );
    assert.equal(ctr(['containers', 'ls', '-q', 'id==nothing-like-this']).stdout.trim(), '');
    assert.equal(ctr(['task', 'pause', c]).status, 0);
    assert.match(ctr(['task', 'ls']).stdout, new RegExp(`^${c}\\s+${pid}\\s+PAUSED`, 'm'));
    const state = readFileSync(`/proc/${pid}/status`, 'utf8');
    assert.match(state, /^State:\s+[DS]/m, 'frozen: not running');
    assert.equal(ctr(['task', 'resume', c]).status, 0);
    assert.match(ctr(['task', 'ls']).stdout, new RegExp(`^${c}\\s+${pid}\\s+RUNNING`, 'm'));
    const metrics = ctr(['task', 'metrics', c]);
    assert.equal(metrics.status, 0, metrics.stderr);
    assert.match(metrics.stdout, /pids\.current\s+[1-9]/);
    assert.match(metrics.stdout, /memory\.usage_in_bytes\s+[1-9]|memory\.usage\s+[1-9]/);
    assert.equal(ctr(['task', 'kill', '-s', 'KILL', c]).status, 0);
    await waitUntil(
      'the task to stop',
      () => new RegExp(`^${c}\\s+\\d+\\s+STOPPED`, 'm').test(ctr(['task', 'ls']).stdout),
      10000,
    );
    assert.ok(
      !existsSync(`/proc/${pid}`) || readFileSync(`/proc/${pid}/status`, 'utf8').includes('State:\tZ') === false,
    );
    const rm = ctr(['task', 'rm', c]);
    assert.equal(rm.status, 0, rm.stderr);
    assert.match(rm.stderr, /exit code 137/);
    assert.match(ctr(['containers', 'ls']).stdout, new RegExp(`^${c}\\s+-\\s+io\\.containerd\\.runc\\.v2`, 'm'));
    const info = JSON.parse(ctr(['containers', 'info', c]).stdout) as {
      ID: string;
      Spec: { process: { args: string[] } };
    };
    assert.equal(info.ID, c);
    assert.deepEqual(info.Spec.process.args.slice(0, 2), ['sh', '-c']);
    assert.equal(ctr(['containers', 'rm', c]).status, 0);
    assert.equal(ctr(['containers', 'info', c]).status, 1);
    assert.deepEqual(mountsUnder(e.state), []);
  });

  it('ctr events sees a run: container and task events in order', async () => {
    const ev = await watchEvents(e.sock);
    try {
      const c = id('ev');
      assert.equal(ctr(['run', '--rm', '--rootfs', rootfs, c, 'sh', '-c', 'exit 2']).status, 2);
      await waitUntil('the delete events', () => ev.out().includes('/containers/delete'), 5000);
      assert.deepEqual(ev.topics(c), [
        '/containers/create',
        '/tasks/create',
        '/tasks/start',
        '/tasks/exit',
        '/tasks/delete',
        '/containers/delete',
      ]);
      assert.match(ev.out(), /\/tasks\/exit \{[^}]*"exit_status":2/);
    } finally {
      ev.stop();
    }
  });

  it('an OOM kill is published as /tasks/oom before the exit', async () => {
    const ev = await watchEvents(e.sock);
    try {
      const c = id('oom');
      // tail keeps reading /dev/zero for a newline that never comes: its memory grows until the limit
      const r = ctr(['run', '--rm', '--memory-limit', String(16 << 20), '--rootfs', rootfs, c, 'tail', '/dev/zero']);
      assert.equal(r.status, 137, r.stderr);
      await waitUntil('the delete event', () => ev.out().includes('/containers/delete'), 5000);
      const topics = ev.topics(c);
      assert.ok(
        topics.indexOf('/tasks/oom') >= 0 && topics.indexOf('/tasks/oom') < topics.indexOf('/tasks/exit'),
        topics.join(' '),
      );
    } finally {
      ev.stop();
    }
  });

  for (const [label, binary] of [
    ['runc', 'runc'],
    ['berth-runc', join(REPO, 'bin/berth-runc')],
  ] as const) {
    it(`--runc-binary ${label}: the container runs through that binary under the shim`, () => {
      const r = ctr([
        'run',
        '--rm',
        '--runc-binary',
        binary,
        '--env',
        'PATH=/bin',
        '--rootfs',
        rootfs,
        id(label),
        'sh',
        '-c',
        'echo via-binary; exit 4',
      ]);
      assert.equal(r.status, 4, r.stderr);
      assert.equal(r.stdout, 'via-binary\n');
    });
  }

  for (const [label, extra] of [
    ['berth-runc', []],
    ['runc', ['--runc-binary', 'runc', '--env', 'PATH=/bin']],
  ] as const) {
    it(`${label}: a deleted exec leaves no file in the shim's directory`, async () => {
      const c = id(`xf-${label}`);
      const r = ctr(['run', '-d', ...extra, '--rootfs', rootfs, c, 'sleep', '300']);
      assert.equal(r.status, 0, r.stderr);
      const execFiles = () =>
        taskShimDirs(e.state).flatMap((d) =>
          readdirSync(join(e.state, 'shims', d))
            .filter((f) => f.startsWith('exec-'))
            .map((f) => `${d}/${f}`),
        );
      try {
        // a detached exec is not deleted by ctr: its files are there while it lives
        assert.equal(ctr(['task', 'exec', '-d', '--exec-id', 'kept', c, 'sleep', '300']).status, 0);
        assert.ok(
          execFiles().some((f) => f.includes('exec-kept')),
          execFiles().join(' '),
        );
        for (let i = 0; i < 3; i++) {
          const x = ctr(['task', 'exec', '--exec-id', `gone${i}`, c, 'sh', '-c', `echo ${i}; exit ${i}`]);
          assert.equal(x.status, i, x.stderr);
          assert.equal(x.stdout, `${i}\n`);
        }
        const tx = await driveTty(
          ['ctr', '-a', e.sock, '-n', NS, 'task', 'exec', '-t', '--exec-id', 'gonetty', c, 'sh'],
          [{ expect: /\/ # /, send: 'exit 5\r' }],
        );
        assert.equal(tx.code, 5, tx.output);
        // ctr deleted each of them once it ended: only the detached one's files are left
        assert.deepEqual(
          execFiles().filter((f) => !f.includes('exec-kept')),
          [],
        );
      } finally {
        ctr(['task', 'kill', '-s', 'KILL', c]);
        await waitUntil(
          'the task to stop',
          () => !new RegExp(`^${c}\\s+\\d+\\s+RUNNING`, 'm').test(ctr(['task', 'ls']).stdout),
        );
        ctr(['task', 'rm', c]);
        ctr(['containers', 'rm', c]);
      }
    });
  }

  it("a runtime's failure reaches ctr in its own words, and nothing is left", () => {
    const r = ctr(['run', '--rm', '--runc-binary', 'runc', '--rootfs', rootfs, id('nopath'), 'no-such-program']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /runc create failed: .*no-such-program/);
    const b = ctr(['run', '--rm', '--rootfs', rootfs, id('bad'), '/no/such/program']);
    assert.notEqual(b.status, 0);
    assert.match(b.stderr, /\/no\/such\/program/);
    assert.equal(ctr(['task', 'ls', '-q']).stdout.trim(), '');
    assert.deepEqual(taskShimDirs(e.state), []);
    assert.deepEqual(mountsUnder(e.state), []);
  });

  it('bad stdio is a clear gRPC error naming it; a client that goes away mid-run leaves a task that can still be managed', async () => {
    const c = id('badio');
    // a container without a task: run one, then delete only its task
    assert.equal(ctr(['run', '-d', '--rootfs', rootfs, c, 'sleep', '60']).status, 0);
    assert.equal(ctr(['task', 'kill', '-s', 'KILL', c]).status, 0);
    await waitUntil(
      'the task to stop',
      () => new RegExp(`^${c}\\s+\\d+\\s+STOPPED`, 'm').test(ctr(['task', 'ls']).stdout),
      10000,
    );
    assert.equal(ctr(['task', 'rm', c]).status, 0);
    const Ctor = clientConstructor('containerd.services.tasks.v1.Tasks');
    const client = new Ctor(`unix://${e.sock}`, grpc.credentials.createInsecure());
    const md = new grpc.Metadata();
    md.set(NAMESPACE_HEADER, NS);
    try {
      const err = await new Promise<grpc.ServiceError | null>((resolve) =>
        (
          client as unknown as {
            Create: (r: object, m: grpc.Metadata, cb: (e: grpc.ServiceError | null) => void) => void;
          }
        ).Create({ container_id: c, stdout: '/nonexistent/berth/stdout' }, md, (e2) => resolve(e2)),
      );
      assert.ok(err, 'Create fails');
      assert.equal(err.code, grpc.status.NOT_FOUND);
      assert.match(err.details, /stdout \/nonexistent\/berth\/stdout: No such file or directory/);
    } finally {
      client.close();
    }
    assert.equal(ctr(['task', 'ls', '-q']).stdout.trim(), '');
    assert.deepEqual(taskShimDirs(e.state), []);
    assert.equal(ctr(['containers', 'rm', c]).status, 0);

    // ctr killed while attached to a running container: the task runs on, and is managed as any other
    const d = id('detach');
    const fg = spawn(
      'ctr',
      ['-a', e.sock, '-n', NS, 'run', '--rootfs', rootfs, d, 'sh', '-c', 'while true; do echo x; sleep 0.1; done'],
      { stdio: 'ignore' },
    );
    await waitUntil(
      'the task to run',
      () => new RegExp(`^${d}\\s+\\d+\\s+RUNNING`, 'm').test(ctr(['task', 'ls']).stdout),
      10000,
    );
    fg.kill('SIGKILL');
    await new Promise((r) => fg.once('exit', r));
    await new Promise((r) => setTimeout(r, 500));
    assert.match(
      ctr(['task', 'ls']).stdout,
      new RegExp(`^${d}\\s+\\d+\\s+RUNNING`, 'm'),
      'still running: its output goes to a FIFO the shim holds',
    );
    assert.equal(ctr(['task', 'kill', '-s', 'KILL', d]).status, 0);
    await waitUntil(
      'the task to stop',
      () => new RegExp(`^${d}\\s+\\d+\\s+STOPPED`, 'm').test(ctr(['task', 'ls']).stdout),
      10000,
    );
    assert.equal(ctr(['task', 'rm', d]).status, 0);
    assert.equal(ctr(['containers', 'rm', d]).status, 0);
    assert.deepEqual(taskShimDirs(e.state), []);
  });

  it('an invalid spec is INVALID_ARGUMENT naming the field; nothing is left', async () => {
    const md = new grpc.Metadata();
    md.set(NAMESPACE_HEADER, NS);
    const call = <T>(service: string, method: string, req: object) =>
      new Promise<{ err: grpc.ServiceError | null; res?: T }>((resolve) => {
        const Ctor = clientConstructor(service);
        const client = new Ctor(`unix://${e.sock}`, grpc.credentials.createInsecure());
        (
          client as unknown as Record<
            string,
            (r: object, m: grpc.Metadata, cb: (e: grpc.ServiceError | null, r?: T) => void) => void
          >
        )[method]!.call(client, req, md, (err, res) => {
          client.close();
          resolve({ err, res });
        });
      });
    const specAny = (spec: unknown) => ({
      type_url: 'types.containerd.io/opencontainers/runtime-spec/1/Spec',
      value: Buffer.from(JSON.stringify(spec)),
    });
    const base = {
      ociVersion: '1.0.2',
      root: { path: rootfs },
      process: { args: ['/bin/true'], cwd: 'relative/dir', user: { uid: 0, gid: 0 } },
      linux: {},
    };
    for (const [cid, spec, words] of [
      [id('badcwd'), specAny(base), /process\.cwd/],
      [id('badjson'), { type_url: specAny(base).type_url, value: Buffer.from('{not json') }, /spec is not valid JSON/],
    ] as const) {
      const created = await call('containerd.services.containers.v1.Containers', 'Create', {
        container: { id: cid, runtime: { name: 'io.containerd.runc.v2' }, spec },
      });
      assert.equal(created.err, null);
      const t = await call('containerd.services.tasks.v1.Tasks', 'Create', { container_id: cid });
      assert.equal(t.err?.code, grpc.status.INVALID_ARGUMENT, t.err?.details);
      assert.match(t.err.details, words);
      assert.equal(ctr(['containers', 'rm', cid]).status, 0);
    }
    assert.equal(ctr(['task', 'ls', '-q']).stdout.trim(), '');
    assert.deepEqual(taskShimDirs(e.state), []);
    assert.deepEqual(readdirSync(join(e.state, 'tasks', NS)), []);
  });

  it('SystemdCgroup is refused with a clear error', () => {
    const r = ctr([
      'run',
      '--rm',
      '--runc-systemd-cgroup',
      '--cgroup',
      'machine.slice:berth:sd',
      '--rootfs',
      rootfs,
      id('sd'),
      'true',
    ]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /SystemdCgroup: the systemd cgroup driver is not supported/);
  });
});
