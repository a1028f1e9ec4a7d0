// The suites' host guard (scripts/host-guard.mjs) must notice each kind of
// change it promises to catch, and nothing when the host is as it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
// @ts-expect-error: a plain .mjs script, without type declarations
import { differences, snapshot } from '../../../scripts/host-guard.mjs';

interface Snap {
  hostname: string;
  domainname: string;
  core_pattern: string;
  mounts: string[];
  cgroups: string[];
}

test('host guard: a snapshot of this host matches itself and reads real values', () => {
  const a = snapshot() as Snap;
  assert.equal(a.hostname, readFileSync('/proc/sys/kernel/hostname', 'utf8').trim());
  assert.ok(
    a.mounts.some((m) => m.startsWith('/ ')),
    'the root mount is listed',
  );
  assert.ok(
    a.mounts.some((m) => m.startsWith('/proc ')),
    '/proc is listed',
  );
  assert.deepEqual(differences(a, snapshot()), []);
});

test('host guard: names each kind of change', () => {
  const a = snapshot() as Snap;
  const b: Snap = {
    hostname: 'berth-test',
    domainname: 'x',
    core_pattern: '|/evil',
    mounts: [...a.mounts.slice(1), '/tmp/stray / rw - tmpfs tmpfs rw'],
    cgroups: [...a.cgroups, '/sys/fs/cgroup/memory/stray'],
  };
  const d = differences(a, b) as string[];
  assert.ok(d.includes(`hostname: was ${JSON.stringify(a.hostname)}, now "berth-test"`), d.join('\n'));
  assert.ok(d.some((x) => x.startsWith('domainname: ')));
  assert.ok(d.some((x) => x.startsWith('core_pattern: ')));
  assert.ok(d.includes('mounts: added /tmp/stray / rw - tmpfs tmpfs rw'));
  assert.ok(d.includes(`mounts: removed ${a.mounts[0]}`));
  assert.ok(d.includes('cgroups: added /sys/fs/cgroup/memory/stray'));
});
