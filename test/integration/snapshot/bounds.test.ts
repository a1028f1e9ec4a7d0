// Unpacks are bounded: a small layer that inflates to far more than it
// weighs is refused, per layer and per image, with the layer named, and an
// image refused leaves no snapshot behind. The default bound follows the free
// space of the snapshotter's filesystem (a small tmpfs here); callers and
// BERTH_UNPACK_MAX_*_BYTES configure it.

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { openSnapshotter, unpackImage, type Snapshotter } from '../../../src/snapshot/index.js';
import { isBerthError } from '../../../src/common/errors.js';
import { openServices } from '../image/fixtures.js';
import { gzip, makeTar, sha256, tempRoot } from './layers.js';

const isRoot = process.getuid?.() === 0;
const MiB = 1 << 20;

/** A gzipped layer holding one file of `size` zero bytes: tiny on the wire, big on disk. */
async function zeroLayer(name: string, size: number): Promise<{ blob: Buffer; diffId: string }> {
  const tarball = await makeTar([{ name, content: Buffer.alloc(size) }]);
  return { blob: gzip(tarball), diffId: sha256(tarball) };
}

describe('unpack bounds', { skip: isRoot ? false : 'needs root' }, () => {
  const roots: { cleanup: () => void }[] = [];
  after(() => roots.forEach((r) => r.cleanup()));

  async function image(root: string, layers: { blob: Buffer; diffId: string }[]) {
    const s = openServices(join(root, 'content'));
    const descs = [];
    for (const l of layers) {
      const info = await s.content.put(l.blob);
      descs.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: info.digest, size: info.size });
    }
    return {
      s,
      manifest: { layers: descs },
      config: { rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) } },
    };
  }

  async function refused(
    sn: Snapshotter,
    img: Awaited<ReturnType<typeof image>>,
    pattern: RegExp,
    limits?: { maxBytes?: number; maxImageBytes?: number },
  ) {
    await assert.rejects(
      unpackImage({ store: img.s.content, snapshotter: sn, manifest: img.manifest, config: img.config, limits }),
      (e: unknown) => {
        assert.ok(isBerthError(e), String(e));
        assert.match(e.message, pattern);
        return true;
      },
    );
    assert.deepEqual(
      (await sn.list()).map((x) => x.key),
      [],
      'no snapshot left',
    );
  }

  test('a layer beyond the per-layer limit is refused, naming it; the layers before it go too', async () => {
    const t = tempRoot();
    roots.push(t);
    const sn = await openSnapshotter(join(t.root, 'snap'), { driver: 'overlayfs' });
    try {
      const small = await zeroLayer('small', 1 * MiB);
      const bomb = await zeroLayer('bomb', 160 * MiB);
      assert.ok(bomb.blob.length < 1 * MiB, `the bomb is ${bomb.blob.length} bytes compressed`);
      const img = await image(t.root, [small, bomb]);
      const digest = img.manifest.layers[1]!.digest.replace(/[:]/g, '\\:');
      await refused(
        sn,
        img,
        new RegExp(
          `layer 1 \\(${digest}, \\d+ bytes compressed\\) expands beyond ${64 * MiB} bytes, the per-layer limit`,
        ),
        { maxBytes: 64 * MiB },
      );
      // From the environment, for the command line.
      process.env.BERTH_UNPACK_MAX_LAYER_BYTES = String(32 * MiB);
      try {
        await refused(sn, img, /layer 1 .* expands beyond 33554432 bytes.*BERTH_UNPACK_MAX/);
      } finally {
        delete process.env.BERTH_UNPACK_MAX_LAYER_BYTES;
      }
      img.s.close();
    } finally {
      sn.close();
    }
  });

  test('layers that each fit but together exceed the per-image limit are refused at the one that crosses it', async () => {
    const t = tempRoot();
    roots.push(t);
    const sn = await openSnapshotter(join(t.root, 'snap'), { driver: 'native' });
    try {
      const img = await image(t.root, [await zeroLayer('a', 40 * MiB), await zeroLayer('b', 40 * MiB)]);
      await refused(sn, img, /layer 1 .* expands beyond \d+ bytes, what is left of the image's 67108864 bytes/, {
        maxImageBytes: 64 * MiB,
      });
      // Within the limits, the same image unpacks.
      const ok = await unpackImage({
        store: img.s.content,
        snapshotter: sn,
        manifest: img.manifest,
        config: img.config,
        limits: { maxImageBytes: 128 * MiB },
      });
      assert.equal(ok.layers.length, 2);
      img.s.close();
    } finally {
      sn.close();
    }
  });

  test('by default the bound is the free space: a bomb on a 48 MiB filesystem is refused before it fills it', async () => {
    const t = tempRoot();
    roots.push(t);
    const small = join(t.root, 'small');
    mkdirSync(small);
    // tempRoot's cleanup unmounts what is mounted under its root.
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=48m', 'berth-bounds', small]);
    const sn = await openSnapshotter(join(small, 'snap'), { driver: 'native' });
    try {
      const img = await image(t.root, [await zeroLayer('bomb', 160 * MiB)]);
      await refused(
        sn,
        img,
        /layer 0 .* expands beyond \d+ bytes, the per-layer limit of \d+ bytes \(90% of the free space of /,
      );
      img.s.close();
    } finally {
      sn.close();
    }
  });
});
