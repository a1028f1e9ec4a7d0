// berth-init against the kernel: real namespaces, mounts, pivot_root, caps,
// seccomp, hooks, with plans built by hand through the real encoder. Every
// test asserts what the container (or the host) observes.
//
// Mounts happen only in the container process's new mount namespace, so
// nothing is left mounted on the host whatever happens; temp dirs are removed
// after each test.

import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  closeSync,
  constants,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmdirSync,
  readlinkSync,
  readSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Op } from '../../../src/runtime/plan/ops.js';
import { encodeOp, encodePhase } from '../../../src/runtime/plan/encode.js';
import { makeBundleDir } from '../../helpers/busybox.js';
import {
  CLONE_NEWNS,
  CLONE_NEWPID,
  CLONE_NEWUSER,
  CLONE_NEWUTS,
  MS_BIND,
  MS_NODEV,
  MS_NOSUID,
  MS_REC,
  MS_RDONLY,
  MS_REMOUNT,
  NS_ALL,
  S_IFCHR,
  execOp,
  facts,
  op,
  rootfsOps,
  runInit,
  skipReason,
  startInit,
} from './harness.js';

const skip = skipReason();
const noPython = spawnSync('python3', ['-c', 'import socket; socket.recv_fds'], { stdio: 'ignore' }).status === 0
  ? undefined
  : 'needs python3 >= 3.9 to receive descriptors (Node.js cannot receive SCM_RIGHTS)';

