import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultSpec, OCI_VERSION } from '../../../src/runtime/spec/defaults.js';
import { parseSpec } from '../../../src/runtime/spec/validate.js';

const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x));

test('the default spec passes validation (with and without a cgroup namespace)', () => {
  for (const cgroupNamespace of [true, false]) {
    const spec = defaultSpec({ cgroupNamespace });
    assert.deepEqual(parseSpec(clone(spec)), spec);
  }
});

test('the default spec says what runc spec says, hostname aside', () => {
  const s = defaultSpec({ cgroupNamespace: false });
  assert.equal(s.ociVersion, OCI_VERSION);
  assert.equal(s.hostname, 'berth');
  assert.deepEqual(s.root, { path: 'rootfs', readonly: true });
  const p = s.process!;
  assert.equal(p.terminal, true);
  assert.deepEqual(p.args, ['sh']);
  assert.deepEqual(p.env, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm']);
  assert.equal(p.cwd, '/');
  assert.equal(p.noNewPrivileges, true);
  assert.deepEqual(p.rlimits, [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }]);
  const caps = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];
  assert.deepEqual(p.capabilities, { bounding: caps, effective: caps, permitted: caps, ambient: caps });
  assert.deepEqual(
    s.mounts!.map((m) => m.destination),
    ['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys', '/sys/fs/cgroup'],
  );
  assert.ok(s.mounts![2]!.options!.includes('gid=5'));
  assert.deepEqual(
    s.linux!.namespaces!.map((n) => n.type),
    ['pid', 'network', 'ipc', 'uts', 'mount'],
  );
  assert.deepEqual(s.linux!.resources, { devices: [{ allow: false, access: 'rwm' }] });
  assert.ok(s.linux!.maskedPaths!.includes('/proc/kcore'));
  assert.ok(s.linux!.readonlyPaths!.includes('/proc/sys'));
  assert.deepEqual(defaultSpec({ cgroupNamespace: true }).linux!.namespaces!.at(-1), { type: 'cgroup' });
});

test('each call returns a fresh object', () => {
  const a = defaultSpec();
  a.process!.args!.push('x');
  a.mounts![0]!.destination = '/nope';
  const b = defaultSpec();
  assert.deepEqual(b.process!.args, ['sh']);
  assert.equal(b.mounts![0]!.destination, '/proc');
});

test('the rootless default passes validation and follows runc --rootless', () => {
  const s = defaultSpec({ rootless: true, uid: 1000, gid: 1001, cgroupNamespace: false });
  assert.deepEqual(parseSpec(clone(s)), s);
  const l = s.linux!;
  assert.deepEqual(l.uidMappings, [{ containerID: 0, hostID: 1000, size: 1 }]);
  assert.deepEqual(l.gidMappings, [{ containerID: 0, hostID: 1001, size: 1 }]);
  assert.deepEqual(
    l.namespaces!.map((n) => n.type),
    ['pid', 'ipc', 'uts', 'mount', 'user'],
  );
  assert.equal(l.resources, undefined);
  const sys = s.mounts!.find((m) => m.destination === '/sys')!;
  assert.deepEqual(sys, {
    destination: '/sys',
    type: 'none',
    source: '/sys',
    options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'],
  });
  for (const m of s.mounts!) assert.ok(!(m.options ?? []).some((o) => /^[ug]id=/.test(o)), m.destination);
  // the caller's ids by default
  const d = defaultSpec({ rootless: true });
  assert.equal(d.linux!.uidMappings![0]!.hostID, process.geteuid!());
  assert.equal(d.linux!.gidMappings![0]!.hostID, process.getegid!());
});

// Side by side with the reference: when runc is installed, its example must
// equal ours except for ociVersion and hostname (and runc's "resources": null).
const runc = ['/usr/sbin/runc', '/usr/bin/runc'].find((p) => existsSync(p));
test(
  'matches `runc spec` and `runc spec --rootless` byte for byte in meaning',
  { skip: runc ? false : 'runc is not installed' },
  () => {
    for (const rootless of [false, true]) {
      const dir = mkdtempSync(join(tmpdir(), 'berth-spec-'));
      try {
        execFileSync(runc!, ['spec', ...(rootless ? ['--rootless'] : [])], { cwd: dir });
        const theirs = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
        assert.doesNotThrow(() => parseSpec(clone(theirs)), 'runc’s own example must validate');
        const cgroupNamespace = theirs.linux.namespaces.some((n: { type: string }) => n.type === 'cgroup');
        const ours: any = clone(
          defaultSpec({ rootless, cgroupNamespace, uid: process.geteuid!(), gid: process.getegid!() }),
        );
        for (const s of [theirs, ours]) {
          delete s.ociVersion;
          delete s.hostname;
          if (s.linux.resources === null) delete s.linux.resources;
        }
        assert.equal(JSON.stringify(ours), JSON.stringify(theirs), 'same keys, same order, same values');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  },
);
