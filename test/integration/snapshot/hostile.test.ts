// Hostile layers: each must be refused with an error naming the entry, write
// nothing outside the snapshot (a canary directory outside is checked), and
// leave no snapshot or directory behind.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { Readable } from 'node:stream';
import { execFileSync } from 'node:child_process';
import { openSnapshotter, unpackLayer, chainIds, type Snapshotter } from '../../../src/snapshot/index.js';
import { isBerthError } from '../../../src/common/errors.js';
import { gzip, haveAttrTools, makeTar, sha256, tempRoot, type TarEntry } from './layers.js';

const isRoot = process.getuid?.() === 0;

for (const driver of ['overlayfs', 'native'] as const) {
  describe(`hostile layers are refused (${driver})`, { skip: isRoot ? false : 'needs root' }, () => {
    const t = tempRoot();
    const canary = mkdtempSync(join(tmpdir(), 'berth-canary-'));
    let sn: Snapshotter;
    let baseChain: string;

    before(async () => {
      writeFileSync(join(canary, 'passwd'), 'canary\n');
      sn = await openSnapshotter(t.root, { driver });
      // The base layer plants a symlink to the canary dir, and a plain file.
      const base = await makeTar([
        { name: 'planted', type: 'symlink', linkname: canary },
        { name: 'etc/', type: 'directory' },
        { name: 'etc/passwd', content: 'image passwd\n' },
      ]);
      baseChain = chainIds([sha256(base)])[0]!;
      const r = await unpackLayer({
        snapshotter: sn,
        chainId: baseChain,
        diffId: sha256(base),
        open: () => Readable.from([base]),
      });
      assert.equal(r.status, 'unpacked');
    });
    after(() => {
      sn?.close();
      t.cleanup();
      rmSync(canary, { recursive: true, force: true });
    });

    async function refuse(
      entries: TarEntry[],
      pattern: RegExp,
      opts: { code?: string; diffId?: string; raw?: Buffer; limits?: { maxEntries?: number; maxBytes?: number } } = {},
    ): Promise<void> {
      const tarball = opts.raw ?? (await makeTar(entries));
      const diffId = opts.diffId ?? sha256(tarball);
      const chainId = chainIds([sha256(Buffer.from('base')), diffId])[1]!;
      const before = readdirSync(sn.dir).sort();
      await assert.rejects(
        unpackLayer({
          snapshotter: sn,
          parent: baseChain,
          chainId,
          diffId,
          open: () => Readable.from([gzip(tarball)]),
          limits: opts.limits,
        }),
        (e: unknown) => {
          assert.ok(isBerthError(e), `a BerthError, got ${String(e)}`);
          assert.match(e.message, pattern);
          if (opts.code) assert.equal(e.code, opts.code);
          return true;
        },
      );
      // nothing outside, nothing left
      assert.deepEqual(readdirSync(canary), ['passwd']);
      assert.equal(readFileSync(join(canary, 'passwd'), 'utf8'), 'canary\n');
      assert.deepEqual(
        (await sn.list()).map((s) => s.key),
        [baseChain],
      );
      assert.deepEqual(readdirSync(sn.dir).sort(), before);
    }

    test('".." that climbs out of the root', async () => {
      await refuse(
        [
          { name: 'ok', content: 'x' },
          { name: 'a/../../../../../../' + canary.slice(1) + '/passwd', content: 'pwned' },
        ],
        /"a\/\.\.\/.*escapes the root/,
      );
    });

    test('absolute path', async () => {
      await refuse([{ name: canary + '/passwd', content: 'pwned' }], /absolute path refused/);
    });

    test('symlink, then a write through it, in the same layer', async () => {
      await refuse(
        [
          { name: 'evil', type: 'symlink', linkname: canary },
          { name: 'evil/passwd', content: 'pwned' },
        ],
        /layer entry "evil\/passwd": "evil" is a symlink: refusing to write through it/,
        { code: 'permission-denied' },
      );
    });

    test('symlink planted by a lower layer, written through by this one', async () => {
      await refuse(
        [{ name: 'planted/passwd', content: 'pwned' }],
        driver === 'overlayfs'
          ? /"planted\/passwd": "planted" is a symlink in a lower layer/
          : /"planted\/passwd": "planted" is a symlink/,
      );
    });

    test('directory replaced by a symlink, then written through', async () => {
      await refuse(
        [
          { name: 'd/', type: 'directory' },
          { name: 'd/one', content: '1' },
          { name: 'd', type: 'symlink', linkname: canary },
          { name: 'd/passwd', content: 'pwned' },
        ],
        /"d" is a symlink/,
      );
    });

    test('PAX path and linkpath records are checked like names', async () => {
      await refuse(
        [{ name: 'innocent', content: 'pwned', pax: { path: '../../../../../..' + canary + '/passwd' } }],
        /escapes the root/,
      );
      await refuse(
        [{ name: 'innocent', type: 'link', linkname: 'etc/passwd', pax: { linkpath: '/etc/passwd' } }],
        /"innocent": absolute hard link target refused/,
      );
    });

    test('hard link to an absolute host path', async () => {
      await refuse([{ name: 'hl', type: 'link', linkname: '/etc/passwd' }], /"hl": absolute hard link target refused/);
    });

    test('hard link that climbs out', async () => {
      await refuse([{ name: 'hl', type: 'link', linkname: '../../../../../../../etc/passwd' }], /escapes the root/);
    });

    test('hard link through a planted symlink', async () => {
      await refuse([{ name: 'hl', type: 'link', linkname: 'planted/passwd' }], /"planted" is a symlink/);
    });

    test('whiteout through a planted symlink deletes nothing outside', async () => {
      await refuse([{ name: 'planted/.wh.passwd', content: '' }], /"planted" is a symlink/);
    });

    test('opaque whiteout through a planted symlink, or above the root, empties nothing outside', async () => {
      await refuse([{ name: 'planted/.wh..wh..opq', content: '' }], /"planted" is a symlink/);
      await refuse([{ name: '../.wh..wh..opq', content: '' }], /escapes the root/);
    });

    test(
      'xattr names cannot smuggle lines into the setfattr batch',
      { skip: haveAttrTools() ? false : 'needs getfattr (package attr)' },
      async () => {
        await refuse(
          [{ name: 'f', content: 'x', pax: { [`SCHILY.xattr.user.a\n# file: ${canary}/passwd\nuser.pwned`]: 'x' } }],
          /"f": bad extended attribute name/,
        );
        assert.equal(execFileSync('getfattr', ['-d', join(canary, 'passwd')], { encoding: 'utf8' }), '');
      },
    );

    test('whiteout of ".."', async () => {
      await refuse([{ name: 'd/.wh...', content: '' }], /whiteout of an invalid name/);
      await refuse([{ name: 'etc/.wh...', content: '' }], /whiteout of an invalid name/);
    });

    test('diff id mismatch', async () => {
      await refuse(
        [{ name: 'f', content: 'x' }],
        /diff id is sha256:[0-9a-f]{64}, the image config says sha256:0{64}/,
        { code: 'digest-mismatch', diffId: 'sha256:' + '0'.repeat(64) },
      );
    });

    test('truncated stream', async () => {
      const full = await makeTar([{ name: 'big', content: Buffer.alloc(100_000, 1) }]);
      await refuse([], /corrupt or truncated|unexpected end/i, {
        raw: full.subarray(0, 20_000),
        code: 'invalid-argument',
      });
    });

    test('absurd entry count and size are bounded', async () => {
      await refuse(
        [
          { name: 'a', content: '' },
          { name: 'b', content: '' },
          { name: 'c', content: '' },
        ],
        /more than 2 entries/,
        { limits: { maxEntries: 2 } },
      );
      await refuse([{ name: 'a', content: Buffer.alloc(64 * 1024) }], /larger than the limit/, {
        limits: { maxBytes: 10_000 },
      });
    });

    test('a clean layer still unpacks afterwards', async () => {
      const ok = await makeTar([{ name: 'etc/passwd', content: 'new\n' }]);
      const chainId = chainIds([baseChain, sha256(ok)])[1]!;
      const r = await unpackLayer({
        snapshotter: sn,
        parent: baseChain,
        chainId,
        diffId: sha256(ok),
        open: () => Readable.from([ok]),
      });
      assert.equal(r.status, 'unpacked');
      await sn.remove(chainId);
    });
  });
}
