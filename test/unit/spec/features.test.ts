import { test } from 'node:test';
import assert from 'node:assert/strict';
import { featuresDocument, MOUNT_OPTIONS } from '../../../src/runtime/spec/features.js';
import { OCI_VERSION } from '../../../src/runtime/spec/defaults.js';
import { parseSpec } from '../../../src/runtime/spec/validate.js';
import { defaultSpec } from '../../../src/runtime/spec/defaults.js';
import { parseMountOptions } from '../../../src/runtime/plan/mountopts.js';
import { BerthError } from '../../../src/common/errors.js';

const isStrings = (x: unknown) => Array.isArray(x) && x.length > 0 && x.every((s) => typeof s === 'string');

test('features document: the shape features.md defines, and only that', () => {
  const f = featuresDocument({ version: '0.1.0', libseccompVersion: '2.5.4' });
  assert.deepEqual(Object.keys(f).sort(), [
    'annotations',
    'hooks',
    'linux',
    'mountOptions',
    'ociVersionMax',
    'ociVersionMin',
  ]);
  assert.equal(f.ociVersionMin, '1.0.0');
  assert.equal(f.ociVersionMax, OCI_VERSION);
  assert.deepEqual(f.hooks, [
    'prestart',
    'createRuntime',
    'createContainer',
    'startContainer',
    'poststart',
    'poststop',
  ]);
  assert.ok(isStrings(f.mountOptions));
  const l = f.linux!;
  assert.deepEqual(Object.keys(l).sort(), [
    'apparmor',
    'capabilities',
    'cgroup',
    'intelRdt',
    'mountExtensions',
    'namespaces',
    'seccomp',
    'selinux',
  ]);
  assert.deepEqual(l.namespaces, ['cgroup', 'ipc', 'mount', 'network', 'pid', 'time', 'user', 'uts']);
  assert.equal(l.capabilities!.length, 41);
  assert.equal(l.capabilities![40], 'CAP_CHECKPOINT_RESTORE');
  assert.deepEqual(l.cgroup, { v1: true, v2: true, systemd: false, systemdUser: false, rdma: true });
  const sc = l.seccomp!;
  assert.equal(sc.enabled, true);
  for (const k of ['actions', 'operators', 'archs', 'knownFlags', 'supportedFlags'] as const)
    assert.ok(isStrings(sc[k]), k);
  assert.equal(sc.actions!.length, 9);
  assert.equal(sc.operators!.length, 7);
  assert.ok(sc.archs!.includes('SCMP_ARCH_X86_64') && sc.archs!.includes('SCMP_ARCH_RISCV64'));
  assert.ok(!sc.archs!.includes('SCMP_ARCH_LOONGARCH64'), 'libseccomp 2.5 has no LoongArch');
  for (const flag of sc.supportedFlags!) assert.ok(sc.knownFlags!.includes(flag), flag);
  assert.ok(!sc.supportedFlags!.includes('SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'));
  assert.deepEqual(l.intelRdt, { enabled: false });
  assert.deepEqual(l.mountExtensions, { idmap: { enabled: false } });
  assert.deepEqual(f.annotations, {
    'io.github.seccomp.libseccomp.version': '2.5.4',
    'org.berth.runtime.version': '0.1.0',
  });
  assert.equal(featuresDocument().annotations, undefined, 'no empty annotations object');
  // JSON round trip: no undefined holes, nothing but plain data
  assert.deepEqual(JSON.parse(JSON.stringify(f)), f);
});

test('what the features document promises, the validator accepts', () => {
  const f = featuresDocument();
  const s: any = defaultSpec({ cgroupNamespace: false });
  s.ociVersion = f.ociVersionMin;
  assert.doesNotThrow(() => parseSpec(JSON.parse(JSON.stringify(s))));
  s.ociVersion = f.ociVersionMax;
  s.process.capabilities.bounding = f.linux!.capabilities;
  s.linux.namespaces = f.linux!.namespaces!.filter((t) => t !== 'user').map((type) => ({ type }));
  s.linux.seccomp = {
    defaultAction: 'SCMP_ACT_ERRNO',
    architectures: f.linux!.seccomp!.archs,
    flags: f.linux!.seccomp!.knownFlags,
    listenerPath: '/run/x.sock',
    syscalls: f.linux!.seccomp!.actions!.map((action, i) => ({
      names: ['getpid'],
      action,
      args: [{ index: 0, value: i, op: f.linux!.seccomp!.operators![i % 7] }],
    })),
  };
  s.mounts.push({ destination: '/mnt', type: 'bind', source: '/tmp', options: [...MOUNT_OPTIONS] });
  s.hooks = Object.fromEntries(f.hooks!.map((h) => [h, [{ path: '/bin/true' }]]));
  assert.doesNotThrow(() => parseSpec(s));
});

test('mountOptions lists exactly what the plan compiler turns into flags', () => {
  for (const o of MOUNT_OPTIONS) {
    const r = parseMountOptions([o], 'mounts[0]');
    assert.equal(r.data, '', `${o} would be passed to the filesystem as data`);
  }
  // runc's options that Berth refuses are not advertised
  for (const o of ['idmap', 'ridmap']) {
    assert.ok(!MOUNT_OPTIONS.includes(o), o);
    assert.throws(
      () => parseMountOptions([o], 'mounts[0]'),
      (e: unknown) => e instanceof BerthError && e.code === 'unavailable',
    );
  }
  for (const o of ['ratime', 'rnorelatime', 'rnostrictatime']) {
    assert.ok(!MOUNT_OPTIONS.includes(o), o);
    assert.throws(
      () => parseMountOptions([o], 'mounts[0]'),
      (e: unknown) => e instanceof BerthError && e.code === 'invalid-argument',
    );
  }
  // the recursive ones it implements are
  for (const o of [
    'rro',
    'rrw',
    'rnosuid',
    'rnodev',
    'rnoexec',
    'rnoatime',
    'rrelatime',
    'rstrictatime',
    'rnosymfollow',
  ]) {
    assert.ok(MOUNT_OPTIONS.includes(o), o);
    const r = parseMountOptions([o], 'mounts[0]').recursive;
    assert.ok(r.set !== 0 || r.clear !== 0, o);
  }
});
