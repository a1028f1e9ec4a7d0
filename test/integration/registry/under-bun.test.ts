// The Bun executables (bin/berth-ctr, berth-engine, berthd) reach registries
// through Bun's fetch (src/image/registry/fetch-transport.ts), which npm
// test's Node.js runner never takes. This runs the registry suites again with
// `bun test`, so that every hostile, auth, TLS and resume case is checked on
// that path too.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../../..');
const bun = join(root, 'node_modules/.bin/bun');
const runs = existsSync(bun) && spawnSync(bun, ['--version'], { stdio: 'ignore' }).status === 0;

const SUITES = ['fetch-transport', 'hostile', 'auth', 'tls-mirrors', 'roundtrip', 'kill9', 'upload-resume', 'proxy'];

for (const name of SUITES) {
  test(`${name}.test.ts under Bun`, { skip: runs ? false : 'Bun does not run on this machine' }, () => {
    const r = spawnSync(bun, ['test', '--timeout', '60000', `./test/integration/registry/${name}.test.ts`], {
      cwd: root,
      encoding: 'utf8',
      timeout: 240_000,
    });
    // bun test reports on stderr: the counts, and each failure with its message.
    const out = `${r.stdout}${r.stderr}`;
    assert.equal(r.status, 0, `bun test ${name}.test.ts: status ${r.status}\n${out.slice(-4000)}`);
    assert.match(out, /\b0 fail\b/);
    assert.doesNotMatch(out, /\b0 pass\b/, `no test of ${name}.test.ts ran under Bun:\n${out.slice(-2000)}`);
  });
}
