// Hostile and broken registries: every case is a clear error, and the
// content store holds only verified blobs afterwards (no half-written blob
// visible; partial ingests only where a resume can use them).

import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { LocalContentStore } from '../../../src/image/content/store.js';
import { pullImage } from '../../../src/image/pull.js';
import { RegistryClient } from '../../../src/image/registry/client.js';
import { buildImage, oneFileTar, sha256, type BuiltImage } from '../../helpers/registry.js';
import { closeServer, listenLocal } from '../../helpers/servers.js';
import { scratchStores } from '../../helpers/stores.js';
import { addImage, serveRange, startFakeRegistry, type FakeRegistry, type Hooks } from './fake-registry.js';

let fake: FakeRegistry;
let img: BuiltImage;
const { newStore } = scratchStores('berth-hostile-');
const opts = { credentials: async () => undefined, retryBaseMs: 5, retries: 3 };

/** The fake registry answers every manifest request with `body` as `mediaType` (its digest in the header). */
function serveManifest(body: Buffer, mediaType: string): void {
  fake.hooks.manifest = (req, res) => {
    res.writeHead(200, {
      'content-type': mediaType,
      'content-length': body.length,
      'docker-content-digest': sha256(body),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}

/** A pull of x/app:v1 fails with `code` and a message matching `message`, and leaves its store empty. */
async function refusedPull(code: string, message: RegExp): Promise<void> {
  const store = newStore();
  await assert.rejects(
    pullImage(`${fake.host}/x/app:v1`, { store, registryOptions: opts }),
    (e: Error & { code?: string }) => {
      assert.equal(e.code, code);
      assert.match(e.message, message);
      return true;
    },
  );
  assert.deepEqual(await store.list(), []);
}

/** Every committed blob hashes to its name. */
async function assertStoreVerified(store: LocalContentStore): Promise<void> {
  for (const b of await store.list()) {
    assert.equal(sha256(readFileSync(store.blobPath(b.digest))), b.digest);
  }
}

before(async () => {
  fake = await startFakeRegistry();
  img = buildImage({ extraLayers: [oneFileTar('a.txt', Buffer.alloc(300_000, 'a'))] });
  addImage(fake, 'v1', img);
});
beforeEach(() => {
  fake.reset();
});
after(async () => {
  await fake?.stop();
});

const big = () => img.layers[0]!;

test('digest mismatch: wrong bytes of the right length are refused, nothing enters the store', async () => {
  fake.hooks.blob = (req, res, digest) => {
    if (digest !== big().digest) return false;
    const bad = Buffer.from(big().bytes);
    bad[bad.length >> 1] = (bad[bad.length >> 1] ?? 0) ^ 0xff;
    res.writeHead(200, { 'content-length': bad.length }).end(bad);
    return true;
  };
  const store = newStore();
  await assert.rejects(
    pullImage(`${fake.host}/x/app:v1`, { store, registryOptions: opts }),
    (e: Error & { code?: string }) => {
      assert.equal(e.code, 'digest-mismatch');
      assert.match(e.message, new RegExp(big().digest));
      assert.match(e.message, /failed verification/);
      return true;
    },
  );
  assert.equal(await store.has(big().digest), false);
  assert.deepEqual(await store.ingests(), [], 'the bad partial data is dropped');
  await assertStoreVerified(store);
  // The same store pulls fine once the registry behaves.
  fake.hooks = {};
  const res = await pullImage(`${fake.host}/x/app:v1`, { store, registryOptions: opts });
  assert.equal(res.layers.length, 2);
  await assertStoreVerified(store);
});

test('more bytes than the descriptor says are refused', async () => {
  fake.hooks.blob = (req, res, digest) => {
    if (digest !== big().digest) return false;
    const more = Buffer.concat([big().bytes, Buffer.alloc(10)]);
    res.writeHead(200, { 'content-length': more.length }).end(more);
    return true;
  };
  const store = newStore();
  await assert.rejects(pullImage(`${fake.host}/x/app:v1`, { store, registryOptions: opts }), /more than the expected/);
  assert.equal(await store.has(big().digest), false);
  assert.deepEqual(await store.ingests(), []);
});

test('truncated blob: the connection drops mid-way, the download resumes with Range', async () => {
  const half = Math.floor(big().size / 2);
  fake.hooks.blob = (req, res, digest, n) => {
    if (digest !== big().digest || n > 0) return false;
    res.writeHead(200, { 'content-length': big().size });
    res.write(big().bytes.subarray(0, half), () => setTimeout(() => res.socket?.destroy(), 20));
    return true;
  };
  const store = newStore();
  const res = await pullImage(`${fake.host}/x/app:v1`, { store, registryOptions: opts });
  assert.equal(res.layers.length, 2);
  const gets = fake.log.filter((l) => l.path.endsWith(big().digest));
  assert.equal(gets.length, 2);
  assert.equal(gets[0]!.headers.range, undefined);
  assert.match(String(gets[1]!.headers.range), /^bytes=\d+-$/);
  assert.ok(Number(/\d+/.exec(String(gets[1]!.headers.range))![0]) > 0);
  await assertStoreVerified(store);
});

test('interrupted pull (retries exhausted) keeps the partial ingest; the next pull resumes from its offset', async () => {
  const cut = 400_000;
  fake.hooks.blob = (req, res, digest) => {
    if (digest !== big().digest) return false;
    if (req.headers.range) return false; // resumed requests succeed
    res.writeHead(200, { 'content-length': big().size });
    res.write(big().bytes.subarray(0, cut), () => setTimeout(() => res.socket?.destroy(), 20));
    return true;
  };
  const store = newStore();
  await assert.rejects(
    pullImage(`${fake.host}/x/app:v1`, { store, registryOptions: { ...opts, retries: 0 } }),
    (e: Error & { code?: string }) => e.code === 'unavailable' && /failed 1 times/.test(e.message),
  );
  assert.equal(await store.has(big().digest), false);
  const partial = (await store.ingests()).find((i) => i.expected?.digest === big().digest);
  assert.ok(partial, 'a partial ingest is kept for the resume');
  // What reached us before the reset (at most what the server wrote).
  assert.ok(partial.offset > 0 && partial.offset <= cut, `offset ${partial.offset}`);
  fake.log.length = 0;
  await pullImage(`${fake.host}/x/app:v1`, { store, registryOptions: opts });
  const gets = fake.log.filter((l) => l.path.endsWith(big().digest));
  assert.deepEqual(
    gets.map((g) => g.headers.range),
    [`bytes=${partial.offset}-`],
  );
  assert.ok(await store.has(big().digest));
  await assertStoreVerified(store);
});

test('a server that ignores Range: the bytes already held are skipped, not written twice', async () => {
  const cut = 250_000;
  fake.hooks.blob = (req, res, digest, n) => {
    if (digest !== big().digest) return false;
    if (n === 0) {
      res.writeHead(200, { 'content-length': big().size });
      res.write(big().bytes.subarray(0, cut), () => setTimeout(() => res.socket?.destroy(), 20));
      return true;
    }
    res.writeHead(200, { 'content-length': big().size }).end(big().bytes); // Range ignored
    return true;
  };
  const store = newStore();
  await pullImage(`${fake.host}/x/app:v1`, { store, registryOptions: opts });
  await assertStoreVerified(store);
});

test('manifest of absurd size: refused from Content-Length, and when streamed without one', async () => {
  fake.hooks.manifest = (req, res) => {
    res.writeHead(200, {
      'content-type': 'application/vnd.oci.image.manifest.v1+json',
      'content-length': 200 * 1024 * 1024,
    });
    res.end(); // never sent: the client must stop at the header
    return true;
  };
  await refusedPull('invalid-argument', /209715200 bytes.*over the limit|limit/);
  fake.hooks.manifest = (req, res) => {
    if (req.method === 'HEAD') {
      res.writeHead(405).end();
      return true;
    }
    res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
    const chunk = Buffer.alloc(1024 * 1024, 0x20);
    let sent = 0;
    const pump = (): void => {
      while (sent < 64 && res.write(chunk)) sent++;
      if (sent < 64) res.once('drain', pump);
      else res.end();
    };
    res.on('error', () => undefined);
    pump();
    return true;
  };
  const store = newStore();
  await assert.rejects(
    pullImage(`${fake.host}/x/app:v1`, { store, registryOptions: opts }),
    /more than the limit of 4194304 bytes/,
  );
  assert.deepEqual(await store.list(), []);
});

test('wrong media type for a manifest is refused', async () => {
  fake.hooks.manifest = (req, res) => {
    res.writeHead(200, {
      'content-type': 'application/vnd.oci.image.config.v1+json',
      'content-length': img.configBytes.length,
    });
    res.end(req.method === 'HEAD' ? undefined : img.configBytes);
    return true;
  };
  await refusedPull('invalid-argument', /unsupported manifest media type "application\/vnd.oci.image.config.v1\+json"/);
});

test('schema 1 manifest is refused with advice', async () => {
  const s1 = Buffer.from(
    JSON.stringify({ schemaVersion: 1, name: 'x/app', tag: 'v1', architecture: 'amd64', fsLayers: [], history: [] }),
  );
  serveManifest(s1, 'application/vnd.docker.distribution.manifest.v1+prettyjws');
  await refusedPull('failed-precondition', /schema 1.*not supported/);
  // Also when the registry says application/json and only the body tells.
  fake.hooks.manifest = (req, res) => {
    if (req.method === 'HEAD') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': s1.length }).end();
      return true;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': s1.length }).end(s1);
    return true;
  };
  const store = newStore();
  await assert.rejects(pullImage(`${fake.host}/x/app:v1`, { store, registryOptions: opts }), /schema 1/);
  assert.deepEqual(await store.list(), []);
});

test('Docker-Content-Digest that does not match the manifest body is refused', async () => {
  fake.hooks.manifest = (req, res) => {
    const lie = `sha256:${'0'.repeat(64)}`;
    if (req.method === 'HEAD') {
      res.writeHead(200, { 'content-type': img.manifest.mediaType, 'content-length': img.manifestBytes.length }).end();
      return true;
    }
    res.writeHead(200, {
      'content-type': img.manifest.mediaType,
      'content-length': img.manifestBytes.length,
      'docker-content-digest': lie,
    });
    res.end(img.manifestBytes);
    return true;
  };
  await refusedPull('digest-mismatch', /Docker-Content-Digest/);
});

test('a manifest fetched by digest must hash to that digest', async () => {
  fake.hooks.manifest = (req, res) => {
    const other = Buffer.from(img.manifestBytes.toString().replace('"schemaVersion": 2', '"schemaVersion":  2'));
    res
      .writeHead(200, { 'content-type': img.manifest.mediaType, 'content-length': other.length })
      .end(req.method === 'HEAD' ? undefined : other);
    return true;
  };
  const client = new RegistryClient(fake.host, opts);
  await assert.rejects(
    client.fetchManifest('x/app', img.manifest.digest),
    (e: Error & { code?: string }) => e.code === 'digest-mismatch',
  );
});

test('503s are retried with backoff; 4xx are not', async () => {
  fake.hooks.manifest = (req, res, n) => {
    if (n < 2) {
      res.writeHead(503).end();
      return true;
    }
    return false;
  };
  const store = newStore();
  const res = await pullImage(`${fake.host}/x/app:v1`, { store, registryOptions: opts });
  assert.equal(res.manifest.digest, img.manifest.digest);
  // HEAD 503, HEAD 503, HEAD 200, then the GET by digest.
  assert.equal(fake.log.filter((l) => l.path.includes('/manifests/')).length, 4);

  fake.reset();
  fake.hooks.manifest = (req, res) => {
    res.writeHead(503).end();
    return true;
  };
  await assert.rejects(
    pullImage(`${fake.host}/x/app:v1`, { store: newStore(), registryOptions: opts }),
    (e: Error & { code?: string }) => e.code === 'unavailable',
  );
  // HEAD: 1 + 3 retries, then the GET fallback: 1 + 3 retries.
  assert.equal(fake.log.filter((l) => l.path.includes('/manifests/')).length, 8);

  fake.reset();
  fake.hooks.manifest = (req, res) => {
    res
      .writeHead(400, { 'content-type': 'application/json' })
      .end(JSON.stringify({ errors: [{ code: 'NAME_INVALID', message: 'invalid repository name' }] }));
    return true;
  };
  await assert.rejects(
    pullImage(`${fake.host}/x/app:v1`, { store: newStore(), registryOptions: opts }),
    /NAME_INVALID: invalid repository name/,
  );
  assert.equal(fake.log.filter((l) => l.path.includes('/manifests/')).length, 2, 'HEAD once, GET once, no retries');
});

test('blob 503s and network resets are retried', async () => {
  fake.hooks.blob = (req, res, digest, n) => {
    if (digest !== big().digest) return false;
    if (n === 0) {
      res.writeHead(503).end();
      return true;
    }
    if (n === 1) {
      req.socket.destroy();
      return true;
    }
    serveRange(req, res, big().bytes);
    return true;
  };
  const store = newStore();
  await pullImage(`${fake.host}/x/app:v1`, { store, registryOptions: opts });
  await assertStoreVerified(store);
});

test('redirects to blob storage on another host do not carry the Authorization header', async () => {
  const seen: (string | undefined)[] = [];
  const storage: Server = createServer((req, res) => {
    seen.push(req.headers.authorization);
    serveRange(req, res, big().bytes);
  });
  const port = await listenLocal(storage);
  try {
    const want = 'Basic ' + Buffer.from('carol:pw').toString('base64');
    const sentAuth: (string | undefined)[] = [];
    fake.hooks.ping = (req, res) => {
      if (req.headers.authorization !== want) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="fake"' }).end();
        return true;
      }
      return false;
    };
    fake.hooks.blob = (req, res, digest) => {
      sentAuth.push(req.headers.authorization);
      if (req.headers.authorization !== want) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="fake"' }).end();
        return true;
      }
      if (digest !== big().digest) return false;
      res.writeHead(307, { location: `http://localhost:${port}/storage/${digest}?sig=abc` }).end();
      return true;
    };
    const store = newStore();
    await pullImage(`${fake.host}/x/app:v1`, {
      store,
      registryOptions: { ...opts, credentials: async () => ({ username: 'carol', password: 'pw' }) },
    });
    assert.ok(sentAuth.length > 0 && sentAuth.every((a) => a === want));
    assert.deepEqual(seen, [undefined]);
    await assertStoreVerified(store);
  } finally {
    await closeServer(storage);
  }
});

test('foreign layers are fetched from their URLs (no credentials), the registry is not asked', async () => {
  const base = buildImage({ format: 'docker', extraLayers: [oneFileTar('f.txt', Buffer.from('foreign\n'))] });
  const foreign = base.layers[1]!;
  const seen: (string | undefined)[] = [];
  const cdn: Server = createServer((req, res) => {
    seen.push(req.headers.authorization);
    if (req.url === '/moved') {
      res.writeHead(302, { location: '/layer.tgz' }).end();
      return;
    }
    serveRange(req, res, foreign.bytes);
  });
  const port = await listenLocal(cdn);
  try {
    const man = JSON.parse(base.manifestBytes.toString()) as { layers: { mediaType: string; urls?: string[] }[] };
    man.layers[1]!.mediaType = 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip';
    man.layers[1]!.urls = ['ftp://nope.invalid/x', `http://127.0.0.1:${port}/moved`];
    const bytes = Buffer.from(JSON.stringify(man));
    const img: BuiltImage = {
      ...base,
      manifestBytes: bytes,
      manifest: { ...base.manifest, digest: sha256(bytes), size: bytes.length },
    };
    addImage(fake, 'foreign', img);
    fake.blobs.delete(foreign.digest);
    const store = newStore();
    const res = await pullImage(`${fake.host}/x/app:foreign`, { store, registryOptions: opts });
    assert.equal(res.layers[1]!.digest, foreign.digest);
    assert.ok(await store.has(foreign.digest));
    assert.deepEqual(seen, [undefined, undefined]);
    assert.equal(fake.log.filter((l) => l.path.endsWith(foreign.digest)).length, 0);
    await assertStoreVerified(store);
  } finally {
    await closeServer(cdn);
  }
});

test('a manifest that is JSON but not a valid manifest is refused before it enters the store', async () => {
  const bad = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { digest: 'sha256:nothex' },
    }),
  );
  serveManifest(bad, 'application/vnd.oci.image.manifest.v1+json');
  await refusedPull('invalid-argument', /invalid image manifest/);
});

