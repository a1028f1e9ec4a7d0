// Push an image built on the spot to a real registry with Berth's push, pull
// it back with Berth's pull into a fresh store, and cross-check with skopeo.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { pullImage, type PullProgress } from '../../../src/image/pull.js';
import { pushImage, type PushProgress } from '../../../src/image/push.js';
import { RegistryClient } from '../../../src/image/registry/client.js';
import {
  buildImage,
  buildIndex,
  haveSkopeo,
  hostArch,
  oneFileTar,
  sha256,
  skopeo,
  registryMissing,
  startRegistry,
  storeImage,
  type RegistryInstance,
} from '../../helpers/registry.js';
import { scratchStores } from '../../helpers/stores.js';

const skip = registryMissing;

let reg: RegistryInstance;
const { newStore } = scratchStores('berth-rt-');

const noCreds = { credentials: async () => undefined, retryBaseMs: 10 };

before(async () => {
  if (skip) return;
  reg = await startRegistry();
});

after(async () => {
  await reg?.stop();
});

test('push a busybox image, pull it back, identical bytes and Docker-style progress', { skip }, async () => {
  const img = buildImage({
    extraLayers: [oneFileTar('hello.txt', Buffer.from('hello\n')), oneFileTar('two.txt', Buffer.from('two\n'))],
  });
  const src = newStore();
  await storeImage(src, img);
  const pushEvents: PushProgress[] = [];
  const pushed = await pushImage(`${reg.host}/test/busybox:1.0`, {
    store: src,
    target: img.manifest,
    registryOptions: noCreds,
    progress: (e) => pushEvents.push(e),
  });
  assert.equal(pushed.digest, img.manifest.digest);
  assert.deepEqual(pushed.blobs.map((b) => b.result).sort(), ['uploaded', 'uploaded', 'uploaded', 'uploaded']);
  assert.ok(pushEvents.some((e) => e.status === 'Pushed'));

  const dst = newStore();
  const events: PullProgress[] = [];
  const res = await pullImage(`${reg.host}/test/busybox:1.0`, {
    store: dst,
    registryOptions: noCreds,
    progress: (e) => events.push(e),
  });
  assert.equal(res.name, `${reg.host}/test/busybox:1.0`);
  assert.equal(res.target.digest, img.manifest.digest);
  assert.equal(res.manifest.digest, img.manifest.digest);
  assert.equal(res.config.digest, img.config.digest);
  assert.deepEqual(
    res.layers.map((l) => l.digest),
    img.layers.map((l) => l.digest),
  );
  for (const l of img.layers) {
    assert.equal(sha256(readFileSync(dst.blobPath(l.digest))), l.digest);
  }
  assert.deepEqual(await dst.readBytes(img.manifest.digest), img.manifestBytes);
  assert.deepEqual(await dst.readBytes(img.config.digest), img.configBytes);
  // Per layer: Waiting, then Downloading..., Verifying Checksum, Download complete, Pull complete.
  for (const l of img.layers) {
    const st = events.filter((e) => e.digest === l.digest).map((e) => e.status);
    assert.equal(st[0], 'Waiting');
    assert.ok(st.includes('Verifying Checksum'), st.join(','));
    assert.deepEqual(st.slice(-2), ['Download complete', 'Pull complete']);
  }
  const big = events.filter((e) => e.digest === img.layers[0]!.digest && e.status === 'Downloading');
  assert.ok(
    big.length > 0 && big.every((e) => e.total === img.layers[0]!.size && e.current! > 0 && e.current! < e.total),
  );
  // Source labels let a later push mount instead of upload.
  const info = await dst.info(img.layers[0]!.digest);
  assert.equal(info.labels[`containerd.io/distribution.source.${reg.host}`], 'test/busybox');

  // A second pull into the same store downloads nothing.
  const again: PullProgress[] = [];
  await pullImage(`${reg.host}/test/busybox:1.0`, {
    store: dst,
    registryOptions: noCreds,
    progress: (e) => again.push(e),
  });
  assert.ok(again.filter((e) => e.kind === 'layer').every((e) => e.status === 'Already exists'));
});

