// Authentication against the real registry: htpasswd Basic auth and Docker
// token auth (our token server signing JWTs the registry verifies), login and
// logout through config.json, wrong passwords, token caching per scope.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { pullImage } from '../../../src/image/pull.js';
import { pushImage } from '../../../src/image/push.js';
import { login, logout } from '../../../src/image/registry/login.js';
import { RegistryClient } from '../../../src/image/registry/client.js';
import {
  buildImage,
  haveHtpasswd,
  registryMissing,
  startRegistry,
  storeImage,
  type RegistryInstance,
} from '../../helpers/registry.js';
import { scratchStores } from '../../helpers/stores.js';

const skipReg = registryMissing;
const skipHt = skipReg || (!haveHtpasswd() && 'htpasswd is not installed (apt-get install apache2-utils)');

const { dir: tmp, newStore } = scratchStores('berth-auth-');

describe('htpasswd Basic auth', { skip: skipHt }, () => {
  let reg: RegistryInstance;
  before(async () => {
    reg = await startRegistry({ auth: 'htpasswd', users: { alice: 'wonder-land-9' } });
  });
  after(async () => {
    await reg?.stop();
  });

  test('anonymous push is refused with a clear permission error', async () => {
    const img = buildImage();
    const src = newStore();
    await storeImage(src, img);
    await assert.rejects(
      pushImage(`${reg.host}/basic/app:1`, {
        store: src,
        target: img.manifest,
        registryOptions: { credentials: async () => undefined, dockerConfigDir: join(tmp, 'none') },
      }),
      (e: Error & { code?: string }) => e.code === 'permission-denied' && /401/.test(e.message),
    );
  });

  test('login with a wrong password fails and saves nothing', async () => {
    const cfgDir = mkdtempSync(join(tmp, 'docker-'));
    await assert.rejects(
      login(reg.host, 'alice', 'wrong', { dockerConfigDir: cfgDir }),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'permission-denied');
        assert.match(e.message, /incorrect username or password/);
        return true;
      },
    );
    assert.equal(existsSync(join(cfgDir, 'config.json')), false);
  });

  test('login saves base64 auth in config.json, push and pull use it, logout removes it', async () => {
    const cfgDir = mkdtempSync(join(tmp, 'docker-'));
    writeFileSync(join(cfgDir, 'config.json'), JSON.stringify({ auths: {}, psFormat: 'table {{.ID}}' }));
    const r = await login(reg.host, 'alice', 'wonder-land-9', { dockerConfigDir: cfgDir });
    assert.equal(r.authenticated, true);
    const cfg = JSON.parse(readFileSync(join(cfgDir, 'config.json'), 'utf8')) as {
      auths: Record<string, { auth: string }>;
      psFormat: string;
    };
    assert.equal(Buffer.from(cfg.auths[reg.host]!.auth, 'base64').toString(), 'alice:wonder-land-9');
    assert.equal(cfg.psFormat, 'table {{.ID}}', 'other keys are kept');

    const img = buildImage({ label: 'basic' });
    const src = newStore();
    await storeImage(src, img);
    const opts = { dockerConfigDir: cfgDir, retryBaseMs: 10 };
    await pushImage(`${reg.host}/basic/app:1`, { store: src, target: img.manifest, registryOptions: opts });
    const dst = newStore();
    const res = await pullImage(`${reg.host}/basic/app:1`, { store: dst, registryOptions: opts });
    assert.equal(res.manifest.digest, img.manifest.digest);

    assert.equal(await logout(reg.host, { dockerConfigDir: cfgDir }), true);
    const after2 = JSON.parse(readFileSync(join(cfgDir, 'config.json'), 'utf8')) as { auths: Record<string, unknown> };
    assert.equal(after2.auths[reg.host], undefined);
    assert.equal(await logout(reg.host, { dockerConfigDir: cfgDir }), false);
    await assert.rejects(
      pullImage(`${reg.host}/basic/app:1`, { store: newStore(), registryOptions: opts }),
      /401|authentication/,
    );
  });

  test('pull with a wrong password: 401 named as such, nothing stored', async () => {
    const store = newStore();
    await assert.rejects(
      pullImage(`${reg.host}/basic/app:1`, {
        store,
        registryOptions: { credentials: async () => ({ username: 'alice', password: 'not-it' }), retryBaseMs: 10 },
      }),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'permission-denied');
        assert.match(e.message, /answered 401: incorrect username or password/);
        return true;
      },
    );
    assert.deepEqual(await store.list(), []);
  });

  test('DOCKER_CONFIG is honoured when no directory is given', async () => {
    const cfgDir = mkdtempSync(join(tmp, 'docker-env-'));
    const old = process.env.DOCKER_CONFIG;
    process.env.DOCKER_CONFIG = cfgDir;
    try {
      await login(reg.host, 'alice', 'wonder-land-9');
      assert.ok(existsSync(join(cfgDir, 'config.json')));
      const c = new RegistryClient(reg.host, {});
      assert.deepEqual(await c.listTags('basic/app'), ['1']);
      await logout(reg.host);
    } finally {
      if (old === undefined) delete process.env.DOCKER_CONFIG;
      else process.env.DOCKER_CONFIG = old;
    }
  });
});

