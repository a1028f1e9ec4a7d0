// Every compression, with each zstd decoder (zstd(1) in a child process, and
// fzstd in-process), whatever the media type claims; and corrupt streams.

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { createReadStream, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { openSnapshotter, applyLayer, type Snapshotter } from '../../../src/snapshot/index.js';
import { gzip, haveZstdCli, makeTar, sha256, tempRoot, zstd } from './layers.js';

const isRoot = process.getuid?.() === 0;

describe(
  'layer compression',
  { skip: !isRoot ? 'needs root' : !haveZstdCli() ? 'needs the zstd CLI to make zstd layers' : false },
  () => {
    const t = tempRoot();
    let sn: Snapshotter | undefined;
    after(() => {
      sn?.close();
      t.cleanup();
      delete process.env.BERTH_ZSTD;
    });

    const cases: { name: string; pack: (b: Buffer) => Buffer; env?: string; compression: string }[] = [
      { name: 'plain', pack: (b) => b, compression: 'none' },
      { name: 'gzip', pack: gzip, compression: 'gzip' },
      { name: 'zstd (zstd CLI)', pack: zstd, compression: 'zstd' },
      { name: 'zstd (fzstd)', pack: zstd, env: 'fzstd', compression: 'zstd' },
    ];
    let n = 0;
    for (const c of cases) {
      test(`${c.name}: unpacks, diff id is the uncompressed digest`, async () => {
        sn ??= await openSnapshotter(t.root, { driver: 'overlayfs' });
        if (c.env) process.env.BERTH_ZSTD = c.env;
        else delete process.env.BERTH_ZSTD;
        const big = Buffer.alloc(3 << 20);
        for (let i = 0; i < big.length; i += 4) big.writeUInt32LE((i * 2654435761) >>> 0, i);
        const tarball = await makeTar([
          { name: 'big', content: big },
          { name: 'small', content: c.name },
        ]);
        const key = `k${n++}`;
        await sn.prepare(key);
        const target = await sn.extractionTarget(key);
        // The media type says plain tar: the magic bytes decide.
        const r = await applyLayer({
          target,
          stream: Readable.from([c.pack(tarball)]),
          mediaType: 'application/vnd.oci.image.layer.v1.tar',
          expectedDiffId: sha256(tarball),
        });
        assert.equal(r.compression, c.compression);
        assert.equal(r.size, tarball.length);
        assert.equal(r.entries, 2);
        assert.ok(readFileSync(join(target.dir, 'big')).equals(big));
        assert.equal(readFileSync(join(target.dir, 'small'), 'utf8'), c.name);
        await sn.remove(key);
      });
    }

    for (const env of [undefined, 'fzstd']) {
      test(`corrupt and truncated zstd are refused (${env ?? 'zstd CLI'})`, async () => {
        sn ??= await openSnapshotter(t.root, { driver: 'overlayfs' });
        if (env) process.env.BERTH_ZSTD = env;
        else delete process.env.BERTH_ZSTD;
        const tarball = await makeTar([{ name: 'f', content: Buffer.alloc(500_000, 7) }]);
        const z = zstd(tarball);
        const corrupt = Buffer.from(z);
        for (let i = 20; i < corrupt.length; i += 97) corrupt[i] = corrupt[i]! ^ 0x55;
        for (const [what, blob] of [
          ['corrupt', corrupt],
          ['truncated', z.subarray(0, z.length >> 1)],
        ] as const) {
          const key = `bad-${env ?? 'cli'}-${what}`;
          await sn.prepare(key);
          await assert.rejects(
            applyLayer({
              target: await sn.extractionTarget(key),
              stream: Readable.from([blob]),
              expectedDiffId: sha256(tarball),
            }),
            (e: { code?: string; message: string }) => {
              assert.ok(
                e.code === 'invalid-argument' || e.code === 'digest-mismatch',
                `${what}: ${e.code} ${e.message}`,
              );
              return true;
            },
          );
          await sn.remove(key);
        }
      });
    }

    test('a zstd layer in a file is read by zstd(1) itself, not through our process; a corrupt file is refused', async () => {
      sn ??= await openSnapshotter(t.root, { driver: 'overlayfs' });
      delete process.env.BERTH_ZSTD;
      const big = Buffer.alloc(3 << 20);
      for (let i = 0; i < big.length; i += 4) big.writeUInt32LE((Math.imul(i, 2654435761) ^ (i >>> 7)) >>> 0, i);
      const tarball = await makeTar([{ name: 'big', content: big }]);
      const z = zstd(tarball);
      const file = join(t.root, 'layer.zst');
      writeFileSync(file, z);
      await sn.prepare('from-file');
      const target = await sn.extractionTarget('from-file');
      const rs = createReadStream(file);
      const r = await applyLayer({ target, stream: rs, expectedDiffId: sha256(tarball) });
      assert.equal(r.compression, 'zstd');
      assert.ok(readFileSync(join(target.dir, 'big')).equals(big));
      // Only the magic bytes' first read went through the stream.
      assert.ok(z.length > 2 * 65536, `compressed layer of ${z.length} bytes is too small for the check`);
      assert.ok(rs.bytesRead < z.length, `our process read ${rs.bytesRead} of ${z.length} bytes`);
      await sn.remove('from-file');

      const corrupt = Buffer.from(z);
      for (let i = 20; i < corrupt.length; i += 97) corrupt[i] = corrupt[i]! ^ 0x55;
      writeFileSync(file, corrupt);
      await sn.prepare('from-file-bad');
      await assert.rejects(
        applyLayer({
          target: await sn.extractionTarget('from-file-bad'),
          stream: createReadStream(file),
          expectedDiffId: sha256(tarball),
        }),
        (e: { code?: string; message: string }) => {
          assert.ok(e.code === 'invalid-argument' || e.code === 'digest-mismatch', `${e.code} ${e.message}`);
          return true;
        },
      );
      await sn.remove('from-file-bad');
    });

    test('a media type that is no layer is refused before reading', async () => {
      sn ??= await openSnapshotter(t.root, { driver: 'overlayfs' });
      await sn.prepare('mt');
      await assert.rejects(
        applyLayer({
          target: await sn.extractionTarget('mt'),
          stream: Readable.from([Buffer.alloc(10)]),
          mediaType: 'application/vnd.oci.image.config.v1+json',
        }),
        /is not a layer/,
      );
      await sn.remove('mt');
    });
  },
);
