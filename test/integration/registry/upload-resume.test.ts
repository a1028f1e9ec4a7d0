// A chunked upload whose PATCH breaks off mid-body: the client asks the real
// registry how much it holds (GET on the upload URL) and sends only the rest.
// A proxy between client and registry cuts the connection.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { pullImage } from '../../../src/image/pull.js';
import { pushImage } from '../../../src/image/push.js';
import {
  buildImage,
  registryMissing,
  sha256,
  startRegistry,
  storeImage,
  type RegistryInstance,
} from '../../helpers/registry.js';
import { closeServer, listenLocal } from '../../helpers/servers.js';
import { scratchStores } from '../../helpers/stores.js';

const skip = registryMissing;
let reg: RegistryInstance;
let proxy: Server;
let proxyHost: string;
const { newStore } = scratchStores('berth-upres-');
const log: { method: string; path: string; range?: string; status?: number }[] = [];
let cutNextPatch = false;

before(async () => {
  if (skip) return;
  reg = await startRegistry();
  proxy = createServer((req, res) => {
    const entry: (typeof log)[number] = {
      method: req.method ?? '',
      path: req.url ?? '',
      range: req.headers['content-range'],
    };
    log.push(entry);
    const up = request(
      { host: '127.0.0.1', port: reg.port, method: req.method, path: req.url, headers: req.headers },
      (ur) => {
        entry.status = ur.statusCode;
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        ur.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    if (req.method === 'PATCH' && cutNextPatch) {
      cutNextPatch = false;
      // Forward about half of the body, then break both connections.
      const half = Number(req.headers['content-length']) >> 1;
      let n = 0;
      req.on('data', (c: Buffer) => {
        if (n >= half) return;
        const part = c.subarray(0, Math.min(c.length, half - n));
        n += part.length;
        up.write(part);
        if (n >= half) {
          setTimeout(() => {
            up.destroy();
            req.socket.destroy();
          }, 50);
        }
      });
      return;
    }
    req.pipe(up);
  });
  proxyHost = `127.0.0.1:${await listenLocal(proxy)}`;
});

after(async () => {
  try {
    if (proxy) await closeServer(proxy);
  } finally {
    await reg?.stop();
  }
});

test(
  'a broken PATCH to docker-registry: the session is dropped by the registry, the blob starts again from a new POST',
  { skip },
  async () => {
    const img = buildImage({ label: 'chunks' });
    const src = newStore();
    await storeImage(src, img);
    cutNextPatch = true;
    const opts = { credentials: async () => undefined, retryBaseMs: 10 };
    const res = await pushImage(`${proxyHost}/chunked/app:1`, {
      store: src,
      target: img.manifest,
      registryOptions: opts,
      chunkSize: 256 * 1024,
      concurrency: 1,
    });
    assert.equal(res.digest, img.manifest.digest);
    const patches = log.filter((l) => l.method === 'PATCH');
    const statusChecks = log.filter((l) => l.method === 'GET' && l.path.includes('/blobs/uploads/'));
    assert.ok(statusChecks.length >= 1, 'the client asked for the upload status');
    assert.ok(patches.length >= 2);
    // distribution refuses a session whose last PATCH broke: a second POST follows.
    assert.ok(log.filter((l) => l.method === 'POST').length >= 2);
    // Pull it back (directly from the registry) and check every byte.
    const dst = newStore();
    const pulled = await pullImage(`${reg.host}/chunked/app:1`, { store: dst, registryOptions: opts });
    for (const l of pulled.layers) assert.equal(sha256(readFileSync(dst.blobPath(l.digest))), l.digest);
  },
);

test('a broken PATCH to a registry that keeps the session: continued from the reported offset', async () => {
  const { startFakeRegistry } = await import('./fake-registry.js');
  const fake = await startFakeRegistry();
  try {
    const img = buildImage({ label: 'lenient' });
    const src = newStore();
    await storeImage(src, img);
    const big = img.layers[0]!;
    fake.hooks.blob = (req, res, digest) => {
      if (req.method === 'HEAD' && !fake.blobs.has(digest)) {
        res.writeHead(404).end();
        return true;
      }
      return false;
    };
    fake.cutPatchAfter = 100_000;
    const res = await pushImage(`${fake.host}/lenient/app:1`, {
      store: src,
      target: img.manifest,
      chunkSize: 256 * 1024,
      concurrency: 1,
      registryOptions: { credentials: async () => undefined, retryBaseMs: 5 },
    });
    assert.equal(res.digest, img.manifest.digest);
    assert.deepEqual(fake.blobs.get(big.digest), big.bytes);
    const posts = fake.log.filter((l) => l.method === 'POST').length;
    assert.equal(posts, img.layers.length + 1, 'one session per blob: no restart');
    const gets = fake.log.filter((l) => l.method === 'GET' && l.path.startsWith('/upload/'));
    assert.equal(gets.length, 1, 'one upload status request after the cut');
    const patches = fake.log.filter((l) => l.method === 'PATCH').map((l) => l.headers['content-range']);
    assert.ok(patches.includes('100000-262143'), patches.join(' '));
  } finally {
    await fake.stop();
  }
});
