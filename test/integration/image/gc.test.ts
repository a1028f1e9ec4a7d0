import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { importImages } from '../../../src/image/archive/index.js';
import { resolveImage, walkImage } from '../../../src/image/images.js';
import { collectGarbage } from '../../../src/storage/index.js';
import { digestOf } from '../../../src/image/content/store.js';
import { openSnapshotter, unpackImage } from '../../../src/snapshot/index.js';
import { openServices, tempDir, busyboxTar, toolsMissing } from './fixtures.js';

test('gc keeps what images, leases and snapshots reference, removes the rest', { skip: toolsMissing }, async () => {
  const t = tempDir();
  const s = openServices(join(t.dir, 'root'));
  const sn = await openSnapshotter(s.root, { driver: 'native' });
  try {
    busyboxTar(join(t.dir, 'a.tar'), { 'a.txt': 'a' });
    busyboxTar(join(t.dir, 'b.tar'), { 'b.txt': 'b' });
    const [a] = await importImages(s, join(t.dir, 'a.tar'), { rootfs: true, name: 'img/a:1' });
    const [b] = await importImages(s, join(t.dir, 'b.tar'), { rootfs: true, name: 'img/b:1' });
    s.images.tag('img/a:1', 'img/a:alias');
    const ra = await resolveImage(s.content, a!.target);
    const rb = await resolveImage(s.content, b!.target);
    const ua = await unpackImage({ store: s.content, snapshotter: sn, manifest: ra.manifest, config: ra.config });
    const ub = await unpackImage({ store: s.content, snapshotter: sn, manifest: rb.manifest, config: rb.config });
    // A container's rootfs on b's snapshot.
    await sn.prepare('container-1', ub.chainId);

    const orphan = await s.content.put(Buffer.from('orphan blob'));
    const leasedBlob = await s.content.put(Buffer.from('leased blob'));
    const lease = s.leases.create({ ttlMs: null });
    s.leases.addResource(lease.id, { type: 'content', key: leasedBlob.digest });
    const shortLived = s.leases.create({ ttlMs: 1 });
    const expiring = await s.content.put(Buffer.from('protected only briefly'));
    s.leases.addResource(shortLived.id, { type: 'content', key: expiring.digest });
    // Two interrupted ingests; one protected by the lease.
    for (const ref of ['stray-ingest', 'leased-ingest']) {
      const data = Buffer.from(`partial data of ${ref}`);
      const w = await s.content.ingest(ref, { digest: digestOf(data), size: data.length });
      await w.write(data.subarray(0, 5));
      await w.close();
    }
    s.leases.addResource(lease.id, { type: 'ingest', key: 'leased-ingest' });
    await new Promise((r) => setTimeout(r, 5));

    s.images.delete('img/b:1');
    const bBlobs = (await walkImage(s.content, b!.target)).map((d) => d.digest);

    // A dry run changes nothing.
    const dry = await collectGarbage({ ...s, snapshotter: sn }, { dryRun: true });
    assert.ok(dry.removedBlobs.length > 0);
    assert.ok(await s.content.has(orphan.digest));

    const r = await collectGarbage({ ...s, snapshotter: sn });
    const removed = new Set(r.removedBlobs.map((x) => x.digest));
    for (const d of bBlobs) assert.ok(removed.has(d), `b's ${d} removed`);
    for (const d of bBlobs) assert.equal(existsSync(s.content.blobPath(d)), false);
    assert.ok(removed.has(orphan.digest));
    assert.ok(removed.has(expiring.digest), 'an expired lease protects nothing');
    assert.deepEqual(r.expiredLeases, [shortLived.id]);
    assert.ok(await s.content.has(leasedBlob.digest), 'leased blob kept');
    for (const d of await walkImage(s.content, a!.target))
      assert.ok(await s.content.has(d.digest), `a's ${d.digest} kept`);
    assert.deepEqual(r.removedIngests, ['stray-ingest']);
    assert.deepEqual(
      (await s.content.ingests()).map((i) => i.ref),
      ['leased-ingest'],
    );
    // b's snapshot stays: a container still stands on it.
    assert.deepEqual(r.removedSnapshots, []);
    assert.ok(await sn.find(ub.chainId!));

    await sn.remove('container-1');
    const r2 = await collectGarbage({ ...s, snapshotter: sn });
    assert.deepEqual(r2.removedSnapshots, [ub.chainId]);
    assert.equal(await sn.find(ub.chainId!), undefined);
    assert.ok(await sn.find(ua.chainId!), "a's snapshot kept: image a still exists");
    assert.deepEqual(r2.removedBlobs, []);

    // Without any image or lease everything goes.
    s.images.delete('img/a:1');
    s.images.delete('img/a:alias');
    s.leases.delete(lease.id);
    const r3 = await collectGarbage({ ...s, snapshotter: sn });
    assert.equal(r3.keptBlobs, 0);
    assert.deepEqual(await s.content.list(), []);
    assert.deepEqual(await sn.list(), []);
    assert.deepEqual(readdirSync(join(s.root, 'content/ingest')), []);
  } finally {
    sn.close();
    s.close();
    t.cleanup();
  }
});

test('a blob referenced by a gc.ref label is kept with its referrer', async () => {
  const t = tempDir();
  const s = openServices(join(t.dir, 'root'));
  try {
    const child = await s.content.put(Buffer.from('child'));
    const parent = await s.content.put(Buffer.from('parent'));
    await s.content.setLabels(parent.digest, { 'containerd.io/gc.ref.content.0': child.digest });
    const lease = s.leases.create();
    s.leases.addResource(lease.id, { type: 'content', key: parent.digest });
    const r = await collectGarbage(s);
    assert.deepEqual(r.removedBlobs, []);
    s.leases.delete(lease.id);
    const r2 = await collectGarbage(s);
    assert.equal(r2.removedBlobs.length, 2);
  } finally {
    s.close();
    t.cleanup();
  }
});
