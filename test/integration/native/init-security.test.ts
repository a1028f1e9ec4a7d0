// berth-init's security properties, each observed from outside: symlinks in
// the rootfs cannot redirect anything out of it, no host descriptor reaches the
// container, the init runs from a sealed memfd and is not dumpable, and the
// program starts with a clean signal state and the plan's PATH.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  closeSync,
  constants,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  readSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { Op } from '../../../src/runtime/plan/ops.js';
import {
  CLONE_NEWNS,
  CLONE_NEWPID,
  CLONE_NEWUSER,
  MS_BIND,
  MS_PRIVATE,
  MS_REC,
  NS_ALL,
  S_IFCHR,
  assertNoHostMounts,
  bundle,
  execFifo,
  execOp,
  facts,
  op,
  rootfsOps,
  runInit,
  sh,
  skipReason,
  startInit,
  tempDir,
  waitMode,
} from './harness.js';

const skip = skipReason();

describe('berth-init: security by construction', { skip }, () => {
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
        child: [
          ...rootfsOps(rootfs),
          op(Op.CHDIR, 'chdir /', '/'),
          execOp(['/bin/busybox', 'sleep', '30'], { preserveFds: o.preserve }),
        ],
        stdio: o.stdio,
        planFd: o.planFd,
        extra: [leak],
      });
      await s.released; // exec'd
      const pid = s.pid!;
      const fds = readdirSync(`/proc/${pid}/fd`)
        .map(Number)
        .sort((x, y) => x - y);
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
    const fifo = execFifo(1000);
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

  test('a handle is never reached through a /proc that is not procfs', async () => {
    const { rootfs } = bundle();
    // The rootfs offers its own /proc/self/fd tree; no procfs is mounted.
    mkdirSync(join(rootfs, 'proc/self/fd'), { recursive: true });
    mkdirSync(join(rootfs, 'decoy'));
    for (let fd = 0; fd < 32; fd++) symlinkSync('/decoy', join(rootfs, `proc/self/fd/${fd}`));
    const r = await runInit({
      parent: [waitMode, op(Op.CLONE, 'clone', CLONE_NEWNS)],
      child: [
        op(Op.MOUNT, 'make / private', '', '/', '', MS_REC | MS_PRIVATE, ''),
        op(Op.MOUNT, 'bind rootfs', rootfs, rootfs, '', MS_BIND | MS_REC, ''),
        op(Op.PIVOT_ROOT, 'pivot_root', rootfs),
        op(Op.SET_ROOT, 'open new root', '/'),
        op(Op.MASK_IN_ROOT, 'mask /etc', '/etc'),
        execOp(['/bin/true']),
      ],
    });
    assert.equal(r.code, 1);
    assert.deepEqual(r.reports.at(-1), {
      t: 'error',
      step: 'mask /etc',
      errno: 1,
      msg: '/proc is not a procfs here: refusing to reach a handle through /proc/self/fd',
    });
  });

  test('WRITE_PROC writes the real procfs file, whatever the container process mounted over its /proc', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'self'));
    const fake = join(dir, 'self/oom_score_adj');
    writeFileSync(fake, '0\n');
    const s = startInit({
      parent: [waitMode, op(Op.CLONE, 'clone', CLONE_NEWNS | CLONE_NEWPID)],
      child: [
        op(Op.MOUNT, 'make / private', '', '/', '', MS_REC | MS_PRIVATE, ''),
        // What a hostile rootfs achieves with a /proc it controls: the name
        // /proc/self/oom_score_adj leads to a file of its own.
        op(Op.MOUNT, 'bind a tree over /proc', dir, '/proc', '', MS_BIND, ''),
        op(Op.WRITE_PROC, 'set oom_score_adj', 'self/oom_score_adj', '345'),
        execOp(['/bin/busybox', 'sleep', '30']),
      ],
    });
    try {
      await s.released; // exec'd
      // The kernel's value, read from the host, where nothing is mounted over it.
      assert.equal(readFileSync(`/proc/${s.pid}/oom_score_adj`, 'utf8'), '345\n');
      assert.equal(readFileSync(fake, 'utf8'), '0\n');
    } finally {
      s.kill('SIGKILL');
      if (s.pid) process.kill(s.pid, 'SIGKILL');
      await s.done;
    }

    // Not beneath the procfs root: refused before anything is opened.
    const r2 = await runInit({
      parent: [waitMode, op(Op.CLONE, 'clone', CLONE_NEWNS)],
      child: [op(Op.WRITE_PROC, 'escape', '../etc/hostname', 'x'), execOp(['/bin/true'])],
    });
    assert.equal(r2.code, 1);
    assert.equal((r2.reports.at(-1) as { errno: number }).errno, 18); // EXDEV from RESOLVE_BENEATH
  });

  test('proc is mounted only on an ordinary directory, and /proc must still be a procfs after the mounts', async () => {
    const { rootfs } = bundle();
    rmSync(join(rootfs, 'proc'), { recursive: true });
    mkdirSync(join(rootfs, 'elsewhere'));
    symlinkSync('/elsewhere', join(rootfs, 'proc'));
    const base = [
      op(Op.MOUNT, 'make / private', '', '/', '', MS_REC | MS_PRIVATE, ''),
      op(Op.MOUNT, 'bind rootfs', rootfs, rootfs, '', MS_BIND | MS_REC, ''),
      op(Op.SET_ROOT, 'open rootfs', rootfs),
    ];
    const procOn = (dest: string) =>
      op(Op.MOUNT_IN_ROOT, `mount proc on ${dest}`, 'proc', dest, 'proc', 0, '', 'realdir', 0, 0);
    const r = await runInit({
      parent: [waitMode, op(Op.CLONE, 'clone', CLONE_NEWNS | CLONE_NEWPID)],
      child: [...base, procOn('/proc'), execOp(['/bin/true'])],
    });
    assert.equal(r.code, 1);
    assert.deepEqual(r.reports.at(-1), {
      t: 'error',
      step: 'mount proc on /proc',
      errno: 20,
      msg: '/proc must be an ordinary directory, not a symlink or a file',
    });

    // A real /proc, then a tmpfs through a link that aliases it.
    rmSync(join(rootfs, 'proc'));
    mkdirSync(join(rootfs, 'proc'));
    symlinkSync('/proc', join(rootfs, 'alias'));
    const r2 = await runInit({
      parent: [waitMode, op(Op.CLONE, 'clone', CLONE_NEWNS | CLONE_NEWPID)],
      child: [
        ...base,
        procOn('/proc'),
        op(Op.EXPECT_PROCFS_IN_ROOT, 'check /proc', '/proc'),
        op(Op.MOUNT_IN_ROOT, 'mount tmpfs on /alias', 'tmpfs', '/alias', 'tmpfs', 0, '', 'dir', 0, 0),
        op(Op.EXPECT_PROCFS_IN_ROOT, 'check /proc again', '/proc'),
        execOp(['/bin/true']),
      ],
    });
    assert.equal(r2.code, 1);
    assert.deepEqual(r2.reports.at(-1), {
      t: 'error',
      step: 'check /proc again',
      errno: 1,
      msg: '/proc is not the root of a procfs after the mounts',
    });
    assert.deepEqual(readdirSync(join(rootfs, 'elsewhere')), []);
  });

  test('unprivileged, with a user namespace: ids mapped by the first process, non-dumpable once released', async () => {
    const fifo = execFifo(1000);
    const s = startInit({
      parent: [
        waitMode,
        op(Op.OPEN_EXEC_FIFO, 'open exec fifo', fifo),
        op(Op.CLONE, 'clone', CLONE_NEWUSER),
        op(Op.WRITE_CHILD_FILE, 'write setgroups', 'setgroups', 'deny'),
        op(Op.WRITE_CHILD_FILE, 'write uid_map', 'uid_map', '0 1000 1'),
        op(Op.WRITE_CHILD_FILE, 'write gid_map', 'gid_map', '0 1000 1'),
      ],
      child: [
        op(Op.SETRESGID, 'setresgid 0', 0),
        op(Op.SETRESUID, 'setresuid 0', 0),
        op(Op.WAIT_START, 'wait for start'),
        execOp(['/bin/busybox', 'cat', '/proc/self/uid_map']),
      ],
      uid: 1000,
      gid: 1000,
    });
    await s.waitFor((r) => r.t === 'ready');
    assert.equal(statSync(`/proc/${s.pid}/environ`).uid, 0, 'the container process is still dumpable');
    const fd = openSync(fifo, constants.O_RDONLY);
    readSync(fd, Buffer.alloc(1));
    closeSync(fd);
    const r = await s.done;
    assert.equal(r.code, 0, JSON.stringify(r));
    assert.match(r.stdout, /^\s*0\s+1000\s+1\n$/);
  });

  test('EXEC and FIND_EXEC: PATH search as execvp does it; default signals, empty mask', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'echo'), '#!/bin/sh\necho wrong\n', { mode: 0o644 }); // not executable
    writeFileSync(join(dir, 'berthprog'), '#!/bin/sh\necho wrong\n', { mode: 0o644 });
    const run = (args: string[], path: string) =>
      runInit({ parent: [waitMode, op(Op.CLONE, 'clone', 0)], child: [execOp(args, { path })] });

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

    // FIND_EXEC answers what EXEC would meet, without running anything.
    const find = (name: string, path: string) =>
      runInit({
        parent: [waitMode, op(Op.CLONE, 'clone', 0)],
        child: [op(Op.FIND_EXEC, `find ${name}`, path, name), execOp(['/bin/true'])],
      });
    assert.equal((await find('echo', `${dir}:/bin`)).code, 0);
    assert.equal((await find('/bin/busybox', '')).code, 0);
    assert.deepEqual((await find('/no/such/program', '/bin')).reports.at(-1), {
      t: 'error',
      step: 'find /no/such/program',
      errno: 2,
      msg: 'No such file or directory',
    });
    assert.deepEqual((await find('berthprog', dir)).reports.at(-1), {
      t: 'error',
      step: 'find berthprog',
      errno: 13,
      msg: 'Permission denied',
    });
    assert.equal((await find('/bin', '')).reports.at(-1)?.t, 'error'); // a directory

    // berth-init ignores SIGPIPE and the wait-mode first process blocks
    // signals; the program gets neither.
    const r4 = await run(['/bin/busybox', 'grep', '-E', '^Sig(Ign|Blk):', '/proc/self/status'], '/bin');
    assert.equal(r4.code, 0, JSON.stringify(r4));
    assert.equal(r4.stdout, 'SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n');
  });

  test('leaves no mount on the host', () => {
    assertNoHostMounts();
  });
});
