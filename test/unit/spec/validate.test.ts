// Every rule of parseSpec has a failing example here, and each asserts the
// exact field the error names: an error that points at the wrong field is a
// wrong error.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSpec } from '../../../src/runtime/spec/validate.js';
import { BerthError } from '../../../src/common/errors.js';

/** A minimal valid config (root user, sh, a few namespaces). */
function minimal(): any {
  return {
    ociVersion: '1.2.0',
    root: { path: 'rootfs' },
    process: { user: { uid: 0, gid: 0 }, args: ['sh'], cwd: '/' },
    linux: { namespaces: [{ type: 'pid' }, { type: 'mount' }, { type: 'ipc' }, { type: 'uts' }, { type: 'network' }] },
  };
}

function expectInvalid(mutate: (s: any) => void, field: string, message?: RegExp | string): void {
  const s = minimal();
  mutate(s);
  assert.throws(
    () => parseSpec(s),
    (e: unknown) => {
      assert.ok(e instanceof BerthError, `not a BerthError: ${String(e)}`);
      assert.equal(e.layer, 'runtime'); // the library; berth-runc or the engine names itself when it reports it
      assert.equal(e.code, 'invalid-argument');
      assert.equal(e.field, field, `wrong field in: ${e.message}`);
      const prefix = field ? `config.json: ${field}: ` : 'config.json: ';
      assert.ok(
        e.message.startsWith(prefix),
        `message ${JSON.stringify(e.message)} does not start with ${JSON.stringify(prefix)}`,
      );
      if (typeof message === 'string') assert.equal(e.message, prefix + message);
      else if (message) assert.match(e.message, message);
      return true;
    },
  );
}

test('a minimal config passes', () => {
  const spec = parseSpec(minimal());
  assert.equal(spec.process?.args?.[0], 'sh');
});

test('unknown properties are ignored and dropped, at every level', () => {
  const s = minimal();
  s.future = { x: 1 };
  s.process.futureField = true;
  s.linux.namespaces[0].flavour = 'new';
  const spec = parseSpec(s) as any;
  assert.equal(spec.future, undefined);
  assert.equal(spec.process.futureField, undefined);
  assert.deepEqual(spec.linux.namespaces[0], { type: 'pid' });
});

test('null properties read as absent (as Go does), null array items do not', () => {
  const s = minimal();
  s.hostname = null;
  s.linux.resources = null;
  assert.doesNotThrow(() => parseSpec(s));
  expectInvalid((s) => (s.process.args = ['sh', null]), 'process.args[1]', 'must be a non-empty array of strings');
});

test('the whole document must be an object', () => {
  for (const bad of [null, 3, 'x', []]) {
    assert.throws(
      () => parseSpec(bad),
      /^BerthError: config\.json: must be a JSON object$|config\.json: must be a JSON object/,
    );
  }
});

// ---------------------------------------------------------------- shape and types

test('ociVersion: required, SemVer, 1.x', () => {
  expectInvalid((s) => delete s.ociVersion, 'ociVersion', 'is required');
  expectInvalid((s) => (s.ociVersion = 1), 'ociVersion', 'must be a string');
  expectInvalid((s) => (s.ociVersion = 'one'), 'ociVersion', /SemVer/);
  expectInvalid((s) => (s.ociVersion = ''), 'ociVersion', /SemVer/);
  expectInvalid((s) => (s.ociVersion = '0.5.0'), 'ociVersion', /unsupported version "0.5.0"/);
  expectInvalid((s) => (s.ociVersion = '2.0.0'), 'ociVersion', /unsupported version "2.0.0"/);
  for (const ok of ['1.0.0', '1.0.2-dev', '1.1.0-rc.3', '1.2.1', '1.3.0', '1.0']) {
    const s = minimal();
    s.ociVersion = ok;
    assert.doesNotThrow(() => parseSpec(s), ok);
  }
});

test('root and root.path are required', () => {
  expectInvalid((s) => delete s.root, 'root', 'is required');
  expectInvalid((s) => delete s.root.path, 'root.path', 'is required');
  expectInvalid((s) => (s.root.path = ''), 'root.path', 'must not be empty');
  expectInvalid((s) => (s.root.readonly = 'yes'), 'root.readonly', 'must be a boolean');
});

test('process: required, args non-empty array of strings', () => {
  expectInvalid((s) => delete s.process, 'process', 'is required');
  expectInvalid((s) => (s.process.args = 'sh'), 'process.args', 'must be a non-empty array of strings');
  expectInvalid((s) => (s.process.args = []), 'process.args', 'must be a non-empty array of strings');
  expectInvalid((s) => delete s.process.args, 'process.args', 'must be a non-empty array of strings');
  expectInvalid((s) => (s.process.args = [1]), 'process.args[0]', 'must be a non-empty array of strings');
  expectInvalid((s) => (s.process.args = ['']), 'process.args[0]', 'must not be empty');
  expectInvalid((s) => (s.process.args = ['sh', 'a\0b']), 'process.args[1]', 'must not contain a NUL byte');
});