test(
  'skopeo reads what Berth pushed, and Berth pulls what skopeo copied',
  { skip: skip || (!haveSkopeo() && 'skopeo missing') },
  async () => {
    const img = buildImage({ format: 'docker', label: 'skopeo' });
    const src = newStore();
    await storeImage(src, img);
    await pushImage(`${reg.host}/test/skopeo:v1`, { store: src, target: img.manifest, registryOptions: noCreds });
    const inspect = JSON.parse(skopeo(['inspect', '--tls-verify=false', `docker://${reg.host}/test/skopeo:v1`])) as {
      Digest: string;
      Layers: string[];
      Labels: Record<string, string>;
    };
    assert.equal(inspect.Digest, img.manifest.digest);
    assert.deepEqual(
      inspect.Layers,
      img.layers.map((l) => l.digest),
    );
    assert.equal(inspect.Labels['test.label'], 'skopeo');
    const raw = skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/test/skopeo:v1`]);
    assert.equal(sha256(Buffer.from(raw)), img.manifest.digest);

    skopeo([
      'copy',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      `docker://${reg.host}/test/skopeo:v1`,
      `docker://${reg.host}/other/copied:v2`,
    ]);
    const dst = newStore();
    const res = await pullImage(`${reg.host}/other/copied:v2`, { store: dst, registryOptions: noCreds });
    assert.deepEqual(
      res.layers.map((l) => l.digest),
      img.layers.map((l) => l.digest),
    );
    assert.equal(res.imageConfig.config?.Labels?.['test.label'], 'skopeo');
  },
);

test('multi-platform index: the host platform is chosen, children pushed by digest', { skip }, async () => {
  const mine = buildImage({ label: 'host' });
  const other = buildImage({ label: 'other', arch: hostArch() === 'amd64' ? 's390x' : 'amd64' });
  const idx = buildIndex([
    { image: other, os: 'linux', architecture: hostArch() === 'amd64' ? 's390x' : 'amd64' },
    { image: mine, os: 'linux', architecture: hostArch() },
  ]);
  const src = newStore();
  await storeImage(src, mine);
  await storeImage(src, other);
  await src.put(idx.bytes, { digest: idx.desc.digest, mediaType: idx.desc.mediaType });
  const pushed = await pushImage(`${reg.host}/test/multi:latest`, {
    store: src,
    target: idx.desc,
    registryOptions: noCreds,
    chunkSize: 256 * 1024,
  });
  assert.equal(pushed.digest, idx.desc.digest);

  const dst = newStore();
  const res = await pullImage(`${reg.host}/test/multi`, { store: dst, registryOptions: noCreds });
  assert.equal(res.target.digest, idx.desc.digest);
  assert.equal(res.target.mediaType, 'application/vnd.oci.image.index.v1+json');
  assert.equal(res.manifest.digest, mine.manifest.digest);
  assert.equal(res.imageConfig.config?.Labels?.['test.label'], 'host');
  assert.ok(await dst.has(idx.desc.digest));
  assert.equal(await dst.has(other.manifest.digest), false, 'the other platform is not fetched');

  // Explicit platform, by digest reference.
  const dst2 = newStore();
  const arch = hostArch() === 'amd64' ? 's390x' : 'amd64';
  const res2 = await pullImage(`${reg.host}/test/multi@${idx.desc.digest}`, {
    store: dst2,
    registryOptions: noCreds,
    platform: `linux/${arch}`,
  });
  assert.equal(res2.manifest.digest, other.manifest.digest);
});

test('cross-repository mount when the store knows another repository holds the blob', { skip }, async () => {
  const img = buildImage({ label: 'mount' });
  const src = newStore();
  await storeImage(src, img);
  await pushImage(`${reg.host}/team/a:1`, { store: src, target: img.manifest, registryOptions: noCreds });
  const events: PushProgress[] = [];
  const res = await pushImage(`${reg.host}/team/b:1`, {
    store: src,
    target: img.manifest,
    registryOptions: noCreds,
    progress: (e) => events.push(e),
  });
  assert.deepEqual(
    res.blobs.map((b) => b.result),
    res.blobs.map(() => 'mounted'),
  );
  assert.ok(events.some((e) => e.status === 'Mounted' && e.from === 'team/a'));
  // And a third push to the same repo finds everything there.
  const res3 = await pushImage(`${reg.host}/team/b:2`, { store: src, target: img.manifest, registryOptions: noCreds });
  assert.deepEqual(
    res3.blobs.map((b) => b.result),
    res3.blobs.map(() => 'exists'),
  );
  const client = new RegistryClient(reg.host, noCreds);
  assert.deepEqual((await client.listTags('team/b')).sort(), ['1', '2']);
});

test('an index without the wanted platform is a not-found error listing what it offers', { skip }, async () => {
  await assert.rejects(
    pullImage(`${reg.host}/test/multi:latest`, {
      store: newStore(),
      registryOptions: noCreds,
      platform: 'linux/riscv64',
    }),
    (e: Error & { code?: string }) =>
      e.code === 'not-found' &&
      /no manifest for platform linux\/riscv64/.test(e.message) &&
      /available: /.test(e.message),
  );
});

