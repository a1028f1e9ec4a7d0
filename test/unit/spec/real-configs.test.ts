// config.json files written by the real engines on our machines (Docker 20.10
// and containerd 1.6 `ctr run --seccomp`, captured from the bundle a spy
// runtime was given): whatever they send us must validate, with their
// seccomp profiles, sysctls, devices and resources intact.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSpec } from '../../../src/runtime/spec/validate.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

for (const name of readdirSync(dir).filter((n) => n.endsWith('.json'))) {
  test(`real config validates: ${name}`, () => {
    const raw = JSON.parse(readFileSync(join(dir, name), 'utf8'));
    const spec = parseSpec(JSON.parse(JSON.stringify(raw)));
    assert.equal(spec.process?.args?.length, raw.process.args.length);
    assert.equal(spec.mounts?.length, raw.mounts.length);
    assert.equal(spec.linux?.namespaces?.length, raw.linux.namespaces.length);
    assert.equal(spec.linux?.seccomp?.syscalls?.length, raw.linux.seccomp?.syscalls?.length);
    assert.deepEqual(spec.linux?.sysctl, raw.linux.sysctl);
    assert.equal(spec.linux?.devices?.length, raw.linux.devices?.length);
  });
}

test('a real Docker config with one bad field is refused, naming it', () => {
  const raw = JSON.parse(readFileSync(join(dir, 'docker-20.10-run.json'), 'utf8'));
  raw.linux.seccomp.syscalls[3].action = 'SCMP_ACT_MAYBE';
  assert.throws(
    () => parseSpec(raw),
    /config\.json: linux\.seccomp\.syscalls\[3\]\.action: unknown seccomp action "SCMP_ACT_MAYBE"/,
  );
});
