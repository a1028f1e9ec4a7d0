// containerd's filter syntax: the parser and the matcher, on the examples
// containerd documents and ctr users write, and on malformed input.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labelField, matchAny, parseFilters, type Adaptor } from '../../../src/engine/filters/parse.js';
import { isBerthError } from '../../../src/common/errors.js';

const image = {
  name: 'docker.io/library/busybox:latest',
  digest: 'sha256:abc',
  labels: { a: 'b', 'com.example.x': 'y z', empty: '' },
};
const field: Adaptor = (p) => {
  if (p[0] === 'name' && p.length === 1) return image.name;
  if (p[0] === 'target' && p[1] === 'digest') return image.digest;
  if (p[0] === 'labels') return labelField(image.labels, p);
  return undefined;
};
const m = (...f: string[]) => matchAny(parseFilters(f), field);

test('equality, inequality, presence', () => {
  assert.equal(m('name==docker.io/library/busybox:latest'), true);
  assert.equal(m('name==busybox'), false);
  assert.equal(m('name!=busybox'), true);
  assert.equal(m('labels.a'), true);
  assert.equal(m('labels.nope'), false);
  assert.equal(m('labels.empty'), true, 'a label with an empty value is present');
  assert.equal(m('labels.nope!=x'), true, 'an absent field is not equal to anything');
});

test('quoted field paths and values', () => {
  assert.equal(m('labels."com.example.x"=="y z"'), true);
  assert.equal(m('labels."com.example.x"==y'), false);
  assert.equal(m('labels.a=="b"'), true);
  assert.equal(m('labels."a"=="\\x62"'), true, 'Go escapes in quoted values');
});

test('regular expressions, plain and /slashed/', () => {
  assert.equal(m('name~=busybox'), true);
  assert.equal(m('name~=^busybox'), false);
  assert.equal(m('name~=/^docker\\.io/'), true);
  assert.equal(m('target.digest~=^sha256:'), true);
});

test('a comma is a conjunction; several filters are a disjunction', () => {
  assert.equal(m('name~=busybox,labels.a==b'), true);
  assert.equal(m('name~=busybox,labels.a==c'), false);
  assert.equal(m('name==x', 'labels.a==b'), true);
  assert.equal(m('name==x', 'labels.a==c'), false);
  assert.equal(m(), true, 'no filter keeps everything');
  assert.equal(m(''), true, 'an empty filter string is no filter');
});

test('whitespace around selectors and operators', () => {
  assert.equal(m(' name == docker.io/library/busybox:latest , labels.a '), true);
});

test('malformed filters are InvalidArgument naming the input', () => {
  for (const bad of [
    'name==',
    '==x',
    'name=x',
    'labels."unterminated',
    'name~=(',
    'name==a b',
    'labels.',
    '1abc==x',
    'name==x,',
  ]) {
    assert.throws(
      () => parseFilters([bad]),
      (e: unknown) =>
        isBerthError(e) && e.code === 'invalid-argument' && e.message.includes('filters') && e.field === 'filters',
      bad,
    );
  }
});