test(
  'pushing an image whose blobs are not in the store is a clear error, and no tag is written',
  { skip },
  async () => {
    const img = buildImage({ label: 'incomplete' });
    const src = newStore();
    await src.put(img.manifestBytes, { digest: img.manifest.digest, mediaType: img.manifest.mediaType });
    await src.put(img.configBytes, { digest: img.config.digest });
    await assert.rejects(
      pushImage(`${reg.host}/test/incomplete:1`, { store: src, target: img.manifest, registryOptions: noCreds }),
      (e: Error & { code?: string }) => e.code === 'not-found' && /is not in the content store/.test(e.message),
    );
    const client = new RegistryClient(reg.host, noCreds);
    await assert.rejects(client.resolve('test/incomplete', '1'), /manifest unknown/);
  },
);

test('a single-platform image of another platform is refused with requirePlatform, else taken', { skip }, async () => {
  const arch = hostArch() === 'amd64' ? 's390x' : 'amd64';
  const img = buildImage({ label: 'foreign-arch', arch });
  const src = newStore();
  await storeImage(src, img);
  await pushImage(`${reg.host}/test/single:1`, { store: src, target: img.manifest, registryOptions: noCreds });
  await assert.rejects(
    pullImage(`${reg.host}/test/single:1`, {
      store: newStore(),
      registryOptions: noCreds,
      platform: `linux/${hostArch()}`,
      requirePlatform: true,
    }),
    (e: Error & { code?: string }) =>
      e.code === 'not-found' &&
      /does not match the specified platform: wanted linux\/\w+, actual: linux\//.test(e.message),
  );
  const res = await pullImage(`${reg.host}/test/single:1`, {
    store: newStore(),
    registryOptions: noCreds,
    platform: `linux/${hostArch()}`,
  });
  assert.equal(res.platform.architecture, arch);
});

test('a missing tag is a clear not-found error', { skip }, async () => {
  const dst = newStore();
  await assert.rejects(
    pullImage(`${reg.host}/test/busybox:nope`, { store: dst, registryOptions: noCreds }),
    (e: Error & { code?: string }) => {
      assert.equal(e.code, 'not-found');
      assert.match(e.message, /manifest unknown/);
      return true;
    },
  );
});

test('a config refused by its checks stops the layer downloads and shows no layer', { skip }, async () => {
  // The config downloads together with the layers: a config whose diff ids
  // do not match the manifest must still fail the pull, before any layer is
  // reported, and stop the download of a layer still in flight.
  const big = oneFileTar('big.bin', randomBytes(768 * 1024));
  const img = buildImage({ extraLayers: [big], label: 'short-config' });
  const cfg = JSON.parse(img.configBytes.toString()) as { rootfs: { diff_ids: string[] } };
  cfg.rootfs.diff_ids = cfg.rootfs.diff_ids.slice(0, 1);
  img.configBytes = Buffer.from(JSON.stringify(cfg));
  img.config = { ...img.config, digest: sha256(img.configBytes), size: img.configBytes.length };
  const man = JSON.parse(img.manifestBytes.toString()) as { config: unknown };
  man.config = img.config;
  img.manifestBytes = Buffer.from(JSON.stringify(man));
  img.manifest = { ...img.manifest, digest: sha256(img.manifestBytes), size: img.manifestBytes.length };
  const src = newStore();
  await storeImage(src, img);
  await pushImage(`${reg.host}/test/short-config:1`, { store: src, target: img.manifest, registryOptions: noCreds });

  const dst = newStore();
  const events: PullProgress[] = [];
  await assert.rejects(
    pullImage(`${reg.host}/test/short-config:1`, {
      store: dst,
      registryOptions: noCreds,
      progress: (e) => events.push(e),
    }),
    (e: Error & { code?: string }) => {
      assert.equal(e.code, 'invalid-argument');
      assert.match(e.message, /the manifest lists 2 layers but the config 1 diff ids/);
      return true;
    },
  );
  assert.deepEqual(
    events.filter((e) => e.kind === 'layer'),
    [],
    'no layer event before the config is accepted',
  );
  // The manifest and the config are stored (leased by the caller); the big
  // layer, stopped in flight or done, is never half visible.
  assert.ok(await dst.has(img.manifest.digest));
  assert.ok(await dst.has(img.config.digest));
  const bigLayer = img.layers[1]!;
  if (await dst.has(bigLayer.digest)) assert.equal(sha256(await dst.readBytes(bigLayer.digest)), bigLayer.digest);
});
