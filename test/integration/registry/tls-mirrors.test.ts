// Transport rules against real registries: TLS verified with a CA from a
// certs.d directory (and a client certificate when the registry demands
// one), plain HTTP only for insecure registries (Docker's rule: listed, or in
// 127.0.0.0/8 by default), and Docker Hub mirrors tried before the registry.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { pullImage } from '../../../src/image/pull.js';
import { pushImage } from '../../../src/image/push.js';
import {
  buildImage,
  freePort,
  registryMissing,
  startRegistry,
  storeImage,
  type RegistryInstance,
} from '../../helpers/registry.js';
import { scratchStores } from '../../helpers/stores.js';

const skip = registryMissing;
const noCreds = async () => undefined;

const { dir: tmp, newStore } = scratchStores('berth-tls-');

describe('TLS with a CA from certs.d', { skip }, () => {
  let reg: RegistryInstance;
  before(async () => {
    reg = await startRegistry({ tls: true });
  });
  after(async () => {
    await reg?.stop();
  });

  test('verified TLS with certs.d/<host:port>/ca.crt, even with no insecure registries', async () => {
    const opts = { credentials: noCreds, certsDir: reg.certsDir, insecureRegistries: [] as string[], retryBaseMs: 10 };
    const img = buildImage({ label: 'tls' });
    const src = newStore();
    await storeImage(src, img);
    await pushImage(`${reg.host}/tls/app:1`, { store: src, target: img.manifest, registryOptions: opts });
    const res = await pullImage(`${reg.host}/tls/app:1`, { store: newStore(), registryOptions: opts });
    assert.equal(res.manifest.digest, img.manifest.digest);
  });

  test('without the CA, verification fails with a clear error (no silent fallback to HTTP)', async () => {
    const opts = {
      credentials: noCreds,
      certsDir: join(tmp, 'empty-certs.d'),
      insecureRegistries: [] as string[],
      retries: 0,
    };
    await assert.rejects(
      pullImage(`${reg.host}/tls/app:1`, { store: newStore(), registryOptions: opts }),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, 'unavailable');
        assert.match(e.message, /certificate|self.signed|issuer/i);
        return true;
      },
    );
  });

  test('an insecure registry skips verification (Docker: HTTPS first, unverified)', async () => {
    const opts = {
      credentials: noCreds,
      certsDir: join(tmp, 'empty-certs.d'),
      insecureRegistries: [reg.host],
      retryBaseMs: 10,
    };
    const res = await pullImage(`${reg.host}/tls/app:1`, { store: newStore(), registryOptions: opts });
    assert.ok(res.layers.length > 0);
  });
});

describe('TLS with a client certificate required', { skip }, () => {
  let reg: RegistryInstance;
  before(async () => {
    reg = await startRegistry({ tls: true, clientAuth: true });
  });
  after(async () => {
    await reg?.stop();
  });

  test('client.cert + client.key from certs.d are presented; without them the handshake fails', async () => {
    const opts = { credentials: noCreds, certsDir: reg.certsDir, insecureRegistries: [] as string[], retryBaseMs: 10 };
    const img = buildImage({ label: 'mtls' });
    const src = newStore();
    await storeImage(src, img);
    await pushImage(`${reg.host}/mtls/app:1`, { store: src, target: img.manifest, registryOptions: opts });
    const res = await pullImage(`${reg.host}/mtls/app:1`, { store: newStore(), registryOptions: opts });
    assert.equal(res.manifest.digest, img.manifest.digest);

    const caOnly = join(tmp, 'ca-only');
    mkdirSync(join(caOnly, reg.host), { recursive: true });
    copyFileSync(reg.pki!.caCert, join(caOnly, reg.host, 'ca.crt'));
    await assert.rejects(
      pullImage(`${reg.host}/mtls/app:1`, {
        store: newStore(),
        registryOptions: { ...opts, certsDir: caOnly, retries: 0 },
      }),
      (e: Error & { code?: string }) => e.code === 'unavailable',
    );
  });
});

describe('plain HTTP and mirrors', { skip }, () => {
  let mirror: RegistryInstance;
  let upstream: RegistryInstance;
  before(async () => {
    mirror = await startRegistry();
    upstream = await startRegistry();
  });
  after(async () => {
    await mirror?.stop();
    await upstream?.stop();
  });

  test('127.0.0.1 is insecure by default; with an explicit empty list plain HTTP is refused', async () => {
    const img = buildImage({ label: 'http' });
    const src = newStore();
    await storeImage(src, img);
    await pushImage(`${mirror.host}/plain/app:1`, {
      store: src,
      target: img.manifest,
      registryOptions: { credentials: noCreds },
    });
    await assert.rejects(
      pullImage(`${mirror.host}/plain/app:1`, {
        store: newStore(),
        registryOptions: { credentials: noCreds, insecureRegistries: [], retries: 0 },
      }),
      /HTTP response to an HTTPS client/,
    );
    // Listing it by name allows it again; so does "localhost", which resolves into 127.0.0.0/8.
    await pullImage(`${mirror.host}/plain/app:1`, {
      store: newStore(),
      registryOptions: { credentials: noCreds, insecureRegistries: [mirror.host] },
    });
    const res = await pullImage(`localhost:${mirror.port}/plain/app:1`, {
      store: newStore(),
      registryOptions: { credentials: noCreds },
    });
    assert.equal(res.manifest.digest, img.manifest.digest);
  });

  test('docker.io pulls try the mirrors in order and fall back to the registry', async () => {
    const inMirror = buildImage({ label: 'from-mirror' });
    const inUpstream = buildImage({ label: 'from-upstream' });
    const src = newStore();
    await storeImage(src, inMirror);
    await storeImage(src, inUpstream);
    await pushImage(`${mirror.host}/library/busybox:m`, {
      store: src,
      target: inMirror.manifest,
      registryOptions: { credentials: noCreds },
    });
    await pushImage(`${upstream.host}/library/busybox:u`, {
      store: src,
      target: inUpstream.manifest,
      registryOptions: { credentials: noCreds },
    });
    const deadPort = await freePort();
    const opts = {
      credentials: noCreds,
      retryBaseMs: 10,
      mirrors: [`http://127.0.0.1:${deadPort}`, `http://${mirror.host}`],
      // Stand-in for registry-1.docker.io: tests never reach the internet.
      endpointOverrides: { 'docker.io': `http://${upstream.host}` },
    };
    const a = await pullImage('busybox:m', { store: newStore(), registryOptions: opts });
    assert.equal(a.name, 'docker.io/library/busybox:m');
    assert.equal(a.imageConfig.config?.Labels?.['test.label'], 'from-mirror');
    const b = await pullImage('busybox:u', { store: newStore(), registryOptions: opts });
    assert.equal(b.imageConfig.config?.Labels?.['test.label'], 'from-upstream');
    // Push never goes to a mirror.
    const c = await pushImage('docker.io/library/busybox:pushed', {
      store: src,
      target: inMirror.manifest,
      registryOptions: opts,
    });
    assert.equal(c.digest, inMirror.manifest.digest);
    await assert.rejects(
      pullImage(`${mirror.host}/library/busybox:pushed`, {
        store: newStore(),
        registryOptions: { credentials: noCreds },
      }),
      /manifest unknown/,
    );
  });
});
