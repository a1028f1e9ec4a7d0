// The storage layer's one call, as the engine makes it: a Storage opened
// once, two pulls from a real registry (Debian's docker-registry on
// 127.0.0.1) into it, each layer unpacked into a committed snapshot, the
// lease gone afterwards; then gc keeps everything an image names and, once
// the record is removed, takes the blobs and snapshots away.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pushImage } from '../../../src/image/index.js';
import { chainIds } from '../../../src/snapshot/index.js';
import { Storage, pull, type PullEvent } from '../../../src/storage/index.js';
import {
  buildImage,
  oneFileTar,
  registryMissing,
  startRegistry,
  storeImage,
  type RegistryInstance,
} from '../../helpers/registry.js';
import { scratchStores } from '../../helpers/stores.js';

const skip = process.getuid?.() !== 0 ? 'needs root (snapshots keep owners)' : registryMissing;
const { newStore } = scratchStores('berth-storage-src-');
let reg: RegistryInstance | undefined;
const root = mkdtempSync(join(tmpdir(), 'berth-storage-'));

before(async () => {
  if (!skip) reg = await startRegistry();
});
after(async () => {
  await reg?.stop();
  rmSync(root, { recursive: true, force: true });
});

test('pull, unpack, record, then gc, through one Storage', { skip }, async () => {
  const data = randomBytes(300_000);
  const img = buildImage({ extraLayers: [oneFileTar('data.bin', data)] });
  const src = newStore();
  await storeImage(src, img);
  const ref = `${reg!.host}/storage/app:1`;
  await pushImage(ref, { store: src, target: img.manifest });

  const storage = Storage.open({ root, snapshotter: 'native' });
  try {
    const events: PullEvent[] = [];
    const r = await pull(storage, ref, {}, (e) => events.push(e));
    const chains = chainIds(img.layers.map((l) => l.diffId));
    assert.equal(r.target.digest, img.manifest.digest);
    assert.equal(r.chainId, chains.at(-1));
    assert.equal(r.snapshotter, 'native');
    // Every layer ends "Pull complete" (downloaded and unpacked).
    for (const l of img.layers)
      assert.equal(events.filter((e) => e.digest === l.digest).at(-1)?.status, 'Pull complete', l.digest);
    assert.equal(storage.images.get(ref).target.digest, img.manifest.digest);
    assert.deepEqual(storage.leases.list(), [], 'the pull lease is gone');
    const sn = await storage.snapshotter();
    assert.deepEqual((await sn.list()).map((s) => [s.key, s.kind]).sort(), chains.map((c) => [c, 'committed']).sort());
    // The unpacked file is the pushed one (native: a snapshot is a full copy of its parent).
    const [mount] = await sn.view('check', chains.at(-1));
    assert.ok(readFileSync(join(mount!.source, 'data.bin')).equals(data), 'data.bin unpacked as pushed');
    await sn.remove('check');

    // Pulling again downloads and unpacks nothing.
    const again: PullEvent[] = [];
    await pull(storage, ref, {}, (e) => again.push(e));
    assert.ok(
      again.every((e) => e.status === 'Already exists' || e.status === 'Pull complete'),
      JSON.stringify(again),
    );

    // gc keeps what the record names.
    const kept = await storage.gc();
    assert.deepEqual(kept.removedBlobs, []);
    assert.deepEqual(kept.removedSnapshots, []);
    // Without the record, everything goes: the blobs and the layer snapshots, children first.
    storage.images.delete(ref);
    const swept = await storage.gc();
    assert.equal(swept.removedBlobs.length, 2 + img.layers.length);
    assert.deepEqual(swept.removedSnapshots, [...chains].reverse());
    assert.deepEqual(await sn.list(), []);
  } finally {
    storage.close();
  }
});
