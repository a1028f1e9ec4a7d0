// Files of a MiB and more have their data written in the thread pool, in
// batches, while the layer is still being read (src/snapshot/unpack/pooled.ts):
// their bytes, owner, mode and times must land exactly as the tar says, the
// files around them too, and a layer cut inside such a file must fail
// cleanly and leave no snapshot.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  openSnapshotter,
  unpackLayer,
  chainIds,
  mountAll,
  unmountAll,
  type Snapshotter,
} from '../../../src/snapshot/index.js';
import { isBerthError } from '../../../src/common/errors.js';
import { gzip, makeTar, sha256, T0, tempRoot } from './layers.js';

const isRoot = process.getuid?.() === 0;
const MiB = 1 << 20;

for (const driver of ['overlayfs', 'native'] as const) {
  describe(`large files in a layer (${driver})`, { skip: isRoot ? false : 'needs root' }, () => {
    const t = tempRoot('berth-large-files-');
    let sn: Snapshotter;
    before(async () => {
      sn = await openSnapshotter(t.root, { driver });
    });
    after(() => {
      sn?.close();
      t.cleanup();
    });

    test('bytes, owner, mode and times of files written in the thread pool', async () => {
      // Sizes around the batch (1 MiB) and the bound on bytes in flight (8 MiB).
      const big = randomBytes(9 * MiB + 12345);
      const exact = randomBytes(MiB);
      const justUnder = randomBytes(MiB - 1);
      const tarball = await makeTar([
        { name: 'big.bin', content: big, uid: 1000, gid: 1001, mode: 0o640, mtime: T0 },
        { name: 'small.txt', content: 'between\n' },
        { name: 'exact.bin', content: exact, mode: 0o755 },
        { name: 'under.bin', content: justUnder },
      ]);
      const diffId = sha256(tarball);
      const chainId = chainIds([diffId])[0]!;
      const r = await unpackLayer({
        snapshotter: sn,
        chainId,
        diffId,
        // Small chunks: a file's data arrives in many pieces, as from a gunzip.
        open: () => Readable.from(chunks(gzip(tarball), 64 * 1024)),
      });
      assert.equal(r.status, 'unpacked');
      const dir = join(t.root, 'view');
      mkdirSync(dir);
      await mountAll(await sn.view('view-large', chainId), dir);
      try {
        assert.ok(readFileSync(join(dir, 'big.bin')).equals(big), 'big.bin byte for byte');
        assert.ok(readFileSync(join(dir, 'exact.bin')).equals(exact), 'exact.bin byte for byte');
        assert.ok(readFileSync(join(dir, 'under.bin')).equals(justUnder), 'under.bin byte for byte');
        assert.equal(readFileSync(join(dir, 'small.txt'), 'utf8'), 'between\n');
        const st = statSync(join(dir, 'big.bin'));
        assert.deepEqual([st.uid, st.gid, st.mode & 0o7777, st.size], [1000, 1001, 0o640, big.length]);
        assert.equal(st.mtime.getTime(), T0.getTime());
        assert.equal(statSync(join(dir, 'exact.bin')).mode & 0o7777, 0o755);
      } finally {
        await unmountAll(dir);
        await sn.remove('view-large');
      }
    });

    test('a layer cut inside a large file fails and leaves no snapshot', async () => {
      const tarball = await makeTar([{ name: 'cut.bin', content: randomBytes(4 * MiB) }]);
      const diffId = sha256(tarball);
      const chainId = chainIds([sha256(Buffer.from('cut')), diffId])[1]!;
      const before = (await sn.list()).map((s) => s.key).sort();
      await assert.rejects(
        unpackLayer({
          snapshotter: sn,
          chainId,
          diffId,
          open: () => Readable.from(chunks(tarball.subarray(0, 3 * MiB), 64 * 1024)),
        }),
        (e: unknown) => {
          assert.ok(isBerthError(e), `a BerthError, got ${String(e)}`);
          assert.equal(e.code, 'invalid-argument');
          assert.match(e.message, /corrupt or truncated|unexpected end/i);
          return true;
        },
      );
      assert.deepEqual((await sn.list()).map((s) => s.key).sort(), before);
    });
  });
}

function chunks(b: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i += size) out.push(b.subarray(i, i + size));
  return out;
}
