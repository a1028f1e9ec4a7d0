import { test } from 'node:test';
import assert from 'node:assert/strict';
import { shortenOverlayOptions } from '../../../src/snapshot/mount.js';

const base = '/var/lib/berth-with-a-rather-long-root-directory-name/snapshots';

test('overlay options within one page are left alone', () => {
  const options = [
    'index=off',
    `lowerdir=${base}/2/fs:${base}/1/fs`,
    `upperdir=${base}/3/fs`,
    `workdir=${base}/3/work`,
  ];
  assert.deepEqual(shortenOverlayOptions(options), { options });
});

test('overlay options past one page become relative to the snapshots dir', () => {
  const lowers = Array.from({ length: 120 }, (_, i) => `${base}/${120 - i}/fs`);
  const options = ['index=off', `lowerdir=${lowers.join(':')}`, `upperdir=${base}/121/fs`, `workdir=${base}/121/work`];
  assert.ok(options.join(',').length > 4096);
  const r = shortenOverlayOptions(options);
  assert.equal(r.cwd, base);
  assert.equal(r.options[0], 'index=off');
  assert.equal(r.options[1], `lowerdir=${lowers.map((_, i) => `${120 - i}/fs`).join(':')}`);
  assert.equal(r.options[2], 'upperdir=121/fs');
  assert.equal(r.options[3], 'workdir=121/work');
  assert.ok(r.options.join(',').length <= 4095);
});

test('too many layers even for relative paths is a clear error', () => {
  const lowers = Array.from({ length: 800 }, (_, i) => `${base}/${100000 + i}/fs`);
  assert.throws(() => shortenOverlayOptions([`lowerdir=${lowers.join(':')}`]), /too many layers/);
});
