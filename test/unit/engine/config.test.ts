// berth-engine's configuration: flags over the file over the defaults, the
// file in containerd's TOML keys or JSON, and bad files refused by name.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULTS, resolveConfig } from '../../../src/cli/engine/config.js';
import { isBerthError } from '../../../src/common/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-engine-cfg-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

test('defaults', async () => {
  const c = await resolveConfig({});
  assert.equal(c.root, DEFAULTS.root);
  assert.equal(c.state, '/run/berth');
  assert.equal(c.address, '/run/berth/engine.sock');
  assert.equal(c.logFormat, 'json');
  assert.equal(c.logLevel, 'info');
  assert.deepEqual(c.snapshotters, ['overlayfs', 'native']);
});

test("containerd's TOML keys, and flags over them", async () => {
  const p = file(
    'config.toml',
    `version = 2
root = "/srv/berth"
state = "/run/b"
[grpc]
  address = "/run/b/api.sock"
[debug]
  level = "warn"
  format = "text"
[berth]
  snapshotters = ["native"]
  gc_delay_ms = 0
`,
  );
  const c = await resolveConfig({ config: p });
  assert.deepEqual(
    [c.root, c.state, c.address, c.logLevel, c.logFormat, c.snapshotters, c.gcDelayMs],
    ['/srv/berth', '/run/b', '/run/b/api.sock', 'warning', 'text', ['native'], 0],
  );
  assert.equal((await resolveConfig({ config: p, root: '/other', logLevel: 'debug' })).root, '/other');
  assert.equal((await resolveConfig({ config: p, root: '/other', logLevel: 'debug' })).logLevel, 'debug');
});

test('JSON config', async () => {
  const p = file('config.json', JSON.stringify({ root: '/j', grpc: { address: '/j.sock' } }));
  const c = await resolveConfig({ config: p });
  assert.equal(c.root, '/j');
  assert.equal(c.address, '/j.sock');
});

test('bad files and flags are InvalidArgument naming the key', async () => {
  const bad = (flags: Parameters<typeof resolveConfig>[0], re: RegExp) =>
    assert.rejects(
      () => resolveConfig(flags),
      (e: unknown) => isBerthError(e) && e.code === 'invalid-argument' && re.test(e.message),
    );
  await bad({ config: file('typo.toml', 'rooot = "/x"\n') }, /config .*typo\.toml: .*rooot|Unrecognized key/i);
  await bad({ config: file('broken.toml', 'root = \n') }, /config .*broken\.toml/);
  await bad({ config: file('wrong.toml', '[berth]\nsnapshotters = ["btrfs"]\n') }, /berth\.snapshotters\.0/);
  await bad({ config: join(dir, 'missing.toml') }, /missing\.toml: ENOENT/);
  await bad({ logLevel: 'loud' }, /--log-level "loud"/);
  await bad({ logFormat: 'xml' }, /--log-format "xml"/);
});

test('each bad key is named with what it should be', async () => {
  const bad = (name: string, text: string, re: RegExp) =>
    assert.rejects(
      () => resolveConfig({ config: file(name, text) }),
      (e: unknown) => isBerthError(e) && e.code === 'invalid-argument' && re.test(e.message),
    );
  await bad('b1.toml', 'root = ""\n', /: root: expected a non-empty string/);
  await bad('b2.toml', 'version = 1.5\n', /: version: expected an integer/);
  await bad('b3.toml', '[debug]\nlevel = "loud"\n', /: debug\.level: expected one of debug, info/);
  await bad('b4.toml', '[grpc]\nport = 1\n', /: grpc\.port: unrecognized key "port"/);
  await bad('b5.toml', '[berth]\ngc_delay_ms = -1\n', /: berth\.gc_delay_ms: expected an integer >= 0/);
  await bad('b6.toml', '[berth]\nsnapshotters = "native"\n', /: berth\.snapshotters: expected an array/);
  await bad('b7.json', '[1]', /: \(top\): expected a table/);
  await bad('b8.toml', 'grpc = 3\n', /: grpc: expected a table/);
});