test('process.cwd: required and absolute', () => {
  expectInvalid((s) => delete s.process.cwd, 'process.cwd', 'is required');
  expectInvalid((s) => (s.process.cwd = ''), 'process.cwd', 'must not be empty');
  expectInvalid((s) => (s.process.cwd = 'home'), 'process.cwd', 'must be an absolute path, got "home"');
});

test('process.user: uid/gid required uint32, umask, additionalGids', () => {
  expectInvalid((s) => delete s.process.user, 'process.user', 'is required');
  expectInvalid((s) => delete s.process.user.uid, 'process.user.uid', 'is required');
  expectInvalid((s) => (s.process.user.uid = -1), 'process.user.uid', 'must be an integer from 0 to 4294967295');
  expectInvalid((s) => (s.process.user.gid = 1.5), 'process.user.gid', 'must be an integer from 0 to 4294967295');
  expectInvalid((s) => (s.process.user.gid = '0'), 'process.user.gid', 'must be an integer');
  expectInvalid((s) => (s.process.user.gid = 2 ** 32), 'process.user.gid');
  expectInvalid((s) => (s.process.user.umask = 0o1000), 'process.user.umask', /0777/);
  expectInvalid((s) => (s.process.user.additionalGids = [1, 'x']), 'process.user.additionalGids[1]');
});

test('process.env: strings of KEY=value', () => {
  expectInvalid((s) => (s.process.env = 'A=1'), 'process.env', /must be an array/);
  expectInvalid((s) => (s.process.env = ['A=1', 'B']), 'process.env[1]', 'must be "KEY=value", got "B"');
  expectInvalid((s) => (s.process.env = ['=1']), 'process.env[0]', /empty variable name/);
});

test('process.capabilities: the five sets, names CAP_CHOWN..CAP_CHECKPOINT_RESTORE', () => {
  for (const set of ['bounding', 'effective', 'inheritable', 'permitted', 'ambient']) {
    expectInvalid(
      (s) => (s.process.capabilities = { [set]: ['CAP_KILL', 'FOO'] }),
      `process.capabilities.${set}[1]`,
      'unknown capability "FOO"',
    );
  }
  expectInvalid(
    (s) => (s.process.capabilities = { bounding: ['kill'] }),
    'process.capabilities.bounding[0]',
    'unknown capability "kill"',
  );
  expectInvalid(
    (s) => (s.process.capabilities = { bounding: 'CAP_KILL' }),
    'process.capabilities.bounding',
    /array of capability names/,
  );
  const s = minimal();
  s.process.capabilities = { bounding: ['CAP_CHECKPOINT_RESTORE', 'CAP_BPF', 'CAP_PERFMON', 'CAP_CHOWN'] };
  assert.doesNotThrow(() => parseSpec(s));
});

test('process.rlimits: known types, no duplicates, soft <= hard', () => {
  expectInvalid(
    (s) => (s.process.rlimits = [{ type: 'RLIMIT_FOO', hard: 1, soft: 1 }]),
    'process.rlimits[0].type',
    'unknown rlimit "RLIMIT_FOO"',
  );
  expectInvalid(
    (s) => (s.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 1 }]),
    'process.rlimits[0].hard',
    'is required',
  );
  expectInvalid(
    (s) =>
      (s.process.rlimits = [
        { type: 'RLIMIT_NOFILE', hard: 10, soft: 10 },
        { type: 'RLIMIT_NOFILE', hard: 10, soft: 10 },
      ]),
    'process.rlimits[1].type',
    /duplicate rlimit RLIMIT_NOFILE \(also process\.rlimits\[0\]\)/,
  );
  expectInvalid(
    (s) => (s.process.rlimits = [{ type: 'RLIMIT_CORE', hard: 1, soft: 2 }]),
    'process.rlimits[0].soft',
    'soft limit 2 exceeds hard limit 1',
  );
  expectInvalid(
    (s) => (s.process.rlimits = [{ type: 'RLIMIT_CORE', hard: -1, soft: 0 }]),
    'process.rlimits[0].hard',
    'must be a non-negative integer',
  );
  // RLIM_INFINITY as written by Go tools (2^64-1) parses as 2^64 and is accepted
  const s = minimal();
  s.process.rlimits = JSON.parse('[{"type":"RLIMIT_CORE","hard":18446744073709551615,"soft":18446744073709551615}]');
  assert.doesNotThrow(() => parseSpec(s));
});

