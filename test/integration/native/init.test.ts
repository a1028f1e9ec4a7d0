// berth-init builds containers: real namespaces, mounts, pivot_root, devices,
// ids, capabilities, cgroups and scheduling, from plans made by hand through
// the real encoder. Every test asserts what the container (or the kernel, or
// the host) observes.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { Op } from '../../../src/runtime/plan/ops.js';
import {
  CLONE_NEWNS,
  CLONE_NEWPID,
  CLONE_NEWUSER,
  CLONE_NEWUTS,
  MS_BIND,
  MS_NODEV,
  MS_NOSUID,
  MS_RDONLY,
  MS_REC,
  MS_REMOUNT,
  NS_ALL,
  S_IFCHR,
  assertNoHostMounts,
  bundle,
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

// Capabilities 5 (CAP_KILL) and 10 (CAP_NET_BIND_SERVICE).
const CAPS = 0x420;

describe('berth-init: a container', { skip }, () => {
  test('runs a full container: namespaces, rootfs, devices, masks, hostname, user, capabilities', async () => {
    const { rootfs } = bundle();
    const script = [
      'echo hostname=$(hostname)',
      'echo pid=$$',
      'echo cwd=$(pwd)',
      'echo ids=$(id -u):$(id -g):$(id -G | tr " " ,)',
      "grep -E '^(CapEff|CapPrm|CapInh|CapBnd|CapAmb|NoNewPrivs):' /proc/self/status | tr -d '\\t' | sed 's/:/=/'",
      // `ls` lists its own descriptors: stdio, plus 3, the directory it reads.
      'echo fds=$(ls /proc/self/fd | tr "\\n" " ")',
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
    assert.deepEqual(
      r.reports.map((x) => x.t),
      ['pid'],
    );
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
    assert.equal(f.get('fds'), '0 1 2 3'); // exactly, from the host, in init-security.test.ts
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

  test('READONLY_IN_ROOT keeps nosuid/nodev; MOUNT_IN_ROOT remounts read-only', async () => {
    const { rootfs } = bundle();
    mkdirSync(join(rootfs, 'data'));
    chmodSync(join(rootfs, 'data'), 0o755);
    const r = await runInit({
      parent: [waitMode, op(Op.CLONE, 'clone', CLONE_NEWNS | CLONE_NEWPID)],
      child: [
        ...rootfsOps(rootfs, {
          beforePivot: [
            op(
              Op.MOUNT_IN_ROOT,
              'mount tmpfs on /data',
              'tmpfs',
              '/data',
              'tmpfs',
              MS_NOSUID | MS_NODEV,
              'size=1m',
              'dir',
              0,
              0,
            ),
            op(Op.READONLY_IN_ROOT, 'readonly /data', '/data'),
            op(
              Op.MOUNT_IN_ROOT,
              'mount tmpfs on /ro',
              'tmpfs',
              '/ro',
              'tmpfs',
              0,
              '',
              'dir',
              MS_REMOUNT | MS_RDONLY,
              0,
            ),
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
        // A node replaces what is there: an earlier node, a plain file.
        op(Op.MKNOD_IN_ROOT, 'mknod /dev/twice', '/dev/twice', S_IFCHR | 0o666, 1, 3, 0, 0),
        op(Op.MKNOD_IN_ROOT, 'mknod /dev/twice again', '/dev/twice', S_IFCHR | 0o640, 1, 5, 0, 0),
        op(Op.MKNOD_IN_ROOT, 'mknod over a file', '/etc/group', S_IFCHR | 0o600, 1, 7, 0, 0),
        op(Op.SYMLINK_IN_ROOT, 'symlink', 'twice', '/dev/link'),
        op(Op.SYMLINK_IN_ROOT, 'symlink again', 'elsewhere', '/dev/link'), // EEXIST is success, the first stays
        op(Op.MOVE_ROOT, 'move root', rootfs),
        op(Op.SETSID, 'setsid'),
        op(Op.CHDIR, 'chdir /', '/'),
        sh(
          'echo twice=$(stat -c %a:%t:%T /dev/twice); echo group=$(stat -c %F:%T /etc/group); echo link=$(readlink /dev/link); ' +
            'echo null=$(stat -c %t:%T /dev/null); echo zero=$(head -c 3 /dev/sub/zero | od -An -tx1 | tr -d " "); ' +
            'echo sid=$(cut -d" " -f6 /proc/self/stat) pid=$$; echo hostfiles=$(ls / | grep -c -E "^(boot|work|home)$")',
        ),
      ],
    });
    assert.equal(r.code, 0, JSON.stringify(r));
    const f = facts(r.stdout);
    assert.equal(f.get('null'), '1:3');
    assert.equal(f.get('zero'), '000000');
    assert.equal(f.get('twice'), '640:1:5');
    assert.equal(f.get('group'), 'character special file:7');
    assert.equal(f.get('link'), 'twice');
    assert.equal(f.get('hostfiles'), '0');
    // The shell (pid 1) leads its own session: /proc/self/stat of `cut` names it.
    assert.match(r.stdout, /^sid=1 pid=1$/m);
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

  test('CGROUP_ADD_CHILD puts the container process in a cgroup before it runs', async () => {
    // The v2 hierarchy: /sys/fs/cgroup on pure v2, /sys/fs/cgroup/unified on hybrid hosts.
    const base = ['/sys/fs/cgroup/unified', '/sys/fs/cgroup'].find(
      (d) => existsSync(join(d, 'cgroup.procs')) && existsSync(join(d, 'cgroup.controllers')),
    );
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
      child: [
        ...rootfsOps(rootfs, { hostname: 'berth-joined' }),
        op(Op.CHDIR, 'chdir /', '/'),
        execOp(['/bin/busybox', 'sleep', '30']),
      ],
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
        child: [
          op(Op.CHDIR, 'chdir /', '/'),
          sh(
            'echo host=$(hostname); echo pid=$$; echo up=$(cut -d. -f1 /proc/uptime); echo sleeper=$(cat /proc/1/comm)',
          ),
        ],
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

  test('SCHED, IOPRIO, PERSONALITY, UNSHARE, SETDOMAINNAME and WRITE_PROC reach the kernel', async () => {
    const SCHED_BATCH = 3;
    const ADDR_NO_RANDOMIZE = 0x0040000;
    const r = await runInit({
      parent: [waitMode, op(Op.CLONE, 'clone', 0)],
      child: [
        op(Op.SCHED, 'scheduler', SCHED_BATCH, 0, 7, 0, 0, 0, 0),
        op(Op.IOPRIO, 'ioprio', (2 << 13) | 4),
        op(Op.PERSONALITY, 'personality', ADDR_NO_RANDOMIZE),
        op(Op.UNSHARE, 'unshare uts', CLONE_NEWUTS),
        op(Op.SETHOSTNAME, 'hostname', 'berth-unshared'),
        op(Op.SETDOMAINNAME, 'domainname', 'berth.example'),
        op(Op.WRITE_PROC, 'oom_score_adj', 'self/oom_score_adj', '345'),
        sh(
          'echo stat=$(cut -d" " -f19,41 /proc/$$/stat); echo persona=$(cat /proc/$$/personality); echo io=$(ionice -p $$); ' +
            'echo host=$(hostname); echo domain=$(cat /proc/sys/kernel/domainname); echo oom=$(cat /proc/$$/oom_score_adj)',
        ),
      ],
    });
    assert.equal(r.code, 0, JSON.stringify(r));
    const f = facts(r.stdout);
    assert.equal(f.get('stat'), '7 3');
    assert.equal(f.get('persona'), '00040000');
    assert.equal(f.get('io'), 'best-effort: prio 4');
    assert.equal(f.get('host'), 'berth-unshared');
    assert.equal(f.get('domain'), 'berth.example');
    assert.equal(f.get('oom'), '345');
    assert.notEqual(readFileSync('/proc/sys/kernel/hostname', 'utf8').trim(), 'berth-unshared'); // ours is untouched
  });

  test('NULL_FD puts the runtime’s /dev/null on a stdio descriptor (a pipe before); only 0-2', async () => {
    const probe = sh('[ -c /proc/self/fd/0 ] && echo fd0=null || echo fd0=other');
    const r = await runInit({
      parent: [waitMode, op(Op.CLONE, 'clone', 0)],
      child: [op(Op.NULL_FD, 'no stdin', 0), probe],
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    assert.equal(r.code, 0, JSON.stringify(r));
    assert.equal(facts(r.stdout).get('fd0'), 'null');
    const before = await runInit({
      parent: [waitMode, op(Op.CLONE, 'clone', 0)],
      child: [probe],
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    assert.equal(facts(before.stdout).get('fd0'), 'other', 'a pipe without the op');
    const bad = await runInit({
      parent: [waitMode, op(Op.CLONE, 'clone', 0)],
      child: [op(Op.NULL_FD, 'not stdio', 3), sh('echo ran')],
    });
    assert.equal(bad.code, 1, JSON.stringify(bad));
    const err = bad.reports.find((x) => x.t === 'error');
    assert.ok(err && err.t === 'error' && err.errno === 22 && err.step === 'not stdio', JSON.stringify(bad.reports));
    assert.ok(!bad.stdout.includes('ran'));
  });

  test('SETHOSTNAME and SETDOMAINNAME are refused in the UTS namespace berth-init started in (the host is untouched)', async () => {
    const hostname = readFileSync('/proc/sys/kernel/hostname', 'utf8');
    const domainname = readFileSync('/proc/sys/kernel/domainname', 'utf8');
    for (const [code, what] of [
      [Op.SETHOSTNAME, 'hostname'],
      [Op.SETDOMAINNAME, 'domainname'],
    ] as const) {
      const r = await runInit({
        parent: [waitMode, op(Op.CLONE, 'clone', CLONE_NEWNS | CLONE_NEWPID)],
        child: [op(code, `set ${what}`, 'berth-must-not-leak'), sh('echo ran')],
        ownUts: true,
      });
      assert.equal(r.code, 1, JSON.stringify(r));
      const err = r.reports.find((x) => x.t === 'error');
      assert.ok(err && err.t === 'error' && err.errno === 1 && err.step === `set ${what}`, JSON.stringify(r.reports));
      assert.match(err.msg, /runtime's own UTS namespace/);
      assert.ok(!r.stdout.includes('ran'));
    }
    assert.equal(readFileSync('/proc/sys/kernel/hostname', 'utf8'), hostname);
    assert.equal(readFileSync('/proc/sys/kernel/domainname', 'utf8'), domainname);
  });

  test('leaves no mount on the host', () => {
    assertNoHostMounts();
  });
});
