// The OCI lifecycle through the CLI, checked against what the kernel shows.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isRoot, runc, runOut, uniqueId, suiteBundles, type Bundle } from '../../helpers/runtime.js';

const skip = !isRoot() ? 'needs root (namespaces, cgroups, mounts)' : false;

function state(b: Bundle, id: string) {
  const r = runc(b, ['state', id]);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { status: string; pid: number; id: string; bundle: string };
}

function waitFor(pred: () => boolean, ms = 5000): void {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
  }
}

describe('lifecycle', { skip }, () => {
  const bundle = suiteBundles();

  it('create → created, start → running, kill → stopped, delete removes everything', () => {
    const b = bundle('echo started > /started; exec sleep 1000');
    const id = uniqueId();
    const pidFile = join(b.dir, 'pid');
    let r = runc(b, ['create', '--bundle', b.dir, '--pid-file', pidFile, id]);
    assert.equal(r.status, 0, r.stderr);
    let s = state(b, id);
    assert.equal(s.status, 'created');
    assert.equal(s.bundle, b.dir);
    assert.equal(Number(readFileSync(pidFile, 'utf8')), s.pid);
    // The process exists, waits for start, and has not run the program yet.
    assert.ok(existsSync(`/proc/${s.pid}`));
    assert.ok(!existsSync(join(b.rootfs, 'started')));
    // Its namespaces are not the host's.
    for (const ns of ['mnt', 'pid', 'uts', 'ipc', 'net']) {
      assert.notEqual(readlinkSync(`/proc/${s.pid}/ns/${ns}`), readlinkSync(`/proc/self/ns/${ns}`), ns);
    }
    const cgroupLine = readFileSync(`/proc/${s.pid}/cgroup`, 'utf8');
    assert.match(cgroupLine, new RegExp(`/${id}\\b`));

    r = runc(b, ['start', id]);
    assert.equal(r.status, 0, r.stderr);
    waitFor(() => existsSync(join(b.rootfs, 'started')));
    s = state(b, id);
    assert.equal(s.status, 'running');
    assert.match(readFileSync(`/proc/${s.pid}/cmdline`, 'utf8'), /^sleep\0/);

    r = runc(b, ['start', id]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /cannot start an already running container/);

    r = runc(b, ['delete', id]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /not stopped: running/);

    r = runc(b, ['kill', id, 'KILL']);
    assert.equal(r.status, 0, r.stderr);
    waitFor(() => state(b, id).status === 'stopped');
    r = runc(b, ['kill', id, 'TERM']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /container not running/);

    r = runc(b, ['delete', id]);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(!existsSync(join(b.root, id)));
    assert.ok(!existsSync(`/sys/fs/cgroup/memory/${id}`) && !existsSync(`/sys/fs/cgroup/pids/${id}`));
    r = runc(b, ['state', id]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /does not exist/);
  });

  it('run in the foreground returns the exit status and removes the container', () => {
    const b = bundle('echo "pid=$$ host=$(hostname)"; exit 7');
    const id = uniqueId();
    const r = runOut(b, id);
    assert.equal(r.code, 7, r.err);
    assert.equal(r.out, 'pid=1 host=berth\n');
    assert.ok(!existsSync(join(b.root, id)));
  });

  it('run reports a signal death as 128+N', async () => {
    const b = bundle('exec sleep 1000');
    const id = uniqueId();
    const { spawn } = await import('node:child_process');
    const { CLI } = await import('../../helpers/runtime.js');
    const child = spawn(CLI, ['--root', b.root, 'run', '--bundle', b.dir, id], { stdio: 'ignore' });
    const code = new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
    waitFor(
      () => existsSync(join(b.root, id, 'state.json')) && runc(b, ['state', id]).stdout.includes('"running"'),
      10000,
    );
    assert.equal(runc(b, ['kill', id, 'KILL']).status, 0);
    assert.equal(await code, 128 + 9);
    assert.ok(!existsSync(join(b.root, id)));
  });

  it('run --detach leaves a running container', () => {
    const b = bundle('exec sleep 1000');
    const id = uniqueId();
    const r = runc(b, ['run', '--detach', '--bundle', b.dir, id]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(state(b, id).status, 'running');
    assert.equal(runc(b, ['delete', '--force', id]).status, 0);
    assert.ok(!existsSync(join(b.root, id)));
  });

  it('delete of a created container kills it', () => {
    const b = bundle('true');
    const id = uniqueId();
    assert.equal(runc(b, ['create', '--bundle', b.dir, id]).status, 0);
    const { pid } = state(b, id);
    assert.equal(runc(b, ['delete', id]).status, 0);
    waitFor(() => !existsSync(`/proc/${pid}`) || readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z'));
  });

  it('exec runs in the container and returns the status; --detach writes a pid file', () => {
    const b = bundle('echo hi > /tmp/marker; exec sleep 1000');
    const id = uniqueId();
    assert.equal(runc(b, ['run', '-d', '--bundle', b.dir, id]).status, 0);
    waitFor(() => existsSync(join(b.rootfs, 'tmp/marker')));
    let r = runc(b, [
      'exec',
      '--env',
      'FOO=bar',
      '--cwd',
      '/tmp',
      id,
      'sh',
      '-c',
      'echo $FOO $(pwd) $(cat marker) $(hostname); exit 4',
    ]);
    assert.equal(r.status, 4, r.stderr);
    assert.equal(r.stdout, 'bar /tmp hi berth\n');
    r = runc(b, ['exec', '--user', '1000:1000', id, 'id']);
    assert.equal(r.stdout.trim().split(' ').slice(0, 2).join(' '), 'uid=1000 gid=1000');
    const pidFile = join(b.dir, 'exec.pid');
    r = runc(b, ['exec', '-d', '--pid-file', pidFile, id, 'sleep', '100']);
    assert.equal(r.status, 0, r.stderr);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    assert.ok(readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('sleep\x00100'));
    // It is in the container's pid namespace and cgroup.
    assert.equal(readlinkSync(`/proc/${pid}/ns/pid`), readlinkSync(`/proc/${state(b, id).pid}/ns/pid`));
    const ps = JSON.parse(runc(b, ['ps', '--format', 'json', id]).stdout) as number[];
    assert.ok(ps.includes(pid) && ps.includes(state(b, id).pid));
    // --process FILE
    const procFile = join(b.dir, 'proc.json');
    writeFileSync(
      procFile,
      JSON.stringify({ ...b.spec.process, args: ['sh', '-c', 'echo from-file'], terminal: false }),
    );
    r = runc(b, ['exec', '--process', procFile, id]);
    assert.equal(r.stdout, 'from-file\n', r.stderr);
    r = runc(b, ['exec', id, 'nonexistent-binary']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /exec "nonexistent-binary"/);
    assert.equal(runc(b, ['delete', '--force', id]).status, 0);
  });

  it('kill --all signals every process; list shows the container', () => {
    const b = bundle('sleep 1000 & sleep 1000 & wait');
    const id = uniqueId();
    assert.equal(runc(b, ['run', '-d', '--bundle', b.dir, id]).status, 0);
    waitFor(() => (JSON.parse(runc(b, ['ps', '--format', 'json', id]).stdout) as number[]).length === 3);
    const list = JSON.parse(runc(b, ['list', '--format', 'json']).stdout) as { id: string; status: string }[];
    assert.deepEqual(
      list.map((c) => [c.id, c.status]),
      [[id, 'running']],
    );
    assert.match(
      runc(b, ['list']).stdout,
      new RegExp(`^ID\\s+PID\\s+STATUS\\s+BUNDLE\\s+CREATED\\s+OWNER\\n${id}\\s+\\d+\\s+running`),
    );
    assert.equal(runc(b, ['kill', '--all', id, 'KILL']).status, 0);
    waitFor(() => state(b, id).status === 'stopped');
    assert.equal(runc(b, ['delete', id]).status, 0);
  });

  it('pause freezes every process and resume thaws them', () => {
    const b = bundle('exec sleep 1000');
    const id = uniqueId();
    assert.equal(runc(b, ['run', '-d', '--bundle', b.dir, id]).status, 0);
    assert.equal(runc(b, ['pause', id]).status, 0);
    assert.equal(state(b, id).status, 'paused');
    const freezer = readFileSync(`/proc/${state(b, id).pid}/cgroup`, 'utf8').match(/freezer:(.*)/)?.[1];
    if (freezer) assert.equal(readFileSync(`/sys/fs/cgroup/freezer${freezer}/freezer.state`, 'utf8').trim(), 'FROZEN');
    const r = runc(b, ['delete', id]);
    assert.match(r.stderr, /not stopped: paused/);
    assert.equal(runc(b, ['resume', id]).status, 0);
    assert.equal(state(b, id).status, 'running');
    assert.equal(runc(b, ['delete', '--force', id]).status, 0);
  });

  it('a reused pid is not mistaken for the container', () => {
    const b = bundle('exec sleep 1000');
    const id = uniqueId();
    assert.equal(runc(b, ['run', '-d', '--bundle', b.dir, id]).status, 0);
    // Rewrite the recorded start time: the pid then belongs to "another" process.
    const file = join(b.root, id, 'state.json');
    const rec = JSON.parse(readFileSync(file, 'utf8'));
    const real = rec.pidStartTime;
    rec.pidStartTime = String(Number(real) + 12345);
    writeFileSync(file, JSON.stringify(rec));
    assert.equal(state(b, id).status, 'stopped');
    rec.pidStartTime = real;
    writeFileSync(file, JSON.stringify(rec));
    assert.equal(runc(b, ['delete', '--force', id]).status, 0);
  });
});