test('process.oomScoreAdj, ioPriority, scheduler', () => {
  expectInvalid((s) => (s.process.oomScoreAdj = 1001), 'process.oomScoreAdj', 'must be an integer from -1000 to 1000');
  expectInvalid(
    (s) => (s.process.ioPriority = { class: 'IOPRIO_CLASS_X', priority: 0 }),
    'process.ioPriority.class',
    'unknown I/O priority class "IOPRIO_CLASS_X"',
  );
  expectInvalid(
    (s) => (s.process.ioPriority = { class: 'IOPRIO_CLASS_BE', priority: 8 }),
    'process.ioPriority.priority',
    'must be an integer from 0 to 7',
  );
  expectInvalid(
    (s) => (s.process.scheduler = { policy: 'SCHED_X' }),
    'process.scheduler.policy',
    'unknown scheduler policy "SCHED_X"',
  );
  expectInvalid((s) => (s.process.scheduler = {}), 'process.scheduler.policy', 'is required');
  expectInvalid(
    (s) => (s.process.scheduler = { policy: 'SCHED_OTHER', nice: 20 }),
    'process.scheduler.nice',
    /-20 to 19/,
  );
  expectInvalid(
    (s) => (s.process.scheduler = { policy: 'SCHED_OTHER', priority: 5 }),
    'process.scheduler.priority',
    /SCHED_FIFO or SCHED_RR/,
  );
  expectInvalid(
    (s) => (s.process.scheduler = { policy: 'SCHED_RR', runtime: 5 }),
    'process.scheduler',
    /SCHED_DEADLINE/,
  );
  expectInvalid(
    (s) => (s.process.scheduler = { policy: 'SCHED_RR', flags: ['SCHED_FLAG_X'] }),
    'process.scheduler.flags[0]',
    'unknown scheduler flag "SCHED_FLAG_X"',
  );
  expectInvalid(
    (s) => (s.process.execCPUAffinity = { initial: '3-1' }),
    'process.execCPUAffinity.initial',
    /list such as/,
  );
  expectInvalid((s) => (s.process.terminal = 1), 'process.terminal', 'must be a boolean');
  expectInvalid((s) => (s.process.consoleSize = { height: 10 }), 'process.consoleSize.width', 'is required');
});

// ---------------------------------------------------------------- mounts

test('mounts: destination required; relative destinations resolve against "/" like runc', () => {
  expectInvalid((s) => (s.mounts = [{ type: 'tmpfs' }]), 'mounts[0].destination', 'is required');
  expectInvalid((s) => (s.mounts = [{ destination: '' }]), 'mounts[0].destination', 'must not be empty');
  expectInvalid((s) => (s.mounts = [{ destination: '/x', options: 'ro' }]), 'mounts[0].options', /must be an array/);
  expectInvalid(
    (s) => (s.mounts = [{ destination: '/x', source: 'a\0' }]),
    'mounts[0].source',
    'must not contain a NUL byte',
  );
  const s = minimal();
  s.mounts = [
    { destination: 'data/x', type: 'tmpfs', source: 'tmpfs' },
    { destination: '/abs', type: 'tmpfs' },
  ];
  const spec = parseSpec(s);
  assert.equal(spec.mounts![0]!.destination, '/data/x');
  assert.equal(spec.mounts![1]!.destination, '/abs');
});

test('mounts without a mount namespace are valid (runc makes them in the host namespace, under the rootfs)', () => {
  const s = minimal();
  s.mounts = [{ destination: '/x', type: 'tmpfs' }];
  s.linux.namespaces = [{ type: 'pid' }];
  delete s.linux.maskedPaths;
  delete s.linux.readonlyPaths;
  assert.equal(parseSpec(s).mounts![0]!.destination, '/x');
});

test('id-mapped mounts: both mappings, bind mounts only', () => {
  const maps = [{ containerID: 0, hostID: 1000, size: 1 }];
  expectInvalid(
    (s) => (s.mounts = [{ destination: '/x', type: 'bind', source: '/y', uidMappings: maps }]),
    'mounts[0].gidMappings',
    /both uidMappings and gidMappings/,
  );
  expectInvalid(
    (s) => (s.mounts = [{ destination: '/x', type: 'tmpfs', uidMappings: maps, gidMappings: maps }]),
    'mounts[0].uidMappings',
    /only supported for bind mounts/,
  );
  const s = minimal();
  s.mounts = [{ destination: '/x', source: '/y', options: ['rbind'], uidMappings: maps, gidMappings: maps }];
  assert.doesNotThrow(() => parseSpec(s));
});

// ---------------------------------------------------------------- hostname, hooks

test('hostname and domainname need a UTS namespace (created or joined)', () => {
  expectInvalid(
    (s) => {
      s.hostname = 'box';
      s.linux.namespaces = [{ type: 'mount' }];
    },
    'hostname',
    /UTS namespace/,
  );
  expectInvalid(
    (s) => {
      s.domainname = 'example';
      s.linux.namespaces = [{ type: 'mount' }];
    },
    'domainname',
    /UTS namespace/,
  );
  expectInvalid((s) => (s.hostname = 'x'.repeat(65)), 'hostname', /at most 64 bytes/);
  const s = minimal();
  s.hostname = 'box';
  s.linux.namespaces = [{ type: 'mount' }, { type: 'uts', path: '/proc/1/ns/uts' }];
  assert.doesNotThrow(() => parseSpec(s));
});