describe('token auth (JWT from our token server)', { skip: skipReg }, () => {
  let reg: RegistryInstance;
  before(async () => {
    reg = await startRegistry({ auth: 'token', users: { bob: 'b0b-pass' } });
  });
  after(async () => {
    await reg?.stop();
  });

  test('authenticated push and pull, anonymous pull of a public repo, token per scope cached', async () => {
    const creds = async () => ({ username: 'bob', password: 'b0b-pass' });
    const img = buildImage({ label: 'token' });
    const src = newStore();
    await storeImage(src, img);
    const client = new RegistryClient(reg.host, { credentials: creds, retryBaseMs: 10 });
    await pushImage(`${reg.host}/public/app:1`, { store: src, target: img.manifest, client });
    const pushReqs = reg.token!.requests.filter((r) => r.user === 'bob');
    assert.ok(pushReqs.length >= 1);
    assert.ok(pushReqs.every((r) => r.service === 'berth-test-registry' && r.account === 'bob'));
    assert.ok(pushReqs.some((r) => r.scopes.includes('repository:public/app:pull,push')));
    // Many requests (HEAD, POST, PUT per blob, manifest) but the token is cached.
    assert.ok(pushReqs.length <= 2, `token requests: ${pushReqs.length}`);

    const before = reg.token!.requests.length;
    const anon = new RegistryClient(reg.host, { credentials: async () => undefined, retryBaseMs: 10 });
    const dst = newStore();
    const res = await pullImage(`${reg.host}/public/app:1`, { store: dst, client: anon });
    assert.equal(res.manifest.digest, img.manifest.digest);
    const anonReqs = reg.token!.requests.slice(before);
    assert.ok(anonReqs.every((r) => r.user === undefined));
    assert.equal(anonReqs.length, 1, 'one token for repository:public/app:pull, reused for every blob');
  });

  test('cross-repository mount under token auth asks for pull on the source too', async () => {
    const creds = async () => ({ username: 'bob', password: 'b0b-pass' });
    const img = buildImage({ label: 'mount-token' });
    const src = newStore();
    await storeImage(src, img);
    const client = new RegistryClient(reg.host, { credentials: creds, retryBaseMs: 10 });
    await pushImage(`${reg.host}/team/one:1`, { store: src, target: img.manifest, client });
    const before = reg.token!.requests.length;
    const res = await pushImage(`${reg.host}/team/two:1`, { store: src, target: img.manifest, client });
    assert.deepEqual(
      res.blobs.map((b) => b.result),
      res.blobs.map(() => 'mounted'),
    );
    const scopes = reg.token!.requests.slice(before).flatMap((r) => r.scopes);
    assert.ok(scopes.includes('repository:team/one:pull'), scopes.join(' '));
    assert.ok(scopes.includes('repository:team/two:pull,push'), scopes.join(' '));
  });

  test('pull with a wrong password: the token server refuses, a clear error, nothing stored', async () => {
    const store = newStore();
    await assert.rejects(
      pullImage(`${reg.host}/public/app:1`, {
        store,
        registryOptions: { credentials: async () => ({ username: 'bob', password: 'wrong' }), retryBaseMs: 10 },
      }),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'permission-denied');
        assert.match(e.message, /authentication failed: incorrect username or password/);
        return true;
      },
    );
    assert.deepEqual(await store.list(), []);
  });

  test('anonymous pull of a private repository is refused', async () => {
    const img = buildImage({ label: 'private' });
    const src = newStore();
    await storeImage(src, img);
    await pushImage(`${reg.host}/private/app:1`, {
      store: src,
      target: img.manifest,
      registryOptions: { credentials: async () => ({ username: 'bob', password: 'b0b-pass' }) },
    });
    await assert.rejects(
      pullImage(`${reg.host}/private/app:1`, {
        store: newStore(),
        registryOptions: { credentials: async () => undefined },
      }),
      (e: Error & { code?: string }) => e.code === 'permission-denied',
    );
  });

  test('login verifies against the token server; a wrong password is refused', async () => {
    const cfgDir = mkdtempSync(join(tmp, 'docker-tok-'));
    await assert.rejects(
      login(reg.host, 'bob', 'nope', { dockerConfigDir: cfgDir }),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'permission-denied');
        assert.match(e.message, /incorrect username or password/);
        return true;
      },
    );
    const r = await login(reg.host, 'bob', 'b0b-pass', { dockerConfigDir: cfgDir });
    assert.equal(r.authenticated, true);
    const client = new RegistryClient(reg.host, { dockerConfigDir: cfgDir });
    assert.deepEqual(await client.listTags('private/app'), ['1']);
  });
});
