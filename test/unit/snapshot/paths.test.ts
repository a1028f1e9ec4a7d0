import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chainId, chainIds } from '../../../src/snapshot/chainid.js';
import { entryComponents, whiteoutOf } from '../../../src/snapshot/unpack/paths.js';
import { compressionOf } from '../../../src/common/compression.js';
import { decodePax } from '../../../src/snapshot/unpack/xattrs.js';

const d = (c: string): string => 'sha256:' + c.repeat(64);

test('chain ids: the first is the diff id, then sha256 of "<parent chain> <diff id>"', () => {
  const ids = [d('a'), d('b'), d('c')];
  const c1 =
    'sha256:' +
    createHash('sha256')
      .update(`${d('a')} ${d('b')}`)
      .digest('hex');
  const c2 =
    'sha256:' +
    createHash('sha256')
      .update(`${c1} ${d('c')}`)
      .digest('hex');
  assert.deepEqual(chainIds(ids), [d('a'), c1, c2]);
  assert.equal(chainId(ids), c2);
  assert.deepEqual(chainIds([]), []);
  assert.throws(() => chainId([]), /no layers/);
  assert.throws(() => chainIds([d('a'), 'sha256:xyz']), /diff id 1 is not a digest/);
});

test('chain ids agree with sha256sum(1) over "<parent> <diff>"', () => {
  const a = 'sha256:' + createHash('sha256').update('layer0').digest('hex');
  const b = 'sha256:' + createHash('sha256').update('layer1').digest('hex');
  const expected = execFileSync('sha256sum', { input: `${a} ${b}`, encoding: 'utf8' }).split(' ')[0];
  assert.equal(chainId([a, b]), `sha256:${expected}`);
});

test('entry names become components relative to the root', () => {
  assert.deepEqual(entryComponents('a/b/c'), ['a', 'b', 'c']);
  assert.deepEqual(entryComponents('./a//b/./c/'), ['a', 'b', 'c']);
  assert.deepEqual(entryComponents('a/x/../b'), ['a', 'b']);
  assert.deepEqual(entryComponents('./'), []);
  assert.deepEqual(entryComponents('.'), []);
});

test('hostile names are refused with the entry named', () => {
  assert.throws(() => entryComponents('/etc/passwd'), /layer entry "\/etc\/passwd": absolute path refused/);
  assert.throws(() => entryComponents('../x'), /escapes the root/);
  assert.throws(() => entryComponents('a/../../x'), /escapes the root/);
  assert.throws(() => entryComponents('./..'), /escapes the root/);
  assert.throws(() => entryComponents('a\0b'), /NUL/);
  assert.throws(() => entryComponents(''), /empty/);
  assert.throws(() => entryComponents('x'.repeat(256)), /longer than 255/);
  assert.throws(() => entryComponents('a/'.repeat(2100)), /longer than 4096/);
  assert.throws(
    () => entryComponents('/etc/passwd', 'hard link target', 'hl'),
    /layer entry "hl": absolute hard link target refused/,
  );
});

test('whiteouts are recognised by their last component', () => {
  assert.deepEqual(whiteoutOf('.wh.foo'), { kind: 'whiteout', name: 'foo' });
  assert.deepEqual(whiteoutOf('.wh..wh..opq'), { kind: 'opaque' });
  assert.deepEqual(whiteoutOf('.wh..wh.plnk'), { kind: 'meta' });
  assert.equal(whiteoutOf('foo.wh.'), undefined);
  assert.equal(whiteoutOf('.whfoo'), undefined);
});

test('compression is told by magic bytes', () => {
  assert.equal(compressionOf(Buffer.from([0x1f, 0x8b, 8, 0])), 'gzip');
  assert.equal(compressionOf(Buffer.from([0x28, 0xb5, 0x2f, 0xfd])), 'zstd');
  assert.equal(compressionOf(Buffer.from('ustar')), 'none');
  assert.equal(compressionOf(Buffer.alloc(0)), 'none');
});

test('PAX records keep binary xattr values byte for byte', () => {
  const rec = (k: string, v: Buffer): Buffer => {
    const body = Buffer.concat([Buffer.from(` ${k}=`), v, Buffer.from('\n')]);
    let len = body.length + 1;
    while (String(len).length + body.length !== len) len = String(len).length + body.length;
    return Buffer.concat([Buffer.from(String(len)), body]);
  };
  const cap = Buffer.from([0x01, 0x00, 0x00, 0x02, 0xff, 0xfe, 0x80, 0x00]);
  const buf = Buffer.concat([
    rec('path', Buffer.from('dír/ñame')),
    rec('SCHILY.xattr.security.capability', cap),
    rec('mtime', Buffer.from('1.5')),
  ]);
  const pax = decodePax(buf);
  assert.equal(pax.path, 'dír/ñame');
  assert.equal(pax.mtime, '1.5');
  assert.deepEqual(Buffer.from(pax['SCHILY.xattr.security.capability']!, 'latin1'), cap);
});