test('hooks: absolute paths, timeouts > 0, every phase', () => {
  for (const phase of ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop']) {
    expectInvalid(
      (s) => (s.hooks = { [phase]: [{ path: '/bin/true' }, { path: 'true' }] }),
      `hooks.${phase}[1].path`,
      'must be an absolute path, got "true"',
    );
  }
  expectInvalid((s) => (s.hooks = { poststop: [{ args: ['x'] }] }), 'hooks.poststop[0].path', 'is required');
  expectInvalid(
    (s) => (s.hooks = { poststop: [{ path: '/x', timeout: 0 }] }),
    'hooks.poststop[0].timeout',
    /positive integer/,
  );
  expectInvalid(
    (s) => (s.hooks = { poststop: [{ path: '/x', env: ['NOEQUALS'] }] }),
    'hooks.poststop[0].env[0]',
    /KEY=value/,
  );
  expectInvalid((s) => (s.hooks = { poststop: {} }), 'hooks.poststop', 'must be an array of hooks');
});

// ---------------------------------------------------------------- namespaces and mappings

test('linux.namespaces: known types, no duplicates, absolute path matching the type', () => {
  expectInvalid((s) => s.linux.namespaces.push({ type: 'foo' }), 'linux.namespaces[5].type', 'unknown namespace "foo"');
  expectInvalid(
    (s) => s.linux.namespaces.push({ type: 'pid' }),
    'linux.namespaces[5].type',
    'duplicate namespace "pid" (also linux.namespaces[0])',
  );
  expectInvalid((s) => (s.linux.namespaces[4].path = 'proc/1/ns/net'), 'linux.namespaces[4].path', /absolute path/);
  expectInvalid(
    (s) => (s.linux.namespaces[4].path = '/proc/1/ns/uts'),
    'linux.namespaces[4].path',
    '/proc/1/ns/uts is a "uts" namespace, not "network"',
  );
  expectInvalid(
    (s) => (s.linux.namespaces[0].path = '/proc/self/ns/mnt'),
    'linux.namespaces[0].path',
    /"mnt" namespace, not "pid"/,
  );
  const s = minimal();
  s.linux.namespaces[4].path = '/proc/123/ns/net';
  s.linux.namespaces[0].path = '/proc/123/task/124/ns/pid_for_children';
  s.linux.namespaces[1].path = '/run/netns-like/bind-mounted-ns'; // not a /proc path: checked by the kernel later
  assert.doesNotThrow(() => parseSpec(s));
});

test('user namespace and id mappings require each other', () => {
  const m = [{ containerID: 0, hostID: 100000, size: 65536 }];
  expectInvalid((s) => (s.linux.uidMappings = m), 'linux.uidMappings', /needs a user namespace/);
  expectInvalid((s) => (s.linux.gidMappings = m), 'linux.gidMappings', /needs a user namespace/);
  expectInvalid(
    (s) => s.linux.namespaces.push({ type: 'user' }),
    'linux.uidMappings',
    'is required with a new user namespace',
  );
  expectInvalid(
    (s) => {
      s.linux.namespaces.push({ type: 'user' });
      s.linux.uidMappings = m;
    },
    'linux.gidMappings',
    'is required with a new user namespace',
  );
  const s = minimal();
  s.linux.namespaces.push({ type: 'user', path: '/proc/42/ns/user' });
  assert.doesNotThrow(() => parseSpec(s), 'a joined user namespace needs no mappings');
});

test('id mappings: size >= 1, no overflow, no overlaps, at most 340', () => {
  const withUser = (s: any, uid: unknown, gid: unknown = [{ containerID: 0, hostID: 0, size: 1 }]) => {
    s.linux.namespaces.push({ type: 'user' });
    s.linux.uidMappings = uid;
    s.linux.gidMappings = gid;
  };
  expectInvalid(
    (s) => withUser(s, [{ containerID: 0, hostID: 1, size: 0 }]),
    'linux.uidMappings[0].size',
    'must be at least 1',
  );
  expectInvalid((s) => withUser(s, [{ containerID: 0, hostID: 1 }]), 'linux.uidMappings[0].size', 'is required');
  expectInvalid(
    (s) => withUser(s, [{ containerID: 2 ** 32 - 1, hostID: 1, size: 2 }]),
    'linux.uidMappings[0]',
    /containerID \+ size/,
  );
  expectInvalid(
    (s) =>
      withUser(s, [
        { containerID: 0, hostID: 1000, size: 10 },
        { containerID: 5, hostID: 5000, size: 10 },
      ]),
    'linux.uidMappings[1].containerID',
    /overlaps linux\.uidMappings\[0\]/,
  );
  expectInvalid(
    (s) =>
      withUser(
        s,
        [{ containerID: 0, hostID: 0, size: 1 }],
        [
          { containerID: 0, hostID: 1000, size: 10 },
          { containerID: 10, hostID: 1009, size: 1 },
        ],
      ),
    'linux.gidMappings[1].hostID',
    /overlaps/,
  );
  const many = Array.from({ length: 341 }, (_, i) => ({ containerID: i, hostID: 1000 + i, size: 1 }));
  expectInvalid((s) => withUser(s, many), 'linux.uidMappings', /at most 340/);
});