test('layer downloads run at most `concurrency` at a time', async () => {
  const many = buildImage({
    extraLayers: Array.from({ length: 7 }, (_, i) => oneFileTar(`f${i}`, Buffer.alloc(50_000 + i, i))),
  });
  addImage(fake, 'many', many);
  let inFlight = 0;
  let peak = 0;
  // Each layer answered 40 ms late, counting how many are asked for at once.
  const slowLayers: Hooks['blob'] = (req, res, digest) => {
    if (digest === many.config.digest) return false;
    inFlight++;
    peak = Math.max(peak, inFlight);
    setTimeout(() => {
      inFlight--;
      serveRange(req, res, fake.blobs.get(digest)!);
    }, 40);
    return true;
  };
  fake.hooks.blob = slowLayers;
  await pullImage(`${fake.host}/x/app:many`, { store: newStore(), registryOptions: opts, concurrency: 2 });
  assert.equal(peak, 2);
  fake.reset();
  peak = 0;
  fake.hooks.blob = slowLayers;
  await pullImage(`${fake.host}/x/app:many`, { store: newStore(), registryOptions: opts });
  assert.equal(peak, 3, 'default concurrency is 3');
});

test('a blob body that stalls is abandoned after the idle timeout and resumed', async () => {
  const half = big().size >> 1;
  fake.hooks.blob = (req, res, digest, n) => {
    if (digest !== big().digest || n > 0) return false;
    res.writeHead(200, { 'content-length': big().size });
    res.write(big().bytes.subarray(0, half)); // then nothing, connection left open
    return true;
  };
  const store = newStore();
  const t0 = Date.now();
  await pullImage(`${fake.host}/x/app:v1`, { store, registryOptions: { ...opts, timeoutMs: 400 } });
  assert.ok(Date.now() - t0 < 10_000);
  const gets = fake.log.filter((l) => l.path.endsWith(big().digest));
  assert.equal(gets.length, 2);
  assert.match(String(gets[1]!.headers.range), /^bytes=\d+-$/);
  await assertStoreVerified(store);
});

test('a redirect loop is cut short with a clear error', async () => {
  fake.hooks.blob = (req, res, digest) => {
    if (digest !== big().digest) return false;
    res.writeHead(302, { location: req.url }).end();
    return true;
  };
  const store = newStore();
  await assert.rejects(pullImage(`${fake.host}/x/app:v1`, { store, registryOptions: opts }), /too many redirects/);
  assert.equal(await store.has(big().digest), false);
});
