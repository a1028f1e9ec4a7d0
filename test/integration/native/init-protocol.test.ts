// berth-init's side of the conversation with the runtime: reports and their
// errors, malformed plans, SYNC points, hooks, seccomp (with a listener), the
// first process's wait modes and the console.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Op } from '../../../src/runtime/plan/ops.js';
import { encodeOp, encodePhase } from '../../../src/runtime/plan/encode.js';
import {
  CLONE_NEWNS,
  INIT,
  MS_REC,
  assertNoHostMounts,
  bundle,
  execOp,
  facts,
  fdReceiver,
  noPython,
  op,
  runInit,
  sh,
  skipReason,
  startInit,
  tempDir,
  waitMode,
} from './harness.js';

const skip = skipReason();

describe('berth-init: plan protocol and reports', { skip }, () => {
  test('a failing step is reported with its label, errno and message', async () => {
    const { rootfs } = bundle();
    const r = await runInit({
      parent: [waitMode, op(Op.CLONE, 'clone', CLONE_NEWNS)],
      child: [
        op(Op.MOUNT, 'make / private', '', '/', '', MS_REC | (1 << 18), ''),
        op(Op.SET_ROOT, 'open rootfs', rootfs),
        op(Op.MOUNT_IN_ROOT, 'mount berthnosuchfs on /mnt', 'none', '/mnt', 'berthnosuchfs', 0, '', 'dir', 0, 0),
        execOp(['/bin/true']),
      ],
    });
    assert.equal(r.code, 1);
    assert.deepEqual(r.reports.at(-1), {
      t: 'error',
      step: 'mount berthnosuchfs on /mnt',
      errno: 19,
      msg: 'No such device',
    });

    // In the first process: exit status 2. Labels are escaped as JSON.
    const label = 'setns "odd"\\path\n\ttab\u0001\u001f';
    const r2 = await runInit({
      parent: [waitMode, op(Op.SETNS, label, '/nonexistent/berth/ns', CLONE_NEWNS), op(Op.CLONE, 'clone', 0)],
      child: [execOp(['/bin/true'])],
    });
    assert.equal(r2.code, 2);
    assert.deepEqual(r2.reports, [{ t: 'error', step: label, errno: 2, msg: 'No such file or directory' }]);

    // An exec that finds nothing on the plan's PATH.
    const r3 = await runInit({
      parent: [waitMode, op(Op.CLONE, 'clone', 0)],
      child: [execOp(['berth-no-such-program'], { path: '/nonexistent:/bin' })],
    });
    assert.equal(r3.code, 1);
    assert.deepEqual(r3.reports.at(-1), {
      t: 'error',
      step: 'exec berth-no-such-program',
      errno: 2,
      msg: 'No such file or directory',
    });
  });

  test('a malformed plan is a clear error, never a guess', async () => {
    const bad = (parent: ReturnType<typeof op>[], child: ReturnType<typeof op>[]) => runInit({ parent, child });
    const r1 = await bad([waitMode, op(Op.CLONE, 'clone', 'abc')], [execOp(['/bin/true'])]);
    assert.equal(r1.code, 2);
    assert.deepEqual(r1.reports, [
      { t: 'error', step: 'clone', errno: 22, msg: 'plan error: operand 1 ("abc") is not an unsigned integer' },
    ]);

    const r2 = await bad([op(Op.CLONE, 'clone', 0)], [execOp(['/bin/true'])]);
    assert.deepEqual(r2.reports, [
      { t: 'error', step: 'clone', errno: 22, msg: 'plan error: CLONE before PARENT_MODE' },
    ]);

    // Phase 2's own errors: the plan runs up to the bad record, whose report names the step and what is wrong.
    const phase2: [ReturnType<typeof op>[], string, number, string][] = [
      [[op(99 as never, 'mystery'), execOp(['/bin/true'])], 'mystery', 22, 'operation 99 is not a phase 2 operation'],
      [
        [op(Op.MKDIR_IN_ROOT, 'mkdir /x', '/x', 0o755), execOp(['/bin/true'])],
        'mkdir /x',
        9,
        'an *_IN_ROOT operation before SET_ROOT',
      ],
      [[op(Op.CHDIR, 'chdir /', '/')], 'plan', 22, 'phase 2 ended without EXEC'],
      [[op(Op.MOUNT_IN_ROOT, 'short mount', 'tmpfs', '/x')], 'short mount', 22, 'op 27 takes 8 operands, got 2'],
      // One operand too many is as wrong: the two sides disagree on the format.
      [[op(Op.CHDIR, 'chdir', '/', 'extra'), execOp(['/bin/true'])], 'chdir', 22, 'op 55 takes 1 operands, got 2'],
      // A count larger than what follows (here one that would wrap a u32 sum).
      [
        [op(Op.EXEC, 'exec', 0, '/bin', 4294967295, '/bin/true', 0)],
        'exec',
        22,
        'operand 3 counts 4294967295 operands, 2 follow',
      ],
      [
        [op(Op.EXEC, 'exec', 0, '/bin', 1, '/bin/true', 0, 'stray'), execOp(['/bin/true'])],
        'exec',
        22,
        'op 58 takes 5 operands, got 6',
      ],
    ];
    for (const [child, step, errno, msg] of phase2) {
      const r = await bad([waitMode, op(Op.CLONE, 'clone', 0)], child);
      assert.equal(r.code, 1, step);
      assert.deepEqual(r.reports.at(-1), { t: 'error', step, errno, msg: `plan error: ${msg}` });
    }

    // A stream cut inside a record: the first process says so and exits 2.
    const whole = encodePhase([waitMode, op(Op.CLONE, 'clone', 0)]);
    const r7 = await runInit({ parent: [], child: [], raw: whole.subarray(0, whole.length - 5) });
    assert.equal(r7.code, 2);
    assert.deepEqual(r7.reports, [
      { t: 'error', step: 'read plan (phase 1)', errno: 32, msg: 'plan error: the plan stream ended before END' },
    ]);
    // A record claiming more operands than exist is cut too; nothing ran.
    const r8 = await runInit({
      parent: [],
      child: [],
      raw: Buffer.concat([encodeOp(waitMode), Buffer.from([7, 0, 0, 0, 255, 255, 0, 0])]),
    });
    assert.equal(r8.code, 2);
    assert.equal(r8.reports.length, 1);
    assert.equal(r8.reports[0]?.t, 'error');
  });

  test('phase 2 may follow the pid report, compiled with the pid (as the runtime sends it)', async () => {
    const r = await runInit({
      parent: [waitMode, op(Op.CLONE, 'clone', 0)],
      child: [],
      childFromPid: (pid) => [execOp(['/bin/busybox', 'echo', `compiled-for-${pid}`])],
    });
    assert.equal(r.code, 0, JSON.stringify(r));
    const pid = r.reports.find((x) => x.t === 'pid');
    assert.ok(pid?.t === 'pid');
    assert.equal(r.stdout, `compiled-for-${pid.pid}\n`);
  });

  test('SYNC waits for ACK, and ABORT stops the container process', async () => {
    const plan = () => ({
      parent: [waitMode, op(Op.CLONE, 'clone', 0)],
      child: [op(Op.SYNC, 'sync createContainer', 'createContainer'), execOp(['/bin/busybox', 'echo', 'acked'])],
    });
    const s = startInit(plan());
    assert.deepEqual(await s.waitFor((r) => r.t === 'sync'), { t: 'sync', tag: 'createContainer' });
    s.send(op(Op.ACK, 'ack'));
    const r = await s.done;
    assert.equal(r.code, 0);
    assert.equal(r.stdout, 'acked\n');

    const s2 = startInit(plan());
    await s2.waitFor((r) => r.t === 'sync');
    s2.send(op(Op.ABORT, 'abort', 'createRuntime hook failed'));
    const r2 = await s2.done;
    assert.equal(r2.code, 1);
    assert.equal(r2.stdout, '');
    assert.deepEqual(
      r2.reports.map((x) => x.t),
      ['pid', 'sync'],
    );
  });

  test('HOOK: state on stdin, env, non-zero status and timeout', async () => {
    const dir = tempDir();
    const out = join(dir, 'hook.out');
    const hook = (label: string, timeout: number, script: string) =>
      op(
        Op.HOOK,
        label,
        '/bin/sh',
        timeout,
        '{"id":"c1","status":"creating"}',
        3,
        'sh',
        '-c',
        script,
        2,
        `OUT=${out}`,
        'FOO=bar',
      );
    const r = await runInit({
      parent: [waitMode, op(Op.CLONE, 'clone', 0)],
      child: [hook('hook createContainer[0]', 5, 'cat > "$OUT"; echo " $FOO $0" >> "$OUT"'), execOp(['/bin/true'])],
    });
    assert.equal(r.code, 0, JSON.stringify(r));
    assert.equal(readFileSync(out, 'utf8'), '{"id":"c1","status":"creating"} bar sh\n');

    const r2 = await runInit({
      parent: [waitMode, op(Op.CLONE, 'clone', 0)],
      child: [hook('hook startContainer[1]', 5, 'echo "no good" >&2; exit 3'), execOp(['/bin/true'])],
    });
    assert.equal(r2.code, 1);
    assert.deepEqual(r2.reports.at(-1), {
      t: 'error',
      step: 'hook startContainer[1]',
      errno: 0,
      msg: 'exit status 3: no good',
    });

    const t0 = Date.now();
    const r3 = await runInit({
      parent: [waitMode, op(Op.CLONE, 'clone', 0)],
      child: [hook('hook createContainer[1]', 1, 'sleep 30'), execOp(['/bin/true'])],
    });
    assert.equal(r3.code, 1);
    assert.deepEqual(r3.reports.at(-1), {
      t: 'error',
      step: 'hook createContainer[1]',
      errno: 110,
      msg: 'timed out after 1s',
    });
    assert.ok(Date.now() - t0 < 10000);

    const r4 = await runInit({
      parent: [waitMode, op(Op.CLONE, 'clone', 0)],
      child: [op(Op.HOOK, 'hook missing', '/nonexistent/hook', 0, '', 1, 'hook', 0), execOp(['/bin/true'])],
    });
    assert.equal(r4.code, 1);
    assert.deepEqual(r4.reports.at(-1), {
      t: 'error',
      step: 'hook missing',
      errno: 2,
      msg: 'exec /nonexistent/hook: No such file or directory',
    });

    // A hook gets stdin, stdout and stderr only: not a descriptor the
    // container process inherited (here a stray one at 4).
    const stray = openSync('/dev/null', 'r');
    try {
      const r5 = await runInit({
        parent: [waitMode, op(Op.CLONE, 'clone', 0)],
        child: [
          hook('hook fds', 5, 'for n in 3 4 5 6 7 8 9; do [ -e /proc/$$/fd/$n ] && echo has$n; done; exit 1'),
          execOp(['/bin/true']),
        ],
        extra: [stray],
      });
      assert.deepEqual(r5.reports.at(-1), { t: 'error', step: 'hook fds', errno: 0, msg: 'exit status 1' });
    } finally {
      closeSync(stray);
    }
  });

  test('seccomp: a rule makes mkdir fail with EPERM; an unknown syscall is a warning', async () => {
    const dir = tempDir();
    const SCMP_ACT_ALLOW = 0x7fff0000;
    const SCMP_ACT_ERRNO = (e: number) => 0x00050000 | e;
    const SCMP_CMP_EQ = 4;
    const AT_FDCWD = (1n << 64n) - 100n;
    const r = await runInit({
      parent: [waitMode, op(Op.CLONE, 'clone', 0)],
      child: [
        op(Op.SECCOMP_INIT, 'seccomp init', SCMP_ACT_ALLOW),
        // SCMP_FLTATR_CTL_NNP (3) off: we may load without no_new_privs (we
        // have CAP_SYS_ADMIN), and libseccomp must not set it behind the plan.
        op(Op.SECCOMP_ATTR, 'seccomp no nnp', 3, 0),
        op(Op.SECCOMP_ARCH, 'seccomp arch x86_64', 'x86_64'),
        op(Op.SECCOMP_RULE, 'seccomp mkdir', 'mkdir', SCMP_ACT_ERRNO(1), 0),
        op(Op.SECCOMP_RULE, 'seccomp mkdirat', 'mkdirat', SCMP_ACT_ERRNO(1), 1, `0 ${SCMP_CMP_EQ} ${AT_FDCWD} 0`),
        op(Op.SECCOMP_RULE, 'seccomp berth_nosuchcall', 'berth_nosuchcall', SCMP_ACT_ERRNO(1), 0),
        op(Op.SECCOMP_LOAD, 'seccomp load', ''),
        sh(`mkdir ${dir}/sub 2>&1; echo rc=$?; grep NoNewPrivs /proc/self/status`),
      ],
    });
    assert.equal(r.code, 0, JSON.stringify(r));
    assert.match(r.stdout, /Operation not permitted/);
    assert.match(r.stdout, /^NoNewPrivs:\t0$/m);
    assert.equal(facts(r.stdout).get('rc'), '1');
    assert.ok(!existsSync(join(dir, 'sub')));
    assert.deepEqual(
      r.reports.find((x) => x.t === 'warn'),
      {
        t: 'warn',
        step: 'seccomp berth_nosuchcall',
        msg: 'unknown syscall "berth_nosuchcall", rule skipped',
      },
    );
  });

  test(
    'SECCOMP_LOAD with a listener: the notify fd goes out with the state; the agent decides',
    { skip: noPython },
    async () => {
      const dir = tempDir();
      const sock = join(dir, 'agent.sock');
      const received = await fdReceiver(sock, 'seccomp');
      const SCMP_ACT_ALLOW = 0x7fff0000;
      const SCMP_ACT_NOTIFY = 0x7fc00000;
      const state = '{"ociVersion":"1.0.2","fds":["seccompFd"],"pid":1}';
      const r = await runInit({
        parent: [waitMode, op(Op.OPEN_SECCOMP_LISTENER, 'connect seccomp listener', sock), op(Op.CLONE, 'clone', 0)],
        child: [
          op(Op.SECCOMP_INIT, 'seccomp init', SCMP_ACT_ALLOW),
          op(Op.SECCOMP_RULE, 'seccomp mkdir', 'mkdir', SCMP_ACT_NOTIFY, 0),
          op(Op.SECCOMP_RULE, 'seccomp mkdirat', 'mkdirat', SCMP_ACT_NOTIFY, 0),
          op(Op.SECCOMP_LOAD, 'seccomp load', state),
          sh(`mkdir ${dir}/sub 2>&1; echo rc=$?`),
        ],
      });
      const got = await received.result;
      assert.equal(got.body, state);
      assert.equal(got.kind, 'anon_inode:seccomp notify');
      // The agent closed the listener without answering: the call fails ENOSYS.
      assert.equal(r.code, 0, JSON.stringify(r));
      assert.match(r.stdout, /Function not implemented/);
      assert.ok(!existsSync(join(dir, 'sub')));
    },
  );

  test('wait mode: exit status, death by signal, forwarded signals', async () => {
    // No pid namespace: its init would be immune to its own SIGKILL.
    const run = (script: string) => runInit({ parent: [waitMode, op(Op.CLONE, 'clone', 0)], child: [sh(script)] });
    assert.equal((await run('exit 7')).code, 7);
    assert.equal((await run('kill -9 $$')).code, 137);

    const s = startInit({
      parent: [waitMode, op(Op.CLONE, 'clone', 0)],
      child: [execOp(['/bin/busybox', 'sleep', '30'])],
    });
    await s.released; // exec'd
    s.kill('SIGTERM');
    const r = await s.done;
    assert.equal(r.code, 128 + 15);
  });

  test('CONSOLE: a pty inside, relayed by the first process in wait-tty mode', async () => {
    const r = await runInit({
      parent: [op(Op.PARENT_MODE, 'parent mode', 'wait-tty'), op(Op.CLONE, 'clone', 0)],
      child: [op(Op.CONSOLE, 'console', 30, 100), sh('tty; stty size; [ -t 0 ] && echo stdin-is-tty; exit 4')],
    });
    assert.equal(r.code, 4, JSON.stringify(r));
    assert.match(r.stdout, /^\/dev\/pts\/\d+\r\n30 100\r\nstdin-is-tty\r\n$/);
  });

  test(
    'CONSOLE with a console socket: the master goes out with the pty name, as runc sends it',
    { skip: noPython },
    async () => {
      const dir = tempDir();
      const sock = join(dir, 'console.sock');
      const received = await fdReceiver(sock, 'console');
      const r = await runInit({
        parent: [waitMode, op(Op.OPEN_CONSOLE_SOCKET, 'connect console socket', sock), op(Op.CLONE, 'clone', 0)],
        child: [op(Op.CONSOLE, 'console', 0, 0), sh('echo on-the-pty; [ -t 1 ] && echo stdout-is-tty')],
      });
      assert.equal(r.code, 0, JSON.stringify(r));
      assert.equal(r.stdout, '');
      const got = await received.result;
      assert.match(got.body!, /^\/dev\/pts\/\d+$/);
      assert.equal(got.kind, '/dev/ptmx');
      assert.equal(got.output, 'on-the-pty\r\nstdout-is-tty\r\n');
    },
  );

  test(
    'wait-tty with a terminal: raw mode while it runs, restored after; its size and keys reach the pty',
    { skip: noPython },
    async () => {
      const dir = tempDir();
      const planFile = join(dir, 'plan');
      writeFileSync(
        planFile,
        Buffer.concat([
          encodePhase([op(Op.PARENT_MODE, 'parent mode', 'wait-tty'), op(Op.CLONE, 'clone', 0)]),
          // The plan asks for 24x80; the terminal (33x120) wins, as with runc.
          encodePhase([
            op(Op.CONSOLE, 'console', 24, 80),
            sh('stty size; echo ready-for-input; read line; echo got=$line; exit 6'),
          ]),
        ]),
      );
      const out = execFileSync(
        'python3',
        [join(dirname(fileURLToPath(import.meta.url)), 'ptyrun.py'), INIT, planFile, '33', '120'],
        {
          encoding: 'utf8',
          timeout: 30000,
        },
      );
      const r = JSON.parse(out) as {
        code: number;
        output: string;
        raw_during: boolean;
        restored: boolean;
        reports: string;
      };
      assert.equal(r.code, 6, out);
      assert.match(r.output, /^33 120\r\nready-for-input\r\n/);
      assert.match(r.output, /got=hello\r\n$/);
      assert.equal(r.raw_during, true);
      assert.equal(r.restored, true);
    },
  );

  test('leaves no mount on the host', () => {
    assertNoHostMounts();
  });
});