test('timeOffsets need a (new) time namespace; only monotonic and boottime', () => {
  expectInvalid((s) => (s.linux.timeOffsets = { monotonic: { secs: 10 } }), 'linux.timeOffsets', /time namespace/);
  expectInvalid(
    (s) => {
      s.linux.namespaces.push({ type: 'time', path: '/proc/1/ns/time' });
      s.linux.timeOffsets = { boottime: { secs: 1 } };
    },
    'linux.timeOffsets',
    /joined by path/,
  );
  expectInvalid(
    (s) => {
      s.linux.namespaces.push({ type: 'time' });
      s.linux.timeOffsets = { realtime: { secs: 1 } };
    },
    'linux.timeOffsets.realtime',
    /unknown clock "realtime"/,
  );
  expectInvalid(
    (s) => {
      s.linux.namespaces.push({ type: 'time' });
      s.linux.timeOffsets = { monotonic: { nanosecs: 1e9 } };
    },
    'linux.timeOffsets.monotonic.nanosecs',
    /below 1000000000/,
  );
  const s = minimal();
  s.linux.namespaces.push({ type: 'time' });
  s.linux.timeOffsets = { monotonic: { secs: -5, nanosecs: 10 }, boottime: { secs: 86400 } };
  assert.doesNotThrow(() => parseSpec(s));
});

// ---------------------------------------------------------------- sysctl

test('sysctl: follows runc: each key needs the namespace that owns it', () => {
  const without = (type: string) => (s: any) =>
    (s.linux.namespaces = s.linux.namespaces.filter((n: any) => n.type !== type));
  const sysctl = (k: string, before?: (s: any) => void) => (s: any) => {
    before?.(s);
    s.linux.sysctl = { [k]: '1' };
  };
  expectInvalid(
    sysctl('net.ipv4.ip_forward', without('network')),
    'linux.sysctl["net.ipv4.ip_forward"]',
    /needs a network namespace/,
  );
  expectInvalid(
    sysctl('net/ipv4/ip_forward', without('network')),
    'linux.sysctl["net/ipv4/ip_forward"]',
    /"net.ipv4.ip_forward" needs a network namespace/,
  );
  for (const k of ['kernel.shmmax', 'kernel.msgmax', 'kernel.sem', 'kernel.shm_rmid_forced', 'fs.mqueue.queues_max']) {
    expectInvalid(sysctl(k, without('ipc')), `linux.sysctl[${JSON.stringify(k)}]`, /needs an IPC namespace/);
  }
  expectInvalid(sysctl('kernel.hostname'), 'linux.sysctl["kernel.hostname"]', /set the "hostname" field instead/);
  expectInvalid(sysctl('kernel.domainname', without('uts')), 'linux.sysctl["kernel.domainname"]', /UTS namespace/);
  expectInvalid(sysctl('user.max_user_namespaces'), 'linux.sysctl["user.max_user_namespaces"]', /user namespace/);
  expectInvalid(sysctl('kernel.pid_max'), 'linux.sysctl["kernel.pid_max"]', /not namespaced/);
  expectInvalid(sysctl('vm.swappiness'), 'linux.sysctl["vm.swappiness"]', /not namespaced/);
  expectInvalid(
    (s) => (s.linux.sysctl = { 'net.core.somaxconn': 1024 }),
    'linux.sysctl["net.core.somaxconn"]',
    /must be an object of strings/,
  );
  const s = minimal();
  s.linux.sysctl = {
    'net.ipv4.ip_unprivileged_port_start': '0',
    'kernel.shmmax': '1',
    'fs.mqueue.msg_max': '20',
    'kernel.domainname': 'x',
  };
  assert.doesNotThrow(() => parseSpec(s));
});

// ---------------------------------------------------------------- devices, cgroups, resources

test('linux.devices: absolute path, known type, major/minor unless a fifo', () => {
  expectInvalid(
    (s) => (s.linux.devices = [{ path: 'dev/null', type: 'c', major: 1, minor: 3 }]),
    'linux.devices[0].path',
    /absolute/,
  );
  expectInvalid(
    (s) => (s.linux.devices = [{ path: '/dev/x', type: 'z', major: 1, minor: 3 }]),
    'linux.devices[0].type',
    'unknown device type "z"',
  );
  expectInvalid(
    (s) => (s.linux.devices = [{ path: '/dev/x', type: 'c', major: 1 }]),
    'linux.devices[0].minor',
    /required for a device of type "c"/,
  );
  expectInvalid(
    (s) => (s.linux.devices = [{ path: '/dev/x', type: 'b', minor: 1 }]),
    'linux.devices[0].major',
    /required/,
  );
  expectInvalid(
    (s) => (s.linux.devices = [{ path: '/dev/x', type: 'p', fileMode: 0o10000 }]),
    'linux.devices[0].fileMode',
    /0 to 4095/,
  );
  const s = minimal();
  s.linux.devices = [
    { path: '/dev/fifo', type: 'p' },
    { path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 },
  ];
  assert.doesNotThrow(() => parseSpec(s));
});

