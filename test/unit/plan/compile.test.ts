// The plan compiler, without root: the exact operations a config becomes.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  childPlanNeedsPid,
  compileChild,
  compileParent,
  compileExecParent,
  compileExecChild,
  capMask,
  ignoredCapabilities,
  type CreatePlanInput,
} from '../../../src/runtime/plan/compile.js';
import { compileSeccomp } from '../../../src/runtime/plan/seccomp.js';
import { parseMountOptions, bindRemountFlags } from '../../../src/runtime/plan/mountopts.js';
import { encodePhase, decodeOps } from '../../../src/runtime/plan/encode.js';
import { Op, type PlanOp } from '../../../src/runtime/plan/ops.js';
import { defaultSpec } from '../../../src/runtime/spec/defaults.js';
import { CLONE, MOUNT_ATTR, MS } from '../../../src/runtime/linux/constants.js';
import type { Spec } from '../../../src/runtime/spec/types.js';

function input(edit?: (s: Spec) => void): CreatePlanInput {
  const spec = defaultSpec({ cgroupNamespace: false });
  spec.process!.terminal = false;
  edit?.(spec);
  return {
    id: 'c1',
    bundle: '/b',
    rootfs: '/b/rootfs',
    spec,
    parentMode: 'exit',
    execFifo: '/run/x/exec.fifo',
    noPivot: false,
    newKeyring: true,
    preserveFds: 0,
    cgroupProcs: ['/sys/fs/cgroup/pids/c1/cgroup.procs'],
    cgroupHierarchies: [{ dir: '', fstype: 'cgroup2', data: '', hostPath: '/sys/fs/cgroup/c1' }],
    host: { apparmor: false, selinux: false, capLast: 40, keyrings: true },
  };
}
const names = (ops: PlanOp[]) => ops.map((o) => Object.entries(Op).find(([, v]) => v === o.op)![0]);

describe('plan compiler: the mount namespace', () => {
  it('a shared rootfsPropagation makes the mount holding the rootfs private before the bind (pivot_root needs it)', () => {
    const i = input((s) => (s.linux!.rootfsPropagation = 'shared'));
    i.rootfsParentMount = '/b';
    const ops = compileChild(i, 1);
    const at = ops.findIndex((o) => o.op === Op.MOUNT && o.args[1] === '/b');
    assert.ok(at > 0, names(ops).join(' '));
    assert.equal(ops[at]!.args[3], MS.PRIVATE);
    assert.equal(ops[at - 1]!.args[3], MS.SHARED | MS.REC);
    assert.equal(ops[at + 1]!.label, 'bind rootfs /b/rootfs on itself');
    // Not for the default rslave.
    const plain = input();
    plain.rootfsParentMount = '/b';
    assert.ok(!compileChild(plain, 1).some((o) => o.op === Op.MOUNT && o.args[1] === '/b'));
  });

  it('no mount namespace of its own: no propagation change, no self-bind, a chroot instead of pivot_root; exec chroots too', () => {
    for (const ns of [undefined, { type: 'mount' as const, path: '/proc/42/ns/mnt' }]) {
      const i = input((s) => {
        s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'mount');
        if (ns) s.linux!.namespaces.push(ns);
        s.linux!.maskedPaths = [];
        s.linux!.readonlyPaths = [];
        s.root = { path: 'rootfs', readonly: false };
      });
      const ops = compileChild(i, 1);
      const n = names(ops);
      assert.ok(!ops.some((o) => o.op === Op.MOUNT && o.args[1] === '/'), n.join(' '));
      assert.ok(!n.includes('PIVOT_ROOT') && !n.includes('MOVE_ROOT'));
      assert.deepEqual(ops.find((o) => o.op === Op.CHROOT)?.args, ['/b/rootfs']);
      assert.ok(n.indexOf('CHROOT') > n.lastIndexOf('MOUNT_IN_ROOT'));
      const exec = compileExecChild(
        {
          spec: i.spec,
          id: 'c1',
          bundle: '/b',
          rootfs: '/b/rootfs',
          initPid: 77,
          process: i.spec.process!,
          parentMode: 'wait',
          preserveFds: 0,
          newKeyring: false,
          host: i.host,
        },
        2,
      );
      assert.deepEqual(exec[0], { op: Op.CHROOT_PROCESS_ROOT, label: "chroot to the container's root", args: [77] });
    }
    // What would change the shared namespace for everyone is refused.
    const prop = input((s) => {
      s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'mount');
      s.linux!.rootfsPropagation = 'rshared';
    });
    assert.throws(() => compileChild(prop, 1), /linux\.rootfsPropagation: needs a mount namespace/);
  });
});

