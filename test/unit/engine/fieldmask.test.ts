// Label updates through a FieldMask, as containerd's services apply them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyLabels, labelUpdates } from '../../../src/engine/fieldmask.js';
import { isBerthError } from '../../../src/common/errors.js';

const cur = { a: '1', b: '2' };

test('no paths replaces every label', () => {
  const u = labelUpdates([], { c: '3' }, 'thing');
  assert.deepEqual(applyLabels(cur, u), { c: '3' });
});

test('"labels" replaces every label', () => {
  const u = labelUpdates(['labels'], { c: '3' }, 'thing');
  assert.deepEqual(applyLabels(cur, u), { c: '3' });
});

test('"labels.<key>" sets one key, or removes it when the request lacks it', () => {
  assert.deepEqual(applyLabels(cur, labelUpdates(['labels.b'], { b: '20', c: 'ignored' }, 'thing')), {
    a: '1',
    b: '20',
  });
  assert.deepEqual(applyLabels(cur, labelUpdates(['labels.a'], {}, 'thing')), { b: '2' });
  assert.deepEqual(applyLabels(cur, labelUpdates(['labels.x.y/z'], { 'x.y/z': 'v' }, 'thing')), {
    a: '1',
    b: '2',
    'x.y/z': 'v',
  });
});

test('other paths: accepted ones are returned, the rest are InvalidArgument naming the path and object', () => {
  const u = labelUpdates(['target', 'labels.a'], { a: '9' }, 'image "x"', ['target']);
  assert.deepEqual(u.rest, ['target']);
  assert.deepEqual(applyLabels(cur, u), { a: '9', b: '2' });
  assert.throws(
    () => labelUpdates(['size'], {}, 'content info sha256:x'),
    (e: unknown) =>
      isBerthError(e) &&
      e.code === 'invalid-argument' &&
      e.message === 'cannot update "size" field on content info sha256:x',
  );
  assert.throws(
    () => labelUpdates(['labels.'], {}, 'thing'),
    (e: unknown) => isBerthError(e) && e.code === 'invalid-argument',
  );
});