test('linux.cgroupsPath: no ".." components', () => {
  expectInvalid((s) => (s.linux.cgroupsPath = '/berth/../../etc'), 'linux.cgroupsPath', /must not contain "\.\."/);
  expectInvalid((s) => (s.linux.cgroupsPath = '..'), 'linux.cgroupsPath', /must not contain "\.\."/);
  expectInvalid((s) => (s.linux.cgroupsPath = 5), 'linux.cgroupsPath', 'must be a string');
  for (const ok of ['/berth/abc', 'berth/abc', 'system.slice:berth:abc', '/a..b/c']) {
    const s = minimal();
    s.linux.cgroupsPath = ok;
    assert.doesNotThrow(() => parseSpec(s), ok);
  }
});

test('linux.resources: device rules, memory, cpu, hugepages, unified, types', () => {
  expectInvalid(
    (s) => (s.linux.resources = { devices: [{ allow: false }] }),
    'linux.resources.devices[0].access',
    /is required/,
  );
  expectInvalid(
    (s) => (s.linux.resources = { devices: [{ allow: true, access: 'rwx' }] }),
    'linux.resources.devices[0].access',
    /"rwm"/,
  );
  expectInvalid(
    (s) => (s.linux.resources = { devices: [{ allow: true, access: 'rr' }] }),
    'linux.resources.devices[0].access',
    /at most once/,
  );
  expectInvalid(
    (s) => (s.linux.resources = { devices: [{ allow: 'no', access: 'r' }] }),
    'linux.resources.devices[0].allow',
    'must be a boolean',
  );
  expectInvalid(
    (s) => (s.linux.resources = { devices: [{ allow: true, type: 'x', access: 'r' }] }),
    'linux.resources.devices[0].type',
    'unknown device cgroup type "x"',
  );
  expectInvalid((s) => (s.linux.resources = { memory: { limit: -2 } }), 'linux.resources.memory.limit', /-1/);
  expectInvalid(
    (s) => (s.linux.resources = { memory: { limit: 100, swap: 50 } }),
    'linux.resources.memory.swap',
    /at least the memory limit/,
  );
  expectInvalid(
    (s) => (s.linux.resources = { memory: { swappiness: 101 } }),
    'linux.resources.memory.swappiness',
    /0 to 100/,
  );
  expectInvalid(
    (s) => (s.linux.resources = { memory: { limit: '1G' } }),
    'linux.resources.memory.limit',
    'must be an integer',
  );
  expectInvalid((s) => (s.linux.resources = { cpu: { cpus: '0-' } }), 'linux.resources.cpu.cpus', /list such as/);
  expectInvalid((s) => (s.linux.resources = { cpu: { mems: 'a' } }), 'linux.resources.cpu.mems', /list such as/);
  expectInvalid(
    (s) => (s.linux.resources = { cpu: { shares: -1 } }),
    'linux.resources.cpu.shares',
    'must be a non-negative integer',
  );
  expectInvalid((s) => (s.linux.resources = { pids: {} }), 'linux.resources.pids.limit', 'is required');
  expectInvalid(
    (s) => (s.linux.resources = { hugepageLimits: [{ pageSize: '2M', limit: 1 }] }),
    'linux.resources.hugepageLimits[0].pageSize',
    /"2MB"/,
  );
  expectInvalid(
    (s) => (s.linux.resources = { blockIO: { weight: 70000 } }),
    'linux.resources.blockIO.weight',
    /0 to 65535/,
  );
  expectInvalid(
    (s) => (s.linux.resources = { blockIO: { throttleReadBpsDevice: [{ major: 8, minor: 0 }] } }),
    'linux.resources.blockIO.throttleReadBpsDevice[0].rate',
    'is required',
  );
  expectInvalid(
    (s) => (s.linux.resources = { network: { priorities: [{ name: '', priority: 1 }] } }),
    'linux.resources.network.priorities[0].name',
    /not be empty/,
  );
  expectInvalid(
    (s) => (s.linux.resources = { unified: { '../memory.max': '1' } }),
    'linux.resources.unified["../memory.max"]',
    /cgroup file/,
  );
  expectInvalid(
    (s) => (s.linux.resources = { unified: { 'memory.max': 1 } }),
    'linux.resources.unified["memory.max"]',
    /object of strings/,
  );
  expectInvalid(
    (s) => (s.linux.resources = { rdma: { mlx5_0: { hcaHandles: -1 } } }),
    'linux.resources.rdma.mlx5_0.hcaHandles',
  );
  const s = minimal();
  s.linux.resources = {
    devices: [
      { allow: false, access: 'rwm' },
      { allow: true, type: 'c', major: 1, minor: 3, access: 'rw' },
    ],
    memory: { limit: 1 << 30, reservation: 1 << 29, swap: -1, swappiness: 60, disableOOMKiller: false },
    cpu: { shares: 1024, quota: 50000, period: 100000, cpus: '0-1,3', mems: '0', idle: 0 },
    pids: { limit: -1 },
    blockIO: { weight: 500, weightDevice: [{ major: 8, minor: 0, weight: 300 }] },
    hugepageLimits: [{ pageSize: '2MB', limit: 0 }],
    network: { classID: 0x100001, priorities: [{ name: 'eth0', priority: 5 }] },
    unified: { 'memory.high': '1G', 'io.weight': 'default 100' },
  };
  assert.doesNotThrow(() => parseSpec(s));
});

