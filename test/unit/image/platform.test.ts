import { test } from 'node:test';
import assert from 'node:assert/strict';
import { arch } from 'node:os';
import {
  hostPlatform,
  normalizePlatform,
  parsePlatform,
  platformScore,
  selectManifest,
  formatPlatform,
} from '../../../src/image/platform.js';
import type { Descriptor } from '../../../src/image/content/types.js';
import { BerthError } from '../../../src/common/errors.js';

const D = (c: string) => 'sha256:' + c.repeat(64);
const entry = (c: string, os: string, architecture: string, variant?: string): Descriptor => ({
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: D(c),
  size: 1,
  platform: variant ? { os, architecture, variant } : { os, architecture },
});

test('host platform is normalised', () => {
  const h = hostPlatform();
  assert.equal(h.os, 'linux');
  const want = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386' }[arch()];
  if (want) assert.equal(h.architecture, want);
  if (h.architecture === 'arm64') assert.equal(h.variant, '');
});

test('normalisation: aliases and default variants', () => {
  assert.deepEqual(normalizePlatform({ os: 'Linux', architecture: 'x86_64' }), {
    os: 'linux',
    architecture: 'amd64',
    variant: '',
  });
  assert.deepEqual(normalizePlatform({ os: 'linux', architecture: 'aarch64' }), {
    os: 'linux',
    architecture: 'arm64',
    variant: '',
  });
  assert.deepEqual(normalizePlatform({ os: 'linux', architecture: 'arm64', variant: 'v8' }), {
    os: 'linux',
    architecture: 'arm64',
    variant: '',
  });
  assert.deepEqual(normalizePlatform({ os: 'linux', architecture: 'arm64', variant: '8' }), {
    os: 'linux',
    architecture: 'arm64',
    variant: '',
  });
  assert.deepEqual(normalizePlatform({ os: 'linux', architecture: 'arm' }), {
    os: 'linux',
    architecture: 'arm',
    variant: 'v7',
  });
  assert.deepEqual(normalizePlatform({ os: 'linux', architecture: 'armhf' }), {
    os: 'linux',
    architecture: 'arm',
    variant: 'v7',
  });
  assert.deepEqual(normalizePlatform({ os: 'linux', architecture: 'armel' }), {
    os: 'linux',
    architecture: 'arm',
    variant: 'v6',
  });
  assert.deepEqual(normalizePlatform({ os: 'linux', architecture: 'i386' }), {
    os: 'linux',
    architecture: '386',
    variant: '',
  });
  assert.deepEqual(parsePlatform('linux/arm/v6'), { os: 'linux', architecture: 'arm', variant: 'v6' });
  assert.deepEqual(parsePlatform('linux/arm64/v8'), { os: 'linux', architecture: 'arm64', variant: '' });
  assert.equal(parsePlatform('arm64').architecture, 'arm64');
  assert.throws(() => parsePlatform('linux//x'), /invalid platform/);
  assert.equal(formatPlatform({ os: 'linux', architecture: 'arm', variant: 'v7' }), 'linux/arm/v7');
});

test('scores: exact beats compatible, foreign never matches', () => {
  const arm64 = parsePlatform('linux/arm64');
  assert.equal(platformScore(arm64, { os: 'linux', architecture: 'arm64', variant: 'v8' }), 0);
  assert.equal(platformScore(arm64, { os: 'linux', architecture: 'arm64' }), 0);
  assert.ok((platformScore(arm64, { os: 'linux', architecture: 'arm', variant: 'v7' }) ?? -1) > 0);
  assert.equal(platformScore(arm64, { os: 'windows', architecture: 'arm64' }), undefined);
  const armv6 = parsePlatform('linux/arm/v6');
  assert.equal(
    platformScore(armv6, { os: 'linux', architecture: 'arm', variant: 'v7' }),
    undefined,
    'v6 host cannot run v7',
  );
  const armv7 = parsePlatform('linux/arm/v7');
  assert.equal(platformScore(armv7, { os: 'linux', architecture: 'arm', variant: 'v6' }), 1);
  const amd = parsePlatform('linux/amd64');
  assert.equal(platformScore(amd, { os: 'linux', architecture: 'amd64', variant: 'v3' }), undefined);
  assert.equal(platformScore(parsePlatform('linux/amd64/v3'), { os: 'linux', architecture: 'amd64' }), 2);
  assert.equal(platformScore(amd, { os: 'linux', architecture: '386' }), undefined);
});

test('selectManifest picks the best entry and explains a miss', () => {
  const list = [
    entry('1', 'unknown', 'unknown'),
    entry('2', 'linux', 'arm', 'v6'),
    entry('3', 'linux', 'arm', 'v7'),
    entry('4', 'linux', 'amd64'),
    entry('5', 'linux', 'arm64', 'v8'),
    entry('6', 'windows', 'amd64'),
  ];
  assert.equal(selectManifest(list, parsePlatform('linux/amd64')).digest, D('4'));
  assert.equal(selectManifest(list, parsePlatform('linux/arm64')).digest, D('5'));
  assert.equal(selectManifest(list, parsePlatform('linux/arm/v7')).digest, D('3'));
  assert.equal(selectManifest(list, parsePlatform('linux/arm/v8')).digest, D('3'), 'v8 32-bit falls back to v7');
  assert.equal(
    selectManifest(
      list.filter((e) => e.digest !== D('5')),
      parsePlatform('linux/arm64'),
    ).digest,
    D('3'),
  );
  assert.equal(selectManifest(list, parsePlatform('windows/amd64')).digest, D('6'));
  assert.throws(
    () => selectManifest(list, parsePlatform('linux/s390x')),
    (e: unknown) => {
      assert.ok(e instanceof BerthError);
      assert.equal(e.code, 'not-found');
      assert.match(
        e.message,
        /no manifest for platform linux\/s390x \(available: linux\/arm\/v6, linux\/arm\/v7, linux\/amd64, linux\/arm64\/v8, windows\/amd64\)/,
      );
      return true;
    },
  );
});
