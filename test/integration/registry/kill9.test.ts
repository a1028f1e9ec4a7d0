// A pull killed with SIGKILL in the middle of a layer, then the same pull
// again: it resumes the partial ingest with a Range request and ends with a
// store where every blob hashes to its name.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openContentStore } from '../../../src/image/content/store.js';
import { pullImage } from '../../../src/image/pull.js';
import { buildImage, oneFileTar, sha256 } from '../../helpers/registry.js';
import { addImage, startFakeRegistry, type FakeRegistry } from './fake-registry.js';

const here = dirname(fileURLToPath(import.meta.url));
let fake: FakeRegistry | undefined;
let tmp: string | undefined;
after(async () => {
  await fake?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('kill -9 during a pull, then the same pull: resumed, no corruption', async () => {
  tmp = mkdtempSync(join(tmpdir(), 'berth-kill9-'));
  fake = await startFakeRegistry();
  const img = buildImage({ extraLayers: [oneFileTar('b.bin', Buffer.alloc(200_000, 7))] });
  addImage(fake, 'v1', img);
  const big = img.layers[0]!;
  const cut = 300_000;
  let stalled = false;
  fake.hooks.blob = (req, res, digest) => {
    if (digest !== big.digest || req.headers.range) return false;
    // Send part of the layer, then hang: the child is killed while waiting.
    res.writeHead(200, { 'content-length': big.size });
    res.write(big.bytes.subarray(0, cut), () => {
      stalled = true;
    });
    return true;
  };
  const root = join(tmp, 'store');
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(here, 'pull-child.ts'), `${fake.host}/k/app:v1`, root],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_c, sig) => r(sig)));
  // Wait until the child has written the partial layer, then kill it hard.
  const deadline = Date.now() + 20_000;
  const store0 = openContentStore(root);
  try {
    for (;;) {
      const ing = stalled ? (await store0.ingests()).find((i) => i.expected?.digest === big.digest) : undefined;
      if (ing && ing.offset >= cut) break;
      if (Date.now() > deadline) throw new Error(`child never reached the layer: ${out}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    store0.close();
  }
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL');
  assert.doesNotMatch(out, /done/);

  fake.hooks = {};
  fake.log.length = 0;
  const store = openContentStore(root);
  try {
    const res = await pullImage(`${fake.host}/k/app:v1`, {
      store,
      registryOptions: { credentials: async () => undefined, retryBaseMs: 5 },
    });
    assert.equal(res.manifest.digest, img.manifest.digest);
    const gets = fake.log.filter((l) => l.path.endsWith(big.digest));
    assert.deepEqual(
      gets.map((g) => g.headers.range),
      [`bytes=${cut}-`],
      'the partial layer was resumed',
    );
    for (const b of await store.list()) assert.equal(sha256(readFileSync(store.blobPath(b.digest))), b.digest);
    // The kill can land inside the store's commit of another layer, between
    // the rename into blobs/ and the removal of its ingest folder: that
    // leftover names a blob that is committed and verified, and is debris for
    // the store's recovery, not a partial blob.
    for (const i of await store.ingests()) {
      assert.ok(i.expected && (await store.has(i.expected.digest)), `unfinished ingest left: ${JSON.stringify(i)}`);
    }
  } finally {
    store.close();
  }
});