test('linux.intelRdt.closID, rootfsPropagation, personality, masked/readonly paths', () => {
  expectInvalid((s) => (s.linux.intelRdt = { closID: '../x' }), 'linux.intelRdt.closID', /invalid CLOS id/);
  expectInvalid(
    (s) => (s.linux.rootfsPropagation = 'sideways'),
    'linux.rootfsPropagation',
    'unknown rootfs propagation "sideways"',
  );
  expectInvalid(
    (s) => (s.linux.personality = { domain: 'LINUX64' }),
    'linux.personality.domain',
    'unknown personality domain "LINUX64"',
  );
  expectInvalid((s) => (s.linux.maskedPaths = ['/proc/kcore', 'proc/keys']), 'linux.maskedPaths[1]', /absolute/);
  expectInvalid((s) => (s.linux.readonlyPaths = ['sys']), 'linux.readonlyPaths[0]', /absolute/);
  expectInvalid(
    (s) => {
      s.linux.namespaces = [{ type: 'pid' }];
      s.linux.maskedPaths = ['/proc/kcore'];
    },
    'linux.maskedPaths',
    /mount namespace/,
  );
});

test('linux.memoryPolicy and netDevices (runtime-spec 1.3 fields)', () => {
  expectInvalid(
    (s) => (s.linux.memoryPolicy = { mode: 'MPOL_BIND' }),
    'linux.memoryPolicy.nodes',
    /is required with MPOL_BIND/,
  );
  expectInvalid(
    (s) => (s.linux.memoryPolicy = { mode: 'MPOL_LOCAL', nodes: '0' }),
    'linux.memoryPolicy.nodes',
    /must be empty/,
  );
  expectInvalid(
    (s) => (s.linux.memoryPolicy = { mode: 'MPOL_X' }),
    'linux.memoryPolicy.mode',
    'unknown memory policy mode "MPOL_X"',
  );
  expectInvalid(
    (s) => (s.linux.netDevices = { 'eth0/1': {} }),
    'linux.netDevices["eth0/1"]',
    /invalid network interface name/,
  );
  expectInvalid(
    (s) => (s.linux.netDevices = { eth1: { name: 'a-very-long-interface-name' } }),
    'linux.netDevices.eth1.name',
    /invalid network interface name/,
  );
  expectInvalid(
    (s) => {
      s.linux.namespaces = [{ type: 'mount' }];
      s.linux.netDevices = { eth1: {} };
    },
    'linux.netDevices',
    /network namespace/,
  );
});

// ---------------------------------------------------------------- seccomp

