// kill -9 in the middle of unpacking a layer, then the same unpack again:
// it completes, the abandoned snapshot and its directory are gone, and the
// store holds exactly one committed snapshot per layer.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { openSnapshotter, unpackImage, chainIds } from '../../../src/snapshot/index.js';
import { gzip, makeTar, MemoryStore, sha256, tempRoot } from './layers.js';

const isRoot = process.getuid?.() === 0;

test('kill -9 mid-unpack, then unpack again', { skip: isRoot ? false : 'needs root' }, async () => {
  const t = tempRoot();
  try {
    const root = join(t.root, 'berth');
    // Random contents: gzip must not shrink the layer below the point where the child reports.
    const files = Array.from({ length: 200 }, (_, i) => ({ name: `d/f${i}`, content: randomBytes(10_000) }));
    const base = await makeTar([{ name: 'base', content: 'b' }]);
    const big = await makeTar([{ name: 'd/', type: 'directory' }, ...files]);
    const blobs = [gzip(base), gzip(big)];
    const diffIds = [sha256(base), sha256(big)];
    const work = join(t.root, 'work');
    mkdirSync(work);
    blobs.forEach((b, i) => writeFileSync(join(work, `l${i}`), b));
    // The child streams the second layer slowly and says when it is inside it.
    const script = join(t.root, 'slow.mts');
    writeFileSync(
      script,
      `
      import { readFileSync } from 'node:fs';
      import { Readable } from 'node:stream';
      import { openSnapshotter, unpackImage } from ${JSON.stringify(join(process.cwd(), 'src/snapshot/index.ts'))};
      const [root, work, d0, d1] = process.argv.slice(2);
      const sn = await openSnapshotter(root, { driver: 'overlayfs' });
      async function* slow(buf) {
        for (let i = 0; i < buf.length; i += 4096) {
          if (i === 65536) process.stdout.write('inside\\n');
          yield buf.subarray(i, i + 4096);
          await new Promise((r) => setTimeout(r, 5));
        }
      }
      const digests = ['sha256:' + '1'.repeat(64), 'sha256:' + '2'.repeat(64)];
      const store = { has: async () => true, readStream: (d) => Readable.from(slow(readFileSync(work + '/l' + digests.indexOf(d)))) };
      await unpackImage({ store, snapshotter: sn, manifest: { layers: digests.map((digest) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest, size: 1 })) }, config: { rootfs: { type: 'layers', diff_ids: [d0, d1] } } });
      process.stdout.write('finished\\n');
    `,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script, root, work, diffIds[0]!, diffIds[1]!], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        if (out.includes('inside')) resolve();
      });
      child.on('exit', () => reject(new Error(`child exited before the kill: ${out}`)));
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.once('close', r));
    assert.ok(!out.includes('finished'));

    const sn = await openSnapshotter(root, { driver: 'overlayfs' });
    try {
      const chains = chainIds(diffIds);
      const left = await sn.list();
      assert.equal(left.length, 2, 'the base layer committed and one abandoned unpack');
      assert.equal(left.find((s) => s.key === chains[0])?.kind, 'committed');
      assert.equal(left.find((s) => s.key !== chains[0])?.kind, 'active');

      const store = new MemoryStore();
      const layers = blobs.map((b) => ({
        mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
        digest: store.add(b),
        size: b.length,
      }));
      const r = await unpackImage({
        store,
        snapshotter: sn,
        manifest: { layers },
        config: { rootfs: { type: 'layers', diff_ids: diffIds } },
      });
      assert.deepEqual(
        r.layers.map((l) => l.status),
        ['exists', 'unpacked'],
      );
      assert.deepEqual(
        (await sn.list()).map((s) => [s.key, s.kind]),
        [
          [chains[0], 'committed'],
          [chains[1], 'committed'],
        ],
      );
      assert.equal(await sn.cleanup(), 0);
      assert.equal(readdirSync(sn.dir).filter((n) => !n.startsWith('.')).length, 2);
      assert.equal((await sn.usage(chains[1]!)).inodes, 202);
    } finally {
      sn.close();
    }
  } finally {
    t.cleanup();
  }
});
