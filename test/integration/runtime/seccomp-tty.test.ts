// seccomp through libseccomp (actions, errno, argument conditions, notify)
// and terminals (pty created inside, master sent over --console-socket).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { CLI, REPO, isRoot, runc, runOut, uniqueId, suiteBundles } from '../../helpers/runtime.js';
import type { Spec } from '../../../src/runtime/spec/types.js';
import { startPeer } from '../../helpers/peer.js';

const skip = !isRoot() ? 'needs root' : false;
const RECVFD = join(REPO, 'test/helpers/recvfd.py');

/** Start the fd-receiving peer and resolve once it listens. */
const peer = (path: string, mode: string, arg = '') => startPeer('python3', [RECVFD, path, mode, arg], 'READY\n');

describe('seccomp', { skip }, () => {
  const bundle = suiteBundles();
  const run = (script: string, edit: (s: Spec) => void) => {
    const b = bundle(script, edit);
    return runOut(b);
  };

  it('per-syscall errno and argument conditions', () => {
    const r = run('mkdir /x; kill -0 $$ && echo zero-ok; kill -USR2 $$ 2>&1; echo done', (s) => {
      s.linux!.seccomp = {
        defaultAction: 'SCMP_ACT_ALLOW',
        architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
        syscalls: [
          { names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 },
          {
            names: ['kill'],
            action: 'SCMP_ACT_ERRNO',
            errnoRet: 1,
            args: [{ index: 1, value: 12, op: 'SCMP_CMP_EQ' }],
          },
          { names: ['no_such_syscall_for_test'], action: 'SCMP_ACT_ERRNO' },
        ],
      };
    });
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /mkdir: can't create directory '\/x': Permission denied/);
    assert.match(r.out, /zero-ok/);
    assert.match(r.out, /Operation not permitted/);
    assert.match(r.out, /done/);
  });

  it('SCMP_ACT_KILL_PROCESS kills with SIGSYS', () => {
    const r = run('exec uname; echo never', (s) => {
      s.linux!.seccomp = {
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['uname'], action: 'SCMP_ACT_KILL_PROCESS' }],
      };
    });
    assert.ok(!r.out.includes('never'));
    assert.equal(r.code, 128 + 31);
  });

  it('SCMP_ACT_NOTIFY sends the listener fd and the container state to listenerPath', async () => {
    const b = bundle('mkdir /y 2>&1; echo after', (s) => {
      s.linux!.seccomp = {
        defaultAction: 'SCMP_ACT_ALLOW',
        listenerPath: '',
        listenerMetadata: 'meta-test',
        syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_NOTIFY' }],
      };
    });
    const sock = join(b.dir, 'seccomp.sock');
    b.spec.linux!.seccomp!.listenerPath = sock;
    b.write();
    const p = await peer(sock, 'seccomp');
    const r = runOut(b);
    const msg = await p.output;
    assert.match(msg, /^READY\nMSG /);
    const state = JSON.parse(msg.split('MSG ')[1]!.trim());
    assert.deepEqual(state.fds, ['seccompFd']);
    assert.equal(state.metadata, 'meta-test');
    assert.equal(state.state.bundle, b.dir);
    assert.ok(state.pid > 0);
    // The listener closed the fd: the notified syscall fails, the container goes on.
    assert.match(r.out, /Function not implemented[\s\S]*after/);
  });
});

describe('terminal', { skip }, () => {
  const bundle = suiteBundles();

  it('create --console-socket sends a pty master; the process has it as its controlling terminal', async () => {
    const b = bundle('read line; echo "got:$line"; tty; stty size', (s) => {
      s.process!.terminal = true;
      s.process!.consoleSize = { height: 33, width: 101 };
    });
    const sock = join(b.dir, 'console.sock');
    const p = await peer(sock, 'console', 'hello-tty');
    const id = uniqueId();
    let r = runc(b, ['create', '--bundle', b.dir, '--console-socket', sock, id]);
    assert.equal(r.status, 0, r.stderr);
    r = runc(b, ['start', id]);
    assert.equal(r.status, 0, r.stderr);
    const out = await p.output;
    assert.match(out, /GOTPTY/);
    assert.match(out, /got:hello-tty/);
    assert.match(out, /\/dev\/pts\/0/);
    assert.match(out, /33 101/);
    runc(b, ['delete', '--force', id]);
  });

  it('terminal without --console-socket in create is refused; console socket without terminal too', () => {
    const b = bundle('true', (s) => {
      s.process!.terminal = true;
    });
    let r = runc(b, ['create', '--bundle', b.dir, uniqueId()]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /console-socket/);
    b.spec.process!.terminal = false;
    b.write();
    r = runc(b, ['create', '--bundle', b.dir, '--console-socket', join(b.dir, 'x.sock'), uniqueId()]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /terminal is false/);
  });

  it('run in the foreground with a terminal relays a pty both ways', () => {
    const b = bundle('tty; read x; echo "read:$x"', (s) => {
      s.process!.terminal = true;
    });
    // A real terminal around berth-runc, as a user's shell would give it.
    const py = [
      'import pty, os, sys, time',
      'pid, fd = pty.fork()',
      'if pid == 0: os.execv(sys.argv[1], sys.argv[1:])',
      'time.sleep(1.0)',
      'os.write(fd, b"typed-input\\n")',
      'out = b""',
      'while True:',
      '    try: c = os.read(fd, 1024)',
      '    except OSError: break',
      '    if not c: break',
      '    out += c',
      '_, st = os.waitpid(pid, 0)',
      'print(repr(out.decode()), os.waitstatus_to_exitcode(st))',
    ].join('\n');
    const r = spawnSync('python3', ['-c', py, CLI, '--root', b.root, 'run', '--bundle', b.dir, uniqueId()], {
      encoding: 'utf8',
      timeout: 30000,
    });
    assert.match(r.stdout, /\/dev\/pts\/0\\r\\n/);
    assert.match(r.stdout, /read:typed-input/);
    assert.match(r.stdout, / 0\n$/);
  });
});
