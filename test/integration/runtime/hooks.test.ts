// Hooks: each kind runs at its point of the lifecycle, in its namespace, with
// the state on stdin; failures follow the spec's rules.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isRoot, runc, uniqueId, suiteBundles } from '../../helpers/runtime.js';

const skip = !isRoot() ? 'needs root' : false;

function script(path: string, body: string): string {
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

describe('hooks', { skip }, () => {
  const bundle = suiteBundles();

  it('every hook runs once, in order, with the state on stdin', () => {
    const b = bundle('echo main >> /hooklog');
    const log = join(b.dir, 'hostlog');
    // Host-side hooks record their name, the state, and their mount namespace.
    const host = script(join(b.dir, 'hook.sh'), `echo "$1 $(readlink /proc/self/ns/mnt) $(cat)" >> ${log}`);
    // startContainer runs inside the container: its path resolves in the rootfs.
    script(join(b.rootfs, 'inhook.sh'), 'echo "startContainer $(cat)" >> /hooklog');
    b.spec.hooks = {
      prestart: [{ path: host, args: ['hook.sh', 'prestart'] }],
      createRuntime: [{ path: host, args: ['hook.sh', 'createRuntime'] }],
      createContainer: [{ path: host, args: ['hook.sh', 'createContainer'] }],
      startContainer: [{ path: '/inhook.sh' }],
      poststart: [{ path: host, args: ['hook.sh', 'poststart'] }],
      poststop: [{ path: host, args: ['hook.sh', 'poststop'] }],
    };
    b.write();
    const id = uniqueId();
    assert.equal(runc(b, ['create', '--bundle', b.dir, id]).status, 0);
    let lines = readFileSync(log, 'utf8').trim().split('\n');
    assert.deepEqual(
      lines.map((l) => l.split(' ')[0]),
      ['prestart', 'createRuntime', 'createContainer'],
    );
    const hostNs = readFileSync('/proc/self/mountinfo') && lines[0]!.split(' ')[1];
    assert.equal(lines[1]!.split(' ')[1], hostNs, 'createRuntime runs in the runtime mount namespace');
    assert.notEqual(lines[2]!.split(' ')[1], hostNs, 'createContainer runs in the container mount namespace');
    const st = JSON.parse(lines[0]!.split(' ').slice(2).join(' '));
    assert.equal(st.id, id);
    assert.equal(st.status, 'creating');
    assert.equal(st.bundle, b.dir);
    const pid = JSON.parse(runc(b, ['state', id]).stdout).pid;
    assert.equal(st.pid, pid);
    assert.ok(!existsSync(join(b.rootfs, 'hooklog')));

    assert.equal(runc(b, ['start', id]).status, 0);
    for (let i = 0; i < 500 && JSON.parse(runc(b, ['state', id]).stdout).status !== 'stopped'; i++)
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    const inside = readFileSync(join(b.rootfs, 'hooklog'), 'utf8').trim().split('\n');
    assert.equal(inside[0]!.split(' ')[0], 'startContainer');
    assert.equal(JSON.parse(inside[0]!.slice('startContainer '.length)).pid, pid);
    assert.equal(inside[1], 'main');
    assert.equal(runc(b, ['delete', id]).status, 0);
    lines = readFileSync(log, 'utf8').trim().split('\n');
    assert.deepEqual(
      lines.map((l) => l.split(' ')[0]),
      ['prestart', 'createRuntime', 'createContainer', 'poststart', 'poststop'],
    );
    assert.equal(JSON.parse(lines[4]!.split(' ').slice(2).join(' ')).status, 'stopped');
  });

  it('a failing createRuntime hook fails create and leaves nothing', () => {
    const b = bundle('true');
    b.spec.hooks = { createRuntime: [{ path: script(join(b.dir, 'fail.sh'), 'echo nope >&2; exit 3') }] };
    b.write();
    const id = uniqueId();
    const r = runc(b, ['create', '--bundle', b.dir, id]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /createRuntime hook .*fail\.sh: exit status 3: nope/);
    assert.deepEqual(existsSync(b.root) ? readdirSync(b.root) : [], []);
    assert.ok(!existsSync(`/sys/fs/cgroup/memory/${id}`) && !existsSync(`/sys/fs/cgroup/pids/${id}`));
  });

  it('a hook that outlives its timeout is killed and fails create', () => {
    const b = bundle('true');
    b.spec.hooks = { createContainer: [{ path: script(join(b.dir, 'slow.sh'), 'sleep 30'), timeout: 1 }] };
    b.write();
    const t0 = Date.now();
    const r = runc(b, ['create', '--bundle', b.dir, uniqueId()]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /createContainer hook #0 .*slow\.sh.*(timed out|timeout)/i);
    assert.ok(Date.now() - t0 < 20000);
    assert.deepEqual(existsSync(b.root) ? readdirSync(b.root) : [], []);
  });

  it('a failing poststart hook is only a warning', () => {
    const b = bundle('exec sleep 100');
    b.spec.hooks = { poststart: [{ path: script(join(b.dir, 'fail.sh'), 'exit 1') }] };
    b.write();
    const id = uniqueId();
    assert.equal(runc(b, ['create', '--bundle', b.dir, id]).status, 0);
    const r = runc(b, ['start', id]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /poststart hook .*exit status 1/);
    assert.equal(JSON.parse(runc(b, ['state', id]).stdout).status, 'running');
    assert.equal(runc(b, ['delete', '--force', id]).status, 0);
  });
});