describe('plan compiler', () => {
  it('phase 1: fifo, clone with the new namespaces, release, then the cgroup joins', () => {
    const ops = compileParent(input());
    assert.deepEqual(names(ops), ['PARENT_MODE', 'OPEN_EXEC_FIFO', 'CLONE', 'RELEASE', 'CGROUP_ADD_CHILD']);
    const flags = Number(ops[2]!.args[0]);
    assert.equal(flags, CLONE.NEWPID | CLONE.NEWNET | CLONE.NEWIPC | CLONE.NEWUTS | CLONE.NEWNS);
  });

  it('phase 1 without a cgroup to join has no RELEASE (berth-init releases at END)', () => {
    const i = input();
    i.cgroupProcs = [];
    assert.deepEqual(names(compileParent(i)), ['PARENT_MODE', 'OPEN_EXEC_FIFO', 'CLONE']);
  });

  it('joined namespaces are entered user-first and mount-last; time offsets before clone; maps after', () => {
    const ops = compileParent(
      input((s) => {
        s.linux!.namespaces = [
          { type: 'mount' },
          { type: 'network', path: '/proc/1/ns/net' },
          { type: 'user' },
          { type: 'ipc', path: '/x/ipc' },
          { type: 'time' },
        ];
        s.linux!.uidMappings = [{ containerID: 0, hostID: 1000, size: 10 }];
        s.linux!.gidMappings = [{ containerID: 0, hostID: 2000, size: 10 }];
        s.linux!.timeOffsets = { monotonic: { secs: 5, nanosecs: 7 } };
      }),
    );
    // The id maps before RELEASE: the container process must never run unmapped.
    assert.deepEqual(names(ops), [
      'PARENT_MODE',
      'OPEN_EXEC_FIFO',
      'SETNS',
      'SETNS',
      'TIMENS_OFFSETS',
      'CLONE',
      'WRITE_CHILD_FILE',
      'WRITE_CHILD_FILE',
      'RELEASE',
      'CGROUP_ADD_CHILD',
    ]);
    assert.equal(ops[2]!.args[0], '/x/ipc');
    assert.equal(ops[3]!.args[0], '/proc/1/ns/net');
    assert.equal(ops[4]!.args[0], 'monotonic 5 7\n');
    assert.equal(Number(ops[5]!.args[0]), CLONE.NEWNS | CLONE.NEWUSER);
    assert.deepEqual(ops[6]!.args, ['uid_map', '0 1000 10\n']);
    assert.deepEqual(ops[7]!.args, ['gid_map', '0 2000 10\n']);
  });

  it('phase 2 follows the runc order: mounts, createRuntime sync, pivot, paths, user, exec', () => {
    const ops = names(
      compileChild(
        input((s) => {
          s.hooks = { createRuntime: [{ path: '/bin/true' }] };
        }),
        42,
      ),
    );
    const order = [
      'MOUNT',
      'MOUNT',
      'SET_ROOT',
      'MOUNT_IN_ROOT',
      'MKDIR_IN_ROOT',
      'WAIT_CGROUPS',
      'SYNC',
      'PIVOT_ROOT',
      'SET_ROOT',
      'READONLY_IN_ROOT',
      'MASK_IN_ROOT',
      'SETSID',
      'CAPS_BOUNDING',
      'USER',
      'CAPS',
      'UMASK',
      'CHDIR',
      'NO_NEW_PRIVS',
      'FIND_EXEC',
      'WAIT_START',
      'EXEC',
    ];
    let at = -1;
    for (const o of order) {
      const i = ops.indexOf(o, at + 1);
      assert.ok(i > at, `${o} after position ${at}: ${ops.join(',')}`);
      at = i;
    }
    assert.equal(ops.at(-1), 'EXEC');
  });

  it('the wait for the cgroup joins comes once, after the mounts, before any SYNC, HOOK, WAIT_START or EXEC', () => {
    const hook = { path: '/bin/true' };
    const ops = compileChild(
      input((s) => {
        s.hooks = { prestart: [hook], createContainer: [hook], startContainer: [hook] };
      }),
      42,
    );
    const n = names(ops);
    assert.equal(n.filter((x) => x === 'WAIT_CGROUPS').length, 1);
    const wait = n.indexOf('WAIT_CGROUPS');
    // As late as possible: every mount of the config (the cgroup bind mounts too) is before it.
    assert.equal(n.lastIndexOf('MOUNT_IN_ROOT', wait), n.lastIndexOf('MOUNT_IN_ROOT', n.indexOf('SYNC')));
    for (const later of ['SYNC', 'HOOK', 'WAIT_START', 'EXEC'])
      assert.ok(n.indexOf(later) > wait, `${later} after WAIT_CGROUPS: ${n.join(',')}`);
    assert.ok(!n.includes('UNSHARE'));
  });

  it('the createRuntime SYNC is there only for prestart or createRuntime hooks', () => {
    const hook = { path: '/bin/true' };
    assert.ok(!names(compileChild(input(), 42)).includes('SYNC'));
    assert.ok(
      !names(
        compileChild(
          input((s) => {
            s.hooks = { createContainer: [hook], poststart: [hook] };
          }),
          42,
        ),
      ).includes('SYNC'),
    );
    for (const kind of ['prestart', 'createRuntime'] as const) {
      const n = names(
        compileChild(
          input((s) => {
            s.hooks = { [kind]: [hook] };
          }),
          42,
        ),
      );
      assert.equal(n.filter((x) => x === 'SYNC').length, 1, kind);
      assert.ok(n.indexOf('SYNC') > n.indexOf('WAIT_CGROUPS') && n.indexOf('SYNC') < n.indexOf('PIVOT_ROOT'), kind);
    }
  });

  it('the child plan needs the pid only for hooks in the container and a seccomp listener', () => {
    const hook = { path: '/bin/true' };
    const spec = (edit?: (s: Spec) => void) => input(edit).spec;
    assert.equal(childPlanNeedsPid(spec()), false);
    assert.equal(
      childPlanNeedsPid(
        spec((s) => {
          s.hooks = { prestart: [hook], poststart: [hook], poststop: [hook] };
        }),
      ),
      false,
    );
    assert.equal(
      childPlanNeedsPid(
        spec((s) => {
          s.hooks = { createContainer: [hook] };
        }),
      ),
      true,
    );
    assert.equal(
      childPlanNeedsPid(
        spec((s) => {
          s.hooks = { startContainer: [hook] };
        }),
      ),
      true,
    );
    assert.equal(
      childPlanNeedsPid(
        spec((s) => {
          s.linux!.seccomp = {
            defaultAction: 'SCMP_ACT_ALLOW',
            listenerPath: '/run/l.sock',
            syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' }],
          };
        }),
      ),
      true,
    );
    // Where it does not, the pid changes nothing in the plan.
    const a = compileChild(input(), 42);
    const b = compileChild(input(), 4242);
    assert.deepEqual(a, b);
  });

  it('a new cgroup namespace is made after the joins, just before the cgroup mounts', () => {
    const ops = compileChild(
      input((s) => {
        s.linux!.namespaces!.push({ type: 'cgroup' });
      }),
      42,
    );
    const n = names(ops);
    const wait = n.indexOf('WAIT_CGROUPS');
    assert.equal(n[wait + 1], 'UNSHARE');
    assert.equal(Number(ops[wait + 1]!.args[0]), CLONE.NEWCGROUP);
    // The next op mounts the cgroup filesystem (the single cgroup2 hierarchy of input()).
    assert.deepEqual(ops[wait + 2]!.args.slice(0, 3), ['cgroup2', '/sys/fs/cgroup', 'cgroup2']);
    assert.ok(n.indexOf('MOUNT_IN_ROOT') < wait, 'the mounts before the cgroup mount run during the joins');
    assert.equal(n.filter((x) => x === 'WAIT_CGROUPS' || x === 'UNSHARE').length, 2);

    // No cgroup mount: still before the createRuntime SYNC.
    const bare = names(
      compileChild(
        input((s) => {
          s.linux!.namespaces!.push({ type: 'cgroup' });
          s.mounts = s.mounts!.filter((m) => m.type !== 'cgroup');
          s.hooks = { createRuntime: [{ path: '/bin/true' }] };
        }),
        42,
      ),
    );
    assert.deepEqual(bare.slice(bare.indexOf('WAIT_CGROUPS'), bare.indexOf('SYNC') + 1), [
      'WAIT_CGROUPS',
      'UNSHARE',
      'SYNC',
    ]);

    // A joined cgroup namespace (phase 1 SETNS) is not unshared.
    const joined = names(
      compileChild(
        input((s) => {
          s.linux!.namespaces!.push({ type: 'cgroup', path: '/proc/1/ns/cgroup' });
        }),
        42,
      ),
    );
    assert.ok(!joined.includes('UNSHARE') && joined.includes('WAIT_CGROUPS'));
  });

  it('--no-pivot moves the root instead of pivoting', () => {
    const i = input();
    i.noPivot = true;
    const ops = names(compileChild(i, 1));
    assert.ok(ops.includes('MOVE_ROOT') && !ops.includes('PIVOT_ROOT'));
  });

  it('seccomp loads late with no_new_privs, early without', () => {
    const seccomp = {
      defaultAction: 'SCMP_ACT_ALLOW' as const,
      syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' as const }],
    };
    let ops = names(
      compileChild(
        input((s) => {
          s.linux!.seccomp = seccomp;
        }),
        1,
      ),
    );
    assert.ok(ops.indexOf('SECCOMP_LOAD') > ops.indexOf('WAIT_START'));
    ops = names(
      compileChild(
        input((s) => {
          s.linux!.seccomp = seccomp;
          s.process!.noNewPrivileges = false;
        }),
        1,
      ),
    );
    assert.ok(ops.indexOf('SECCOMP_LOAD') < ops.indexOf('USER'));
  });

  it('seccomp rules: actions, errno, conditions; repeated arguments split into rules; default-equal rules dropped', () => {
    const ops = compileSeccomp(
      {
        defaultAction: 'SCMP_ACT_ERRNO',
        defaultErrnoRet: 38,
        architectures: ['SCMP_ARCH_X86_64'],
        flags: ['SECCOMP_FILTER_FLAG_LOG'],
        syscalls: [
          { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' },
          {
            names: ['kill'],
            action: 'SCMP_ACT_ALLOW',
            args: [
              { index: 1, value: 9, op: 'SCMP_CMP_NE' },
              { index: 1, value: 15, op: 'SCMP_CMP_NE' },
            ],
          },
          { names: ['ptrace'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
        ],
      },
      '',
    );
    assert.deepEqual(names(ops), [
      'SECCOMP_INIT',
      'SECCOMP_ATTR',
      'SECCOMP_ATTR',
      'SECCOMP_ARCH',
      'SECCOMP_RULE',
      'SECCOMP_RULE',
      'SECCOMP_RULE',
      'SECCOMP_RULE',
      'SECCOMP_LOAD',
    ]);
    assert.deepEqual(ops[0]!.args, [0x00050000 | 38]);
    assert.deepEqual(ops[1]!.args, [3, 0]);
    assert.deepEqual(ops[4]!.args, ['read', 0x7fff0000, 0]);
    assert.deepEqual(ops[6]!.args, ['kill', 0x7fff0000, 1, '1 1 9 0']);
    assert.deepEqual(ops[7]!.args, ['kill', 0x7fff0000, 1, '1 1 15 0']);
  });

  it('mount options become flags, propagation and data; binds with extra flags are remounted', () => {
    const o = parseMountOptions(['rbind', 'ro', 'nosuid', 'rslave', 'size=1m', 'mode=755'], 'mounts[0]');
    assert.equal(o.flags, MS.BIND | MS.REC | MS.RDONLY | MS.NOSUID);
    assert.equal(o.propagation, MS.SLAVE | MS.REC);
    assert.equal(o.data, 'size=1m,mode=755');
    assert.equal(bindRemountFlags(o.flags), MS.BIND | MS.REMOUNT | MS.RDONLY | MS.NOSUID);
    assert.equal(bindRemountFlags(MS.BIND | MS.REC), 0);
    assert.throws(
      () => parseMountOptions(['bind', 'idmap'], 'mounts[3]'),
      /mounts\[3\]\.options\[1\]: mount option "idmap" is not supported/,
    );
  });

  it('a v1/hybrid cgroup mount without cgroupns: one recursive mount_setattr where the kernel has it, a remount per bind otherwise', () => {
    const hybrid = (mountSetattr: boolean) => ({
      ...input(),
      cgroupHierarchies: [
        { dir: 'cpu', fstype: 'cgroup' as const, data: 'cpu', hostPath: '/sys/fs/cgroup/cpu/c1' },
        { dir: 'memory', fstype: 'cgroup' as const, data: 'memory', hostPath: '/sys/fs/cgroup/memory/c1' },
      ],
      host: { ...input().host, mountSetattr },
    });
    const cgroupOps = (ops: PlanOp[]) =>
      ops.filter(
        (o) => String(o.args[0]).startsWith('/sys/fs/cgroup') || String(o.args[1]).startsWith('/sys/fs/cgroup'),
      );
    const withSetattr = cgroupOps(compileChild(hybrid(true), 42));
    assert.deepEqual(names(withSetattr), ['MOUNT_IN_ROOT', 'MOUNT_IN_ROOT', 'MOUNT_IN_ROOT', 'MOUNT_SETATTR_IN_ROOT']);
    for (const b of withSetattr.slice(1, 3)) assert.equal(b.args[6], 0, 'no remount of each bind');
    assert.deepEqual(withSetattr[3]!.args, [
      '/sys/fs/cgroup',
      MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV | MOUNT_ATTR.NOEXEC | MOUNT_ATTR.RELATIME,
      MOUNT_ATTR.ATIME_MASK,
    ]);
    const without = cgroupOps(compileChild(hybrid(false), 42));
    assert.deepEqual(names(without), ['MOUNT_IN_ROOT', 'MOUNT_IN_ROOT', 'MOUNT_IN_ROOT', 'READONLY_IN_ROOT']);
    for (const b of without.slice(1, 3))
      assert.equal(Number(b.args[6]) & MS.RDONLY, MS.RDONLY, 'each bind remounted read-only');
  });

  it('tmpcopyup: a tmpfs that copies what was under it, in one operation; refused elsewhere', () => {
    const tmpfs = (options: string[], type = 'tmpfs') =>
      input((s) => {
        s.mounts!.push({ destination: '/run/x', type, source: type, options });
      });
    const ops = compileChild(tmpfs(['nosuid', 'tmpcopyup', 'mode=755']), 42);
    const at = ops.findIndex((o) => o.op === Op.MOUNT_COPYUP_IN_ROOT);
    assert.ok(at > 0);
    assert.deepEqual(ops[at]!.args, ['tmpfs', '/run/x', 'tmpfs', MS.NOSUID, 'mode=755', 0]);
    assert.ok(!ops.some((o) => o.op === Op.MOUNT_IN_ROOT && o.args[1] === '/run/x'));
    assert.throws(
      () => compileChild(tmpfs(['tmpcopyup'], 'proc'), 42),
      /mounts\[\d+\]\.options: tmpcopyup applies to tmpfs mounts only, not proc/,
    );
    assert.throws(
      () =>
        compileChild(
          input((s) => {
            s.mounts!.push({ destination: '/d', type: 'bind', source: '/tmp', options: ['rbind', 'tmpcopyup'] });
          }),
          42,
        ),
      /tmpcopyup applies to tmpfs mounts only, not to a bind mount/,
    );
  });

  it('recursive mount options become mount_setattr attributes, applied after the mount', () => {
    const o = parseMountOptions(['rbind', 'rro', 'rnosuid', 'rnoexec', 'rexec', 'rnoatime'], 'mounts[0]');
    assert.equal(o.flags, MS.BIND | MS.REC, 'no plain flag from a recursive option');
    assert.equal(o.recursive.set, MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID | MOUNT_ATTR.NOATIME);
    assert.equal(o.recursive.clear, MOUNT_ATTR.NOEXEC | MOUNT_ATTR.ATIME_MASK);
    assert.deepEqual(parseMountOptions(['rbind', 'ro'], 'm').recursive, { set: 0, clear: 0 });
    assert.equal(
      parseMountOptions(['rnoatime', 'rstrictatime'], 'm').recursive.set,
      MOUNT_ATTR.STRICTATIME,
      'one access-time mode, the last',
    );
    assert.throws(
      () => parseMountOptions(['rbind', 'ratime'], 'mounts[2]'),
      /mounts\[2\]\.options\[1\]: "ratime" does not say which access-time mode/,
    );

    const spec = (options: string[]) =>
      input((s) => {
        s.mounts!.push({ destination: '/data', type: 'bind', source: '/tmp', options });
      });
    const ops = compileChild(spec(['rbind', 'rro']), 42);
    const n = names(ops);
    const at = n.indexOf('MOUNT_SETATTR_IN_ROOT');
    assert.ok(at > 0 && ops[at - 1]!.op === Op.MOUNT_IN_ROOT && ops[at - 1]!.args[1] === '/data', n.join(','));
    assert.deepEqual(ops[at]!.args, ['/data', MOUNT_ATTR.RDONLY, 0]);
    assert.ok(!names(compileChild(spec(['rbind', 'ro']), 42)).includes('MOUNT_SETATTR_IN_ROOT'));
  });

  it("capability names become masks; names unknown or above the kernel's last are left out, as runc does", () => {
    assert.equal(
      capMask(['CAP_CHOWN', 'CAP_KILL', 'CAP_CHECKPOINT_RESTORE'], 'x'),
      (1n << 0n) | (1n << 5n) | (1n << 40n),
    );
    assert.equal(capMask(['CAP_KILL', 'CAP_FROM_THE_FUTURE'], 'x'), 1n << 5n);
    assert.equal(capMask(['CAP_KILL', 'CAP_BPF'], 'x', 38), 1n << 5n);
    assert.deepEqual(
      ignoredCapabilities(
        { user: { uid: 0, gid: 0 }, cwd: '/', capabilities: { bounding: ['CAP_KILL', 'CAP_BPF', 'CAP_NEW'] } },
        38,
      ),
      ['CAP_BPF', 'CAP_NEW'],
    );
    assert.throws(
      () => capMask(['kill'], 'process.capabilities.effective'),
      /process\.capabilities\.effective: unknown capability "kill"/,
    );
  });

  it('a session keyring of the container own, named as runc names it, unless --no-new-keyring or the kernel has none', () => {
    const ops = compileChild(input(), 42);
    const n = names(ops);
    const at = n.indexOf('SESSION_KEYRING');
    assert.ok(at >= 0 && at < n.indexOf('MOUNT') && at < n.indexOf('USER'), n.join(','));
    assert.deepEqual(ops[at]!.args, ['_ses.c1']);
    assert.ok(!names(compileChild({ ...input(), newKeyring: false }, 42)).includes('SESSION_KEYRING'));
    assert.ok(
      !names(compileChild({ ...input(), host: { ...input().host, keyrings: false } }, 42)).includes('SESSION_KEYRING'),
    );
    // In a user namespace, as the namespace's root.
    const userNs = names(
      compileChild(
        input((s) => {
          s.linux!.namespaces!.push({ type: 'user' });
          s.linux!.uidMappings = [{ containerID: 0, hostID: 1000, size: 10 }];
          s.linux!.gidMappings = [{ containerID: 0, hostID: 1000, size: 10 }];
        }),
        42,
      ),
    );
    assert.ok(userNs.indexOf('SESSION_KEYRING') > userNs.indexOf('SETRESUID'));
    // exec joins the same keyring by name, or keeps the runtime's.
    const i = input();
    const exec = (newKeyring: boolean) =>
      compileExecChild(
        {
          spec: i.spec,
          id: 'c1',
          bundle: '/b',
          rootfs: '/b/rootfs',
          initPid: 77,
          process: i.spec.process!,
          parentMode: 'wait',
          preserveFds: 0,
          newKeyring,
          host: i.host,
        },
        78,
      );
    assert.deepEqual(exec(true).find((o) => o.op === Op.SESSION_KEYRING)?.args, ['_ses.c1']);
    assert.ok(!exec(false).some((o) => o.op === Op.SESSION_KEYRING));
  });

  it('hostname without a uts namespace is refused with the field', () => {
    assert.throws(
      () =>
        compileChild(
          input((s) => {
            s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'uts');
            s.hostname = 'h';
          }),
          1,
        ),
      /hostname: .*uts namespace/,
    );
  });

  it('exec joins every namespace of the container through /proc/<pid>/ns', () => {
    const i = input();
    const ops = compileExecParent({
      spec: i.spec,
      id: 'c1',
      bundle: '/b',
      rootfs: '/b/rootfs',
      initPid: 77,
      process: i.spec.process!,
      parentMode: 'wait',
      preserveFds: 0,
      newKeyring: true,
      host: i.host,
    });
    const joins = ops.filter((o) => o.op === Op.SETNS).map((o) => o.args[0]);
    assert.deepEqual(joins, [
      '/proc/77/ns/ipc',
      '/proc/77/ns/uts',
      '/proc/77/ns/net',
      '/proc/77/ns/pid',
      '/proc/77/ns/mnt',
    ]);
  });

  it('the wire encoding round-trips, with 64-bit values intact', () => {
    const ops: PlanOp[] = [{ op: Op.RLIMIT, label: 'set RLIMIT_NOFILE', args: [7, 18446744073709551615n, 'ü'] }];
    const buf = encodePhase(ops);
    const back = decodeOps(buf);
    assert.equal(back.length, 2);
    assert.deepEqual(back[0]!.args, ['7', '18446744073709551615', 'ü']);
    assert.equal(back[1]!.op, Op.END);
  });
});