/** A descriptor receiver on a unix socket (test/integration/native/fdrecv.py). */
async function fdReceiver(path: string, mode: 'console' | 'seccomp'): Promise<{ result: Promise<Record<string, string>> }> {
  const py = spawn('python3', [join(import.meta.dirname ?? __dirname, 'fdrecv.py'), path, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  py.stdout.setEncoding('utf8');
  await new Promise<void>((res, rej) => {
    py.stdout.on('data', (d: string) => {
      out += d;
      if (out.includes('listening\n')) res();
    });
    py.on('exit', () => rej(new Error(`fdrecv.py exited early: ${out}`)));
  });
  const timer = setTimeout(() => py.kill('SIGKILL'), 15000);
  // Wrapped: an async function's returned promise would be awaited with it.
  return {
    result: new Promise((res) =>
      py.on('close', () => {
        clearTimeout(timer);
        const last = out.trim().split('\n').at(-1) ?? '{}';
        res(last === 'listening' ? { error: 'nothing received' } : (JSON.parse(last) as Record<string, string>));
      }),
    ),
  };
}
const cleanups: (() => void)[] = [];
after(() => {
  for (const c of cleanups.reverse()) c();
});

function bundle(): { dir: string; rootfs: string } {
  const b = makeBundleDir('berth-init-test-');
  cleanups.push(b.cleanup);
  return b;
}

function tempDir(prefix = 'berth-init-host-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

const waitMode = op(Op.PARENT_MODE, 'parent mode', 'wait');
const sh = (script: string, opts?: Parameters<typeof execOp>[1]) => execOp(['/bin/sh', '-c', script], opts);

// Capabilities 5 (CAP_KILL) and 10 (CAP_NET_BIND_SERVICE).
const CAPS = 0x420;

describe('berth-init', { skip }, () => {
  test('runs a full container: namespaces, rootfs, devices, masks, hostname, user, capabilities', async () => {
    const { rootfs } = bundle();
    const script = [
      'echo hostname=$(hostname)',
      'echo pid=$$',
      'echo cwd=$(pwd)',
      'echo ids=$(id -u):$(id -g):$(id -G | tr " " ,)',
      "grep -E '^(CapEff|CapPrm|CapInh|CapBnd|CapAmb|NoNewPrivs):' /proc/self/status | tr -d '\\t' | sed 's/:/=/'",
      'echo nofile=$(ulimit -n)',
      'echo umask=$(umask)',
      'echo null=$(stat -c %F:%t:%T /dev/null)',
      'echo ptmx=$(readlink /dev/ptmx)',
      'echo version=$(wc -c < /proc/version)',
      "echo tty=$(grep ' /proc/tty ' /proc/mounts | cut -d' ' -f3,4 | cut -d, -f1)",
      "echo procsys=$(grep ' /proc/sys ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1)",
      "echo sys=$(grep ' /sys ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1)",
      'echo netdevs=$(ls /sys/class/net | tr "\\n" " ")',
      'echo root=$(cut -d" " -f5 /proc/self/mountinfo | head -1)',
      'echo hostfiles=$(ls / | grep -c -E "^(boot|work|home)$")',
    ].join('; ');
    const r = await runInit({
      parent: [waitMode, op(Op.CLONE, 'clone', NS_ALL)],
      child: [
        ...rootfsOps(rootfs, {
          beforePivot: [
            op(Op.MASK_IN_ROOT, 'mask /proc/version', '/proc/version'),
            op(Op.MASK_IN_ROOT, 'mask /proc/tty', '/proc/tty'),
            op(Op.MASK_IN_ROOT, 'mask /proc/nonexistent', '/proc/nonexistent'),
            op(Op.READONLY_IN_ROOT, 'readonly /proc/sys', '/proc/sys'),
          ],
          hostname: 'berth-full',
        }),
        op(Op.RLIMIT, 'rlimit NOFILE', 7, 1024, 1024),
        op(Op.CAPS_BOUNDING, 'bounding set', CAPS),
        op(Op.USER, 'user 1000', 1000, 1000, 2, 1000, 10),
        op(Op.CAPS, 'capabilities', CAPS, CAPS, CAPS, CAPS),
        op(Op.NO_NEW_PRIVS, 'no_new_privs'),
        op(Op.UMASK, 'umask', 0o027),
        op(Op.CHDIR, 'chdir /tmp', '/tmp'),
        sh(script),
      ],
    });
    assert.equal(r.stderr, '');
    assert.equal(r.code, 0, JSON.stringify(r));
    assert.deepEqual(r.reports.map((x) => x.t), ['pid']);
    const f = facts(r.stdout);
    assert.equal(f.get('hostname'), 'berth-full');
    assert.equal(f.get('pid'), '1');
    assert.equal(f.get('cwd'), '/tmp');
    assert.equal(f.get('ids'), '1000:1000:1000,10');
    assert.equal(f.get('CapEff'), '0000000000000420');
    assert.equal(f.get('CapPrm'), '0000000000000420');
    assert.equal(f.get('CapBnd'), '0000000000000420');
    assert.equal(f.get('CapAmb'), '0000000000000420');
    assert.equal(f.get('NoNewPrivs'), '1');
    assert.equal(f.get('nofile'), '1024');
    assert.equal(f.get('umask'), '0027');
    assert.equal(f.get('null'), 'character special file:1:3');
    assert.equal(f.get('ptmx'), 'pts/ptmx');
    assert.equal(f.get('version'), '0'); // a file: /dev/null on it
    assert.equal(f.get('tty'), 'tmpfs ro'); // a directory: read-only tmpfs on it
    assert.equal(f.get('procsys'), 'ro');
    assert.equal(f.get('sys'), 'ro');
    assert.equal(f.get('netdevs'), 'lo');
    assert.equal(f.get('root'), '/');
    assert.equal(f.get('hostfiles'), '0');
    // The devices were made inside the rootfs (in the container's tmpfs /dev),
    // not on the host's rootfs directory.
    assert.deepEqual(readdirSync(join(rootfs, 'dev')), []);
  });

  test('a symlink in the rootfs cannot send a mount, node or link outside it', async () => {
    const { rootfs } = bundle();
    const hostA = tempDir();
    const hostB = tempDir();
    const hostC = tempDir();
    const hostD = tempDir();
    const src = tempDir();
    writeFileSync(join(src, 'marker'), 'from-source\n');
    symlinkSync(hostA, join(rootfs, 'evil')); // absolute, dangling inside the rootfs
    symlinkSync('../../../../../../../..' + hostB, join(rootfs, 'evil2')); // relative, climbing
    symlinkSync('/etc', join(rootfs, 'evil3')); // absolute, existing inside the rootfs
    symlinkSync(hostC, join(rootfs, 'evildev'));
    symlinkSync(hostD, join(rootfs, 'evillink'));
    const r = await runInit({
      parent: [waitMode, op(Op.CLONE, 'clone', CLONE_NEWNS | CLONE_NEWPID)],
      child: [
        ...rootfsOps(rootfs, {
          beforePivot: [
            op(Op.MOUNT_IN_ROOT, 'mount tmpfs on /evil', 'tmpfs', '/evil', 'tmpfs', 0, '', 'dir', 0, 0),
            op(Op.MOUNT_IN_ROOT, 'mount tmpfs on /evil2/sub', 'tmpfs', '/evil2/sub', 'tmpfs', 0, '', 'dir', 0, 0),
            op(Op.MOUNT_IN_ROOT, 'bind on /evil3', src, '/evil3', '', MS_BIND, '', 'dir', 0, 0),
            op(Op.MKNOD_IN_ROOT, 'mknod /evildev/null', '/evildev/null', S_IFCHR | 0o666, 1, 3, 0, 0),
            op(Op.SYMLINK_IN_ROOT, 'symlink /evillink/l', '/x', '/evillink/l'),
          ],
        }),
        sh(
          [
            `echo a=$(grep -c ' ${hostA} tmpfs ' /proc/mounts)`,
            `echo b=$(grep -c ' ${hostB}/sub tmpfs ' /proc/mounts)`,
            'echo marker=$(cat /etc/marker)',
            `echo dev=$(stat -c %F ${hostC}/null)`,
            `echo link=$(readlink ${hostD}/l)`,
            'touch /evil/inside /evil2/sub/inside && echo touched=yes',
          ].join('; '),
        ),
      ],
    });
    assert.equal(r.code, 0, JSON.stringify(r));
    const f = facts(r.stdout);
    assert.equal(f.get('a'), '1');
    assert.equal(f.get('b'), '1');
    assert.equal(f.get('marker'), 'from-source');
    assert.equal(f.get('dev'), 'character special file');
    assert.equal(f.get('link'), '/x');
    assert.equal(f.get('touched'), 'yes');
    // The host's directories saw nothing; what was made is inside the rootfs.
    for (const d of [hostA, hostB, hostC, hostD]) assert.deepEqual(readdirSync(d), [], d);
    assert.ok(statSync(join(rootfs, hostA)).isDirectory());
    assert.ok(statSync(join(rootfs, hostB, 'sub')).isDirectory());
    assert.ok(lstatSync(join(rootfs, hostC, 'null')).isCharacterDevice());
    assert.equal(readlinkSync(join(rootfs, hostD, 'l')), '/x');
    assert.ok(!existsSync(join(rootfs, 'etc', 'marker')), 'the bind went on the rootfs /etc, in the container only');
  });

  test('no host descriptor reaches the container; preserved ones do', async () => {
    const { rootfs } = bundle();
    const dir = tempDir();
    writeFileSync(join(dir, 'leak'), 'secret\n');
    writeFileSync(join(dir, 'keep'), 'kept\n');
    const leak = openSync(join(dir, 'leak'), 'r');
    const keep = openSync(join(dir, 'keep'), 'r');
    // The container's program sleeps; its descriptors and cwd are read from
    // the host, so that nothing in the container perturbs what is observed.
    const observe = async (o: { preserve: number; planFd: number; stdio: ('ignore' | 'pipe' | number)[] }) => {
      const s = startInit({
        parent: [waitMode, op(Op.CLONE, 'clone', NS_ALL)],
        child: [...rootfsOps(rootfs), op(Op.CHDIR, 'chdir /', '/'), execOp(['/bin/busybox', 'sleep', '30'], { preserveFds: o.preserve })],
        stdio: o.stdio,
        planFd: o.planFd,
        extra: [leak],
      });
      await s.released; // exec'd
      const pid = s.pid!;
      const fds = readdirSync(`/proc/${pid}/fd`).map(Number).sort((x, y) => x - y);
      const targets = fds.map((fd) => readlinkSync(`/proc/${pid}/fd/${fd}`));
      const cwd = statSync(`/proc/${pid}/cwd`);
      const root = statSync(`/proc/${pid}/root`);
      process.kill(pid, 'SIGKILL');
      const r = await s.done;
      assert.equal(r.code, 137);
      return { fds, targets, cwdIsRoot: cwd.ino === root.ino && cwd.dev === root.dev, rootIno: root.ino };
    };
    try {
      // The plan socket at 3, a stray inherited descriptor at 4.
      const a = await observe({ preserve: 0, planFd: 3, stdio: ['ignore', 'pipe', 'pipe'] });
      assert.deepEqual(a.fds, [0, 1, 2]);
      // Its cwd is its root, which is the rootfs directory.
      assert.ok(a.cwdIsRoot);
      assert.equal(a.rootIno, statSync(rootfs).ino);
      // --preserve-fds 1: fd 3 is the container's, the plan socket at 4, a stray at 5.
      const b = await observe({ preserve: 1, planFd: 4, stdio: ['ignore', 'pipe', 'pipe', keep] });
      assert.deepEqual(b.fds, [0, 1, 2, 3]);
      assert.equal(b.targets[3], join(dir, 'keep'));
    } finally {
      closeSync(leak);
      closeSync(keep);
    }
  });

  test('runs from a sealed memfd, non-dumpable, and waits for start on the exec fifo', async () => {
    // Run unprivileged, so that the kernel's view of "dumpable" shows in the
    // ownership of /proc/<pid> (a non-dumpable process's files belong to root).
    const dir = tempDir();
    chownSync(dir, 1000, 1000);
    const fifo = join(dir, 'exec.fifo');
    execFileSync('mkfifo', ['-m', '0600', fifo]);
    chownSync(fifo, 1000, 1000);
    const s = startInit({
      parent: [waitMode, op(Op.OPEN_EXEC_FIFO, 'open exec fifo', fifo), op(Op.CLONE, 'clone', 0)],
      child: [op(Op.WAIT_START, 'wait for start'), execOp(['/bin/busybox', 'echo', 'started'])],
      uid: 1000,
      gid: 1000,
    });
    await s.waitFor((r) => r.t === 'ready');
    const pid = s.pid!;
    assert.ok(pid > 0);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    assert.match(status, /^Uid:\s+1000\s/m);
    // A non-dumpable process's /proc files belong to root whoever runs it.
    assert.equal(statSync(`/proc/${pid}/environ`).uid, 0, 'the container process is dumpable');
    assert.equal(statSync(`/proc/${s.initPid}/environ`).uid, 0, 'the first process is dumpable');
    assert.match(readlinkSync(`/proc/${pid}/exe`), /^\/memfd:berth-init/);
    assert.throws(() => openSync(`/proc/${pid}/exe`, constants.O_WRONLY), /ETXTBSY|EPERM|EACCES/);
    // The seals hold even for a writer that got in some other way.
    const ro = openSync(`/proc/${pid}/exe`, constants.O_RDONLY);
    closeSync(ro);
    // Not started yet: nothing ran.
    await new Promise((res) => setTimeout(res, 100));
    // `start`: open the fifo for reading, which completes the init's open.
    const fd = openSync(fifo, constants.O_RDONLY);
    const b = Buffer.alloc(8);
    const n = readSync(fd, b);
    closeSync(fd);
    assert.equal(b.subarray(0, n).toString(), '0');
    const r = await s.done;
    await s.released;
    assert.equal(r.code, 0);
    assert.equal(r.stdout, 'started\n');
  });

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
    assert.deepEqual(r.reports.at(-1), { t: 'error', step: 'mount berthnosuchfs on /mnt', errno: 19, msg: 'No such device' });

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
    assert.deepEqual(r3.reports.at(-1), { t: 'error', step: 'exec berth-no-such-program', errno: 2, msg: 'No such file or directory' });
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
    assert.deepEqual(r2.reports.map((x) => x.t), ['pid', 'sync']);
  });

  test('HOOK: state on stdin, env, non-zero status and timeout', async () => {
    const dir = tempDir();
    const out = join(dir, 'hook.out');
    const hook = (label: string, timeout: number, script: string) =>
      op(Op.HOOK, label, '/bin/sh', timeout, '{"id":"c1","status":"creating"}', 3, 'sh', '-c', script, 2, `OUT=${out}`, 'FOO=bar');
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
    assert.deepEqual(r2.reports.at(-1), { t: 'error', step: 'hook startContainer[1]', errno: 0, msg: 'exit status 3: no good' });

    const t0 = Date.now();
    const r3 = await runInit({
      parent: [waitMode, op(Op.CLONE, 'clone', 0)],
      child: [hook('hook createContainer[1]', 1, 'sleep 30'), execOp(['/bin/true'])],
    });
    assert.equal(r3.code, 1);
    assert.deepEqual(r3.reports.at(-1), { t: 'error', step: 'hook createContainer[1]', errno: 110, msg: 'timed out after 1s' });
    assert.ok(Date.now() - t0 < 10000);

    const r4 = await runInit({
      parent: [waitMode, op(Op.CLONE, 'clone', 0)],
      child: [op(Op.HOOK, 'hook missing', '/nonexistent/hook', 0, '', 1, 'hook', 0), execOp(['/bin/true'])],
    });
    assert.equal(r4.code, 1);
    assert.deepEqual(r4.reports.at(-1), { t: 'error', step: 'hook missing', errno: 2, msg: 'exec /nonexistent/hook: No such file or directory' });
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
        op(Op.SECCOMP_ARCH, 'seccomp arch x86_64', 'x86_64'),
        op(Op.SECCOMP_RULE, 'seccomp mkdir', 'mkdir', SCMP_ACT_ERRNO(1), 0),
        op(Op.SECCOMP_RULE, 'seccomp mkdirat', 'mkdirat', SCMP_ACT_ERRNO(1), 1, `0 ${SCMP_CMP_EQ} ${AT_FDCWD} 0`),
        op(Op.SECCOMP_RULE, 'seccomp berth_nosuchcall', 'berth_nosuchcall', SCMP_ACT_ERRNO(1), 0),
        op(Op.SECCOMP_LOAD, 'seccomp load', ''),
        sh(`mkdir ${dir}/sub 2>&1; echo rc=$?`),
      ],
    });
    assert.equal(r.code, 0, JSON.stringify(r));
    assert.match(r.stdout, /Operation not permitted/);
    assert.equal(facts(r.stdout).get('rc'), '1');
    assert.ok(!existsSync(join(dir, 'sub')));
    assert.deepEqual(r.reports.find((x) => x.t === 'warn'), {
      t: 'warn',
      step: 'seccomp berth_nosuchcall',
      msg: 'unknown syscall "berth_nosuchcall", rule skipped',
    });
  });

  test('wait mode: exit status, death by signal, forwarded signals', async () => {
    // No pid namespace: its init would be immune to its own SIGKILL.
    const run = (script: string) => runInit({ parent: [waitMode, op(Op.CLONE, 'clone', 0)], child: [sh(script)] });
    assert.equal((await run('exit 7')).code, 7);
    assert.equal((await run('kill -9 $$')).code, 137);

    const s = startInit({ parent: [waitMode, op(Op.CLONE, 'clone', 0)], child: [execOp(['/bin/busybox', 'sleep', '30'])] });
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

  test('user namespace: id maps written by the first process, helpers get the pid', async () => {
    const dir = tempDir();
    const out = join(dir, 'helper.out');
    const r = await runInit({
      parent: [
        waitMode,
        op(Op.CLONE, 'clone', CLONE_NEWUSER | CLONE_NEWNS),
        op(Op.WRITE_CHILD_FILE, 'write uid_map', 'uid_map', '0 100000 65536'),
        op(Op.WRITE_CHILD_FILE, 'write setgroups', 'setgroups', 'deny'),
        op(Op.WRITE_CHILD_FILE, 'write gid_map', 'gid_map', '0 200000 65536'),
        op(Op.RUN_CHILD_HELPER, 'helper', 3, '/bin/sh', '-c', `echo {pid}:{pid} > ${out}`),
      ],
      child: [
        op(Op.SETRESGID, 'setresgid 0', 0),
        op(Op.SETRESUID, 'setresuid 0', 0),
        sh('cat /proc/self/uid_map /proc/self/gid_map; echo id=$(id -u):$(id -g)'),
      ],
    });
    assert.equal(r.code, 0, JSON.stringify(r));
    assert.match(r.stdout, /^\s*0\s+100000\s+65536\n\s*0\s+200000\s+65536\nid=0:0\n$/);
    const pid = r.reports.find((x) => x.t === 'pid');
    assert.ok(pid && pid.t === 'pid');
    assert.equal(readFileSync(out, 'utf8'), `${pid.pid}:${pid.pid}\n`);

    const r2 = await runInit({
      parent: [waitMode, op(Op.CLONE, 'clone', 0), op(Op.RUN_CHILD_HELPER, 'newuidmap', 2, '/bin/sh', '-c exit 5')],
      child: [execOp(['/bin/true'])],
    });
    assert.equal(r2.code, 2);
    assert.equal(r2.reports.at(-1)?.t, 'error');
  });

  test('READONLY_IN_ROOT keeps nosuid/nodev; MOUNT_IN_ROOT remounts read-only', async () => {
    const { rootfs } = bundle();
    mkdirSync(join(rootfs, 'data'));
    chmodSync(join(rootfs, 'data'), 0o755);
    const r = await runInit({
      parent: [waitMode, op(Op.CLONE, 'clone', CLONE_NEWNS | CLONE_NEWPID)],
      child: [
        ...rootfsOps(rootfs, {
          beforePivot: [
            op(Op.MOUNT_IN_ROOT, 'mount tmpfs on /data', 'tmpfs', '/data', 'tmpfs', MS_NOSUID | MS_NODEV, 'size=1m', 'dir', 0, 0),
            op(Op.READONLY_IN_ROOT, 'readonly /data', '/data'),
            op(Op.MOUNT_IN_ROOT, 'mount tmpfs on /ro', 'tmpfs', '/ro', 'tmpfs', 0, '', 'dir', MS_REMOUNT | MS_RDONLY, 0),
            op(Op.MKDIR_IN_ROOT, 'mkdir /made/deep', '/made/deep', 0o711),
          ],
        }),
        sh(
          "echo data=$(grep ' /data ' /proc/mounts | tail -1 | cut -d' ' -f4 | cut -d, -f1-3); " +
            "echo ro=$(grep ' /ro ' /proc/mounts | tail -1 | cut -d' ' -f4 | cut -d, -f1); " +
            'echo mode=$(stat -c %a /made /made/deep)',
        ),
      ],
    });
    assert.equal(r.code, 0, JSON.stringify(r));
    const f = facts(r.stdout);
    assert.equal(f.get('data'), 'ro,nosuid,nodev');
    assert.equal(f.get('ro'), 'ro');
    assert.equal(f.get('mode'), '711 711');
  });

  test('CONSOLE with a console socket: the master goes out with the pty name, as runc sends it', { skip: noPython }, async () => {
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
  });

  test('SECCOMP_LOAD with a listener: the notify fd goes out with the state; the agent decides', { skip: noPython }, async () => {
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
  });

  test('a malformed plan is a clear error, never a guess', async () => {
    const bad = (parent: ReturnType<typeof op>[], child: ReturnType<typeof op>[]) => runInit({ parent, child });
    const r1 = await bad([waitMode, op(Op.CLONE, 'clone', 'abc')], [execOp(['/bin/true'])]);
    assert.equal(r1.code, 2);
    assert.deepEqual(r1.reports, [{ t: 'error', step: 'clone', errno: 22, msg: 'plan error: operand 1 ("abc") is not an unsigned integer' }]);

    const r2 = await bad([op(Op.CLONE, 'clone', 0)], [execOp(['/bin/true'])]);
    assert.deepEqual(r2.reports, [{ t: 'error', step: 'clone', errno: 22, msg: 'plan error: CLONE before PARENT_MODE' }]);

    const r3 = await bad([waitMode, op(Op.CLONE, 'clone', 0)], [op(99 as never, 'mystery'), execOp(['/bin/true'])]);
    assert.equal(r3.code, 1);
    assert.deepEqual(r3.reports.at(-1), { t: 'error', step: 'mystery', errno: 22, msg: 'plan error: operation 99 is not a phase 2 operation' });

    const r4 = await bad([waitMode, op(Op.CLONE, 'clone', 0)], [op(Op.MKDIR_IN_ROOT, 'mkdir /x', '/x', 0o755), execOp(['/bin/true'])]);
    assert.deepEqual(r4.reports.at(-1), { t: 'error', step: 'mkdir /x', errno: 9, msg: 'plan error: an *_IN_ROOT operation before SET_ROOT' });

    const r5 = await bad([waitMode, op(Op.CLONE, 'clone', 0)], [op(Op.CHDIR, 'chdir /', '/')]);
    assert.deepEqual(r5.reports.at(-1), { t: 'error', step: 'plan', errno: 22, msg: 'plan error: phase 2 ended without EXEC' });

    const r6 = await bad([waitMode, op(Op.CLONE, 'clone', 0)], [op(Op.MOUNT_IN_ROOT, 'short mount', 'tmpfs', '/x')]);
    assert.deepEqual(r6.reports.at(-1), { t: 'error', step: 'short mount', errno: 22, msg: 'plan error: op 27 needs 8 operands, got 2' });

    // A stream cut inside a record: the first process says so and exits 2.
    const whole = encodePhase([waitMode, op(Op.CLONE, 'clone', 0)]);
    const r7 = await runInit({ parent: [], child: [], raw: whole.subarray(0, whole.length - 5) });
    assert.equal(r7.code, 2);
    assert.deepEqual(r7.reports, [{ t: 'error', step: 'read plan (phase 1)', errno: 32, msg: 'plan error: the plan stream ended before END' }]);
    // A record claiming more operands than exist is cut too; nothing ran.
    const r8 = await runInit({ parent: [], child: [], raw: Buffer.concat([encodeOp(waitMode), Buffer.from([7, 0, 0, 0, 255, 255, 0, 0])]) });
    assert.equal(r8.code, 2);
    assert.equal(r8.reports.length, 1);
    assert.equal(r8.reports[0]?.t, 'error');
  });

  test('MOVE_ROOT (--no-pivot), BIND_DEV_IN_ROOT and SETSID', async () => {
    const { rootfs } = bundle();
    const r = await runInit({
      parent: [waitMode, op(Op.CLONE, 'clone', CLONE_NEWNS | CLONE_NEWPID)],
      child: [
        op(Op.MOUNT, 'make / private', '', '/', '', MS_REC | (1 << 18), ''),
        op(Op.MOUNT, 'bind rootfs', rootfs, rootfs, '', MS_BIND | MS_REC, ''),
        op(Op.SET_ROOT, 'open rootfs', rootfs),
        op(Op.MOUNT_IN_ROOT, 'mount proc', 'proc', '/proc', 'proc', 0, '', 'dir', 0, 0),
        op(Op.MOUNT_IN_ROOT, 'mount tmpfs on /dev', 'tmpfs', '/dev', 'tmpfs', MS_NOSUID, 'mode=755', 'dir', 0, 0),
        op(Op.BIND_DEV_IN_ROOT, 'bind /dev/null', '/dev/null', '/dev/null'),
        op(Op.BIND_DEV_IN_ROOT, 'bind /dev/zero', '/dev/zero', '/dev/sub/zero'),
        op(Op.MOVE_ROOT, 'move root', rootfs),
        op(Op.SETSID, 'setsid'),
        op(Op.CHDIR, 'chdir /', '/'),
        sh(
          'echo null=$(stat -c %t:%T /dev/null); echo zero=$(head -c 3 /dev/sub/zero | od -An -tx1 | tr -d " "); ' +
            'echo sid=$(cut -d" " -f6 /proc/self/stat) pid=$$; echo hostfiles=$(ls / | grep -c -E "^(boot|work|home)$")',
        ),
      ],
    });
    assert.equal(r.code, 0, JSON.stringify(r));
    const f = facts(r.stdout);
    assert.equal(f.get('null'), '1:3');
    assert.equal(f.get('zero'), '000000');
    assert.equal(f.get('hostfiles'), '0');
    // The shell (pid 1) leads its own session: /proc/self/stat of `cut` names it.
    assert.match(r.stdout, /^sid=1 pid=1$/m);
  });

  test('CGROUP_ADD_CHILD puts the container process in a cgroup before it runs', async () => {
    // The v2 hierarchy: /sys/fs/cgroup on pure v2, /sys/fs/cgroup/unified on hybrid hosts.
    const base = ['/sys/fs/cgroup/unified', '/sys/fs/cgroup'].find((d) => existsSync(join(d, 'cgroup.procs')) && existsSync(join(d, 'cgroup.controllers')));
    if (!base) return; // no cgroup v2 hierarchy here: nothing to join
    const name = `berth-init-test-${process.pid}-${Date.now()}`;
    const cg = join(base, name);
    mkdirSync(cg);
    try {
      const r = await runInit({
        parent: [waitMode, op(Op.CLONE, 'clone', 0), op(Op.CGROUP_ADD_CHILD, 'join cgroup', join(cg, 'cgroup.procs'))],
        child: [sh('grep "^0::" /proc/self/cgroup')],
      });
      assert.equal(r.code, 0, JSON.stringify(r));
      assert.equal(r.stdout, `0::/${name}\n`);
    } finally {
      rmdirSync(cg); // the process has exited: the cgroup is empty
    }
  });

  test('SETNS joins a running container; TIMENS_OFFSETS shifts its clocks', async () => {
    const { rootfs } = bundle();
    const a = startInit({
      parent: [waitMode, op(Op.CLONE, 'clone', CLONE_NEWUTS | CLONE_NEWNS | CLONE_NEWPID)],
      child: [...rootfsOps(rootfs, { hostname: 'berth-joined' }), op(Op.CHDIR, 'chdir /', '/'), execOp(['/bin/busybox', 'sleep', '30'])],
    });
    try {
      await a.released;
      const pid = a.pid!;
      const r = await runInit({
        parent: [
          waitMode,
          op(Op.SETNS, 'join uts', `/proc/${pid}/ns/uts`, CLONE_NEWUTS),
          op(Op.SETNS, 'join pid', `/proc/${pid}/ns/pid`, CLONE_NEWPID),
          // Before the mount join: /proc/self must still be our own proc.
          op(Op.TIMENS_OFFSETS, 'time namespace', 'boottime 864000 0'),
          op(Op.SETNS, 'join mnt', `/proc/${pid}/ns/mnt`, CLONE_NEWNS),
          op(Op.CLONE, 'clone', 0),
        ],
        child: [op(Op.CHDIR, 'chdir /', '/'), sh('echo host=$(hostname); echo pid=$$; echo up=$(cut -d. -f1 /proc/uptime); echo sleeper=$(cat /proc/1/comm)')],
      });
      assert.equal(r.code, 0, JSON.stringify(r));
      const f = facts(r.stdout);
      assert.equal(f.get('host'), 'berth-joined');
      assert.notEqual(f.get('pid'), '1'); // the second process of that pid namespace
      assert.equal(f.get('sleeper'), 'busybox'); // the container's pid 1, as its pid namespace names it
      assert.ok(Number(f.get('up')) >= 864000, `uptime ${f.get('up')}`);
    } finally {
      if (a.pid) process.kill(a.pid, 'SIGKILL');
      await a.done;
    }
  });

  test('SCHED, IOPRIO and PERSONALITY reach the kernel', async () => {
    const SCHED_BATCH = 3;
    const ADDR_NO_RANDOMIZE = 0x0040000;
    const r = await runInit({
      parent: [waitMode, op(Op.CLONE, 'clone', 0)],
      child: [
        op(Op.SCHED, 'scheduler', SCHED_BATCH, 0, 7, 0, 0, 0, 0),
        op(Op.IOPRIO, 'ioprio', (2 << 13) | 4),
        op(Op.PERSONALITY, 'personality', ADDR_NO_RANDOMIZE),
        sh('echo stat=$(cut -d" " -f19,41 /proc/$$/stat); echo persona=$(cat /proc/$$/personality); echo io=$(ionice -p $$)'),
      ],
    });
    assert.equal(r.code, 0, JSON.stringify(r));
    const f = facts(r.stdout);
    assert.equal(f.get('stat'), '7 3');
    assert.equal(f.get('persona'), '00040000');
    assert.equal(f.get('io'), 'best-effort: prio 4');
  });

  test('EXEC: PATH search as execvp does it, default signals, empty mask', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'echo'), '#!/bin/sh\necho wrong\n', { mode: 0o644 }); // not executable
    writeFileSync(join(dir, 'berthprog'), '#!/bin/sh\necho wrong\n', { mode: 0o644 });
    const run = (args: string[], path: string) => runInit({ parent: [waitMode, op(Op.CLONE, 'clone', 0)], child: [execOp(args, { path })] });

    // A non-executable match is skipped, and the search goes on.
    const r1 = await run(['echo', 'found'], `${dir}:/nonexistent::/bin`);
    assert.equal(r1.code, 0, JSON.stringify(r1));
    assert.equal(r1.stdout, 'found\n');
    // Only non-executable matches: EACCES, as execvp reports it.
    const r2 = await run(['berthprog'], `/nonexistent:${dir}`);
    assert.equal(r2.code, 1);
    assert.deepEqual(r2.reports.at(-1), { t: 'error', step: 'exec berthprog', errno: 13, msg: 'Permission denied' });
    // The plan's PATH, not ours: /bin is not searched unless the plan says so.
    const r3 = await run(['echo', 'x'], dir.replace(/$/, '-none'));
    assert.equal(r3.reports.at(-1)?.t, 'error');

    // berth-init ignores SIGPIPE and the wait-mode first process blocks
    // signals; the program gets neither.
    const r4 = await run(['/bin/busybox', 'grep', '-E', '^Sig(Ign|Blk):', '/proc/self/status'], '/bin');
    assert.equal(r4.code, 0, JSON.stringify(r4));
    assert.equal(r4.stdout, 'SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n');
  });

  test('leaves no mount on the host', () => {
    // Every mount above happened in a container process's own mount namespace.
    const leaked = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .filter((l) => l.includes('berth-init-test-') || l.includes('berth-init-host-'));
    assert.deepEqual(leaked, []);
  });
});