test('seccomp: actions, arches, flags, operators, errno, notify', () => {
  const sc = (x: object) => (s: any) => (s.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', ...x });
  expectInvalid((s) => (s.linux.seccomp = {}), 'linux.seccomp.defaultAction', 'is required');
  expectInvalid(
    sc({ defaultAction: 'SCMP_ACT_BOOM' }),
    'linux.seccomp.defaultAction',
    'unknown seccomp action "SCMP_ACT_BOOM"',
  );
  expectInvalid(
    sc({ architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_Z80'] }),
    'linux.seccomp.architectures[1]',
    'unknown seccomp architecture "SCMP_ARCH_Z80"',
  );
  expectInvalid(
    sc({ flags: ['SECCOMP_FILTER_FLAG_NOPE'] }),
    'linux.seccomp.flags[0]',
    'unknown seccomp flag "SECCOMP_FILTER_FLAG_NOPE"',
  );
  expectInvalid(
    sc({ syscalls: [{ names: ['read'], action: 'SCMP_ACT_NOPE' }] }),
    'linux.seccomp.syscalls[0].action',
    'unknown seccomp action "SCMP_ACT_NOPE"',
  );
  expectInvalid(
    sc({ syscalls: [{ names: [], action: 'SCMP_ACT_ERRNO' }] }),
    'linux.seccomp.syscalls[0].names',
    /non-empty array of syscall names/,
  );
  expectInvalid(sc({ syscalls: [{ action: 'SCMP_ACT_ERRNO' }] }), 'linux.seccomp.syscalls[0].names', 'is required');
  expectInvalid(
    sc({ syscalls: [{ names: ['Read!'], action: 'SCMP_ACT_ERRNO' }] }),
    'linux.seccomp.syscalls[0].names[0]',
    /invalid syscall name/,
  );
  expectInvalid(
    sc({
      syscalls: [{ names: ['read'], action: 'SCMP_ACT_ERRNO', args: [{ index: 6, value: 1, op: 'SCMP_CMP_EQ' }] }],
    }),
    'linux.seccomp.syscalls[0].args[0].index',
    'must be an integer from 0 to 5',
  );
  expectInvalid(
    sc({
      syscalls: [{ names: ['read'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 1, op: 'SCMP_CMP_ABOUT' }] }],
    }),
    'linux.seccomp.syscalls[0].args[0].op',
    'unknown seccomp operator "SCMP_CMP_ABOUT"',
  );
  expectInvalid(sc({ defaultErrnoRet: 1 }), 'linux.seccomp.defaultErrnoRet', /cannot be used with SCMP_ACT_ALLOW/);
  expectInvalid(
    sc({ syscalls: [{ names: ['read'], action: 'SCMP_ACT_KILL', errnoRet: 1 }] }),
    'linux.seccomp.syscalls[0].errnoRet',
    /cannot be used with SCMP_ACT_KILL/,
  );
  expectInvalid(
    sc({ defaultAction: 'SCMP_ACT_NOTIFY', listenerPath: '/run/x.sock' }),
    'linux.seccomp.defaultAction',
    /cannot be the default action/,
  );
  expectInvalid(
    sc({ syscalls: [{ names: ['openat'], action: 'SCMP_ACT_NOTIFY' }] }),
    'linux.seccomp.listenerPath',
    /is required when an action is SCMP_ACT_NOTIFY/,
  );
  expectInvalid(
    sc({ listenerPath: '/run/x.sock', syscalls: [{ names: ['write'], action: 'SCMP_ACT_NOTIFY' }] }),
    'linux.seccomp.syscalls[0].action',
    /write syscall/,
  );
  expectInvalid(
    sc({ listenerPath: 'x.sock', syscalls: [{ names: ['openat'], action: 'SCMP_ACT_NOTIFY' }] }),
    'linux.seccomp.listenerPath',
    /absolute/,
  );
  const s = minimal();
  s.linux.seccomp = {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 1,
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
    flags: ['SECCOMP_FILTER_FLAG_LOG'],
    listenerPath: '/run/notify.sock',
    listenerMetadata: 'hello',
    syscalls: [
      { names: ['read', 'write'], action: 'SCMP_ACT_ALLOW' },
      { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 4294967295, op: 'SCMP_CMP_EQ' }] },
      { names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
      { names: ['openat'], action: 'SCMP_ACT_NOTIFY' },
    ],
  };
  assert.doesNotThrow(() => parseSpec(s));
});

test('annotations: an object of strings', () => {
  expectInvalid((s) => (s.annotations = { a: 1 }), 'annotations.a', /object of strings/);
  expectInvalid((s) => (s.annotations = ['a']), 'annotations', /object of strings/);
  const s = minimal();
  s.annotations = { 'io.kubernetes.cri.container-type': 'sandbox' };
  assert.deepEqual(parseSpec(s).annotations, s.annotations);
});

// ---------------------------------------------------------------- hostile input

test('a "__proto__" key is refused wherever it is', () => {
  const s = minimal();
  s.linux.sysctl = JSON.parse('{"__proto__": {"net.ipv4.ip_forward": "1"}}');
  assert.throws(
    () => parseSpec(s),
    (e: unknown) =>
      e instanceof BerthError && e.field === 'linux.sysctl' && /"__proto__" is not allowed/.test(e.message),
  );
  const top = JSON.parse('{"__proto__": {"hostname": "x"}, "ociVersion": "1.2.0"}');
  assert.throws(() => parseSpec(top), /config\.json: the key "__proto__" is not allowed/);
});

test('absurd nesting is refused before it costs stack', () => {
  let deep: unknown = 'x';
  for (let i = 0; i < 100_000; i++) deep = [deep];
  const s = minimal();
  s.annotations = { a: deep };
  assert.throws(
    () => parseSpec(s),
    (e: unknown) =>
      e instanceof BerthError && e.code === 'invalid-argument' && /nested more than 32 levels/.test(e.message),
  );
});

test('values of the wrong type in unknown properties are ignored, in known ones refused', () => {
  const s = minimal();
  s.linux.someFutureThing = { deeply: [1, 'two', null] };
  assert.doesNotThrow(() => parseSpec(s));
  expectInvalid((s) => (s.linux.namespaces = { type: 'pid' }), 'linux.namespaces', 'must be an array of namespaces');
});
