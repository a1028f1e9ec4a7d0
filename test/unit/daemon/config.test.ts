// berthd's settings and the pure pieces of the container spec: flags and
// daemon.json (conflicts and unknown keys named), hosts, capabilities,
// seccomp, sysctls, the create body's validation, the json-file log format.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, checkHost, DEFAULTS } from '../../../src/daemon/config.js';
import { capabilities, DEFAULT_CAPS } from '../../../src/daemon/containers/caps.js';
import { defaultProfile, profileFromJson } from '../../../src/daemon/containers/seccomp.js';
import { validateHostConfig } from '../../../src/daemon/containers/spec.js';
import { parseCreateBody } from '../../../src/daemon/containers/body.js';
import { compareVersions } from '../../../src/daemon/http/router.js';
import { frame } from '../../../src/daemon/http/stdcopy.js';

const dir = mkdtempSync(join(tmpdir(), 'berthd-unit-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

function run(argv: string[]) {
  const p = parseArgs(argv);
  assert.equal(p.action, 'run');
  return (p as { config: typeof DEFAULTS }).config;
}

test('defaults, flags, and daemon.json in dockerd spirit', () => {
  const none = join(dir, 'missing.json');
  const c = run(['--config-file', none]);
  assert.deepEqual(c.hosts, ['unix:///run/berth/berthd.sock']);
  assert.equal(c.containerdNamespace, 'berthd');
  assert.equal(c.liveRestore, true);
  const f = run([
    '--config-file',
    none,
    '-H',
    'unix:///tmp/a.sock',
    '-H',
    'tcp://127.0.0.1:2375',
    '--live-restore=false',
    '--log-level',
    'warn',
    '--containerd',
    '/x.sock',
  ]);
  assert.deepEqual(f.hosts, ['unix:///tmp/a.sock', 'tcp://127.0.0.1:2375']);
  assert.equal(f.liveRestore, false);
  assert.equal(f.logLevel, 'warning');
  assert.equal(f.containerd, '/x.sock');

  const file = join(dir, 'daemon.json');
  writeFileSync(
    file,
    JSON.stringify({ 'data-root': '/srv/berthd', 'insecure-registries': ['10.0.0.0/8'], 'live-restore': false }),
  );
  const d = run(['--config-file', file]);
  assert.equal(d.dataRoot, '/srv/berthd');
  assert.deepEqual(d.insecureRegistries, ['127.0.0.0/8', '10.0.0.0/8'], 'loopback stays insecure, as with dockerd');
  assert.equal(d.liveRestore, false);
  assert.throws(
    () => parseArgs(['--config-file', file, '--data-root', '/y']),
    /specified both as a flag and in the configuration file: data-root/,
  );
  writeFileSync(file, JSON.stringify({ 'no-such-key': 1 }));
  assert.throws(() => parseArgs(['--config-file', file]), /unknown setting "no-such-key"/);
  writeFileSync(file, '{ not json');
  assert.throws(() => parseArgs(['--config-file', file]), /invalid JSON/);
  assert.throws(() => parseArgs(['--config-file', none, '--bogus']), /unknown flag: --bogus/);
  assert.throws(() => parseArgs(['--config-file', none, '--log-level', 'loud']), /unknown log level "loud"/);
  assert.deepEqual(parseArgs(['--version']), { action: 'version' });
});

test('hosts: unix paths, TCP on loopback only', () => {
  assert.deepEqual(checkHost('unix:///run/x.sock'), { kind: 'unix', path: '/run/x.sock' });
  assert.deepEqual(checkHost('tcp://127.0.0.1:2375'), { kind: 'tcp', host: '127.0.0.1', port: 2375 });
  assert.throws(() => checkHost('tcp://0.0.0.0:2375'), /only served on 127\.0\.0\.1/);
  assert.throws(() => checkHost('unix://relative.sock'), /must be absolute/);
  assert.throws(() => checkHost('ssh://x'), /expected unix/);
});

test('capabilities: Docker defaults, add and drop with or without CAP_, ALL', () => {
  assert.equal(DEFAULT_CAPS.length, 14);
  assert.deepEqual(capabilities(false), DEFAULT_CAPS);
  const c = capabilities(false, ['net_admin'], ['CAP_CHOWN', 'mknod']);
  assert.ok(c.includes('CAP_NET_ADMIN'));
  assert.ok(!c.includes('CAP_CHOWN') && !c.includes('CAP_MKNOD'));
  assert.deepEqual(capabilities(false, ['SYS_TIME'], ['ALL']), ['CAP_SYS_TIME']);
  assert.throws(() => capabilities(false, ['CAP_NOPE']), /unknown capability: "CAP_NOPE"/);
});

test('seccomp: the default refuses namespace clones and mount without CAP_SYS_ADMIN, and allows them with it', () => {
  const p = defaultProfile(DEFAULT_CAPS) as {
    defaultAction: string;
    syscalls: { names: string[]; action: string; args?: unknown[] }[];
  };
  assert.equal(p.defaultAction, 'SCMP_ACT_ERRNO');
  const allowedPlain = new Set(
    p.syscalls.filter((r) => r.action === 'SCMP_ACT_ALLOW' && !r.args).flatMap((r) => r.names),
  );
  for (const s of ['read', 'write', 'execve', 'openat', 'futex']) assert.ok(allowedPlain.has(s), s);
  for (const s of ['mount', 'unshare', 'setns', 'reboot', 'init_module', 'kexec_load', 'clone'])
    assert.ok(!allowedPlain.has(s), s);
  assert.ok(
    p.syscalls.some((r) => r.names.includes('clone') && r.args?.length),
    'clone allowed only without namespace flags',
  );
  assert.ok(p.syscalls.some((r) => r.names.includes('clone3') && r.action === 'SCMP_ACT_ERRNO'));
  const admin = defaultProfile([...DEFAULT_CAPS, 'CAP_SYS_ADMIN']) as typeof p;
  const allowedAdmin = new Set(
    admin.syscalls.filter((r) => r.action === 'SCMP_ACT_ALLOW' && !r.args).flatMap((r) => r.names),
  );
  for (const s of ['mount', 'unshare', 'setns', 'clone']) assert.ok(allowedAdmin.has(s), s);
  assert.ok(!allowedAdmin.has('reboot'));
  const custom = profileFromJson(
    JSON.stringify({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [
        { names: ['chmod'], action: 'SCMP_ACT_ERRNO', includes: { caps: ['CAP_SYS_ADMIN'] } },
        { names: ['mkdir'], action: 'SCMP_ACT_ERRNO' },
      ],
    }),
    DEFAULT_CAPS,
  ) as typeof p;
  assert.deepEqual(
    custom.syscalls.map((r) => r.names),
    [['mkdir']],
  );
  assert.throws(() => profileFromJson('{', DEFAULT_CAPS), /decoding seccomp profile failed/);
});

test('create body and HostConfig checks name the field', () => {
  assert.throws(() => parseCreateBody({ Image: 'x', Cmd: 42 }), /Cmd/);
  assert.throws(() => parseCreateBody({ Image: 'x', HostConfig: { Memory: 'lots' } }), /HostConfig\.Memory/);
  assert.deepEqual(parseCreateBody({ Image: 'x', Cmd: 'echo hi' }).Cmd, ['echo hi']);
  assert.throws(() => validateHostConfig({ Sysctls: { 'kernel.panic': '1' } }), /not namespaced/);
  assert.throws(
    () => validateHostConfig({ NetworkMode: 'host', Sysctls: { 'net.ipv4.ip_forward': '1' } }),
    /host network mode/,
  );
  validateHostConfig({ Sysctls: { 'net.ipv4.ip_forward': '1', 'kernel.shmmax': '1' } });
  assert.throws(() => validateHostConfig({ Ulimits: [{ Name: 'nofile', Soft: 10, Hard: 5 }] }), /soft limit/);
  assert.throws(
    () => validateHostConfig({ Ulimits: [{ Name: 'bogus', Soft: 1, Hard: 1 }] }),
    /invalid ulimit type: bogus/,
  );
});

test('API versions compare numerically; stdcopy frames', () => {
  assert.ok(compareVersions('1.50', '1.9') > 0);
  assert.ok(compareVersions('1.24', '1.24') === 0);
  const f = frame(2, Buffer.from('abc'));
  assert.deepEqual([...f.subarray(0, 8)], [2, 0, 0, 0, 0, 0, 0, 3]);
});
