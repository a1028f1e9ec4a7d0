import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, statSync, writeFileSync, readFileSync, rmSync, chmodSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getCredentials, storeCredentials, eraseCredentials } from '../../../src/image/registry/credentials.js';

let dir: string;
let binDir: string;
let oldPath: string | undefined;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'berth-creds-'));
  binDir = join(dir, 'bin');
  // A credential helper speaking the docker-credential protocol, storing in a JSON file.
  const helper = `#!/bin/sh
db="${join(dir, 'helper-db.json')}"
[ -f "$db" ] || echo '{}' > "$db"
input=$(cat)
case "$1" in
  get) node -e 'const db=require(process.argv[1]);const k=process.argv[2];if(!db[k]){process.stdout.write("credentials not found in native keychain");process.exit(1)}process.stdout.write(JSON.stringify({ServerURL:k,Username:db[k].u,Secret:db[k].s}))' "$db" "$input" ;;
  store) node -e 'const fs=require("fs");const db=require(process.argv[1]);const v=JSON.parse(process.argv[2]);db[v.ServerURL]={u:v.Username,s:v.Secret};fs.writeFileSync(process.argv[1],JSON.stringify(db))' "$db" "$input" ;;
  erase) node -e 'const fs=require("fs");const db=require(process.argv[1]);const k=process.argv[2];if(!db[k]){process.stdout.write("credentials not found in native keychain");process.exit(1)}delete db[k];fs.writeFileSync(process.argv[1],JSON.stringify(db))' "$db" "$input" ;;
esac
`;
  mkdirSync(binDir);
  writeFileSync(join(binDir, 'docker-credential-berthtest'), helper);
  chmodSync(join(binDir, 'docker-credential-berthtest'), 0o755);
  oldPath = process.env.PATH;
  process.env.PATH = `${binDir}:${oldPath}`;
});

after(() => {
  process.env.PATH = oldPath;
  rmSync(dir, { recursive: true, force: true });
});

test('auths: base64 auth, Docker Hub key, URL-form keys, and missing entries', async () => {
  const d = mkdtempSync(join(dir, 'cfg-'));
  writeFileSync(
    join(d, 'config.json'),
    JSON.stringify({
      auths: {
        'https://index.docker.io/v1/': { auth: Buffer.from('hubuser:hub:pass').toString('base64') },
        'https://reg.example:5000': { auth: Buffer.from('u:p').toString('base64') },
        'other.example': { username: 'x', password: 'y' },
      },
    }),
  );
  assert.deepEqual(await getCredentials('docker.io', { configDir: d }), { username: 'hubuser', password: 'hub:pass' });
  assert.deepEqual(await getCredentials('reg.example:5000', { configDir: d }), { username: 'u', password: 'p' });
  assert.deepEqual(await getCredentials('other.example', { configDir: d }), { username: 'x', password: 'y' });
  assert.equal(await getCredentials('absent.example', { configDir: d }), undefined);
  assert.equal(
    await getCredentials('anything', { configDir: join(d, 'nope') }),
    undefined,
    'no config.json: no credentials',
  );
});

test('store and erase keep other keys, write mode 0600', async () => {
  const d = mkdtempSync(join(dir, 'cfg-'));
  writeFileSync(
    join(d, 'config.json'),
    JSON.stringify({ auths: { 'keep.example': { auth: 'a2VlcDpt' } }, detachKeys: 'ctrl-x' }),
  );
  await storeCredentials('docker.io', { username: 'me', password: 'pw' }, { configDir: d });
  const cfg = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8'));
  assert.equal(cfg.detachKeys, 'ctrl-x');
  assert.ok(cfg.auths['keep.example']);
  assert.equal(Buffer.from(cfg.auths['https://index.docker.io/v1/'].auth, 'base64').toString(), 'me:pw');
  assert.equal(statSync(join(d, 'config.json')).mode & 0o777, 0o600);
  assert.equal(await eraseCredentials('docker.io', { configDir: d }), true);
  assert.equal(
    JSON.parse(readFileSync(join(d, 'config.json'), 'utf8')).auths['https://index.docker.io/v1/'],
    undefined,
  );
  assert.equal(await eraseCredentials('docker.io', { configDir: d }), false);
});

test('a malformed config.json is a clear error', async () => {
  const d = mkdtempSync(join(dir, 'cfg-'));
  writeFileSync(join(d, 'config.json'), '{ not json');
  await assert.rejects(
    getCredentials('x', { configDir: d }),
    (e: Error & { code?: string }) => e.code === 'invalid-argument' && /config.json/.test(e.message),
  );
});

test('credHelpers and credsStore: store, get, erase through docker-credential-<name>', async () => {
  const d = mkdtempSync(join(dir, 'cfg-'));
  writeFileSync(join(d, 'config.json'), JSON.stringify({ credHelpers: { 'helped.example': 'berthtest' } }));
  assert.equal(
    await getCredentials('helped.example', { configDir: d }),
    undefined,
    '"credentials not found" is no credentials',
  );
  await storeCredentials('helped.example', { username: 'hu', password: 'hp' }, { configDir: d });
  assert.deepEqual(await getCredentials('helped.example', { configDir: d }), { username: 'hu', password: 'hp' });
  const cfg = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8'));
  assert.deepEqual(cfg.auths['helped.example'], {}, 'the secret is not in config.json');
  assert.equal(await eraseCredentials('helped.example', { configDir: d }), true);
  assert.equal(await getCredentials('helped.example', { configDir: d }), undefined);

  const d2 = mkdtempSync(join(dir, 'cfg-'));
  writeFileSync(join(d2, 'config.json'), JSON.stringify({ credsStore: 'berthtest' }));
  await storeCredentials('docker.io', { username: 'hub', password: 'secret' }, { configDir: d2 });
  assert.deepEqual(await getCredentials('docker.io', { configDir: d2 }), { username: 'hub', password: 'secret' });
  const db = JSON.parse(readFileSync(join(dir, 'helper-db.json'), 'utf8'));
  assert.ok(db['https://index.docker.io/v1/'], 'Docker Hub is stored under its legacy URL');
});

test('a helper that is not installed is a clear error', async () => {
  const d = mkdtempSync(join(dir, 'cfg-'));
  writeFileSync(join(d, 'config.json'), JSON.stringify({ credsStore: 'does-not-exist' }));
  await assert.rejects(getCredentials('x.example', { configDir: d }), /docker-credential-does-not-exist/);
  assert.ok(!existsSync(join(d, 'nothing')));
});
