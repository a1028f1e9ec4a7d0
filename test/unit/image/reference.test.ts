import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseReference, parseDockerRef, formatReference, familiarString, normalizeName, pullTarget, validateDigest,
} from '../../../src/image/reference.js';
import { BerthError } from '../../../src/common/errors.js';

const D256 = 'sha256:' + 'a'.repeat(64);
const D512 = 'sha512:' + 'b'.repeat(128);

test('normalises names the way docker pull does', () => {
  const cases: [string, string][] = [
    ['busybox', 'docker.io/library/busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36'],
    ['library/busybox', 'docker.io/library/busybox:latest'],
    ['docker.io/busybox', 'docker.io/library/busybox:latest'],
    ['index.docker.io/busybox', 'docker.io/library/busybox:latest'],
    ['index.docker.io/library/busybox:musl', 'docker.io/library/busybox:musl'],
    ['user/app', 'docker.io/user/app:latest'],
    ['user/app/sub', 'docker.io/user/app/sub:latest'],
    ['gcr.io/project/app:v1', 'gcr.io/project/app:v1'],
    ['localhost/app', 'localhost/app:latest'],
    ['localhost:5000/app', 'localhost:5000/app:latest'],
    ['localhost:5000/app:v2', 'localhost:5000/app:v2'],
    ['127.0.0.1:5000/a/b:c', '127.0.0.1:5000/a/b:c'],
    ['[::1]:5000/app:tag', '[::1]:5000/app:tag'],
    ['registry.example.com:443/team/app', 'registry.example.com:443/team/app:latest'],
    ['Registry.Example.com/app', 'Registry.Example.com/app:latest'],
    ['a.b-c__d', 'docker.io/library/a.b-c__d:latest'],
  ];
  for (const [input, want] of cases) assert.equal(normalizeName(input), want, input);
});

test('digests, and tag plus digest', () => {
  const r = parseReference(`busybox@${D256}`);
  assert.deepEqual(r, { domain: 'docker.io', path: 'library/busybox', digest: D256 });
  assert.equal(normalizeName(`busybox@${D256}`), `docker.io/library/busybox@${D256}`);
  const both = parseDockerRef(`localhost:5000/app:v1@${D512}`);
  assert.equal(both.tag, 'v1');
  assert.equal(both.digest, D512);
  assert.equal(pullTarget(both), D512);
  assert.equal(formatReference(both), `localhost:5000/app:v1@${D512}`);
  assert.equal(pullTarget(parseDockerRef('busybox')), 'latest');
});

test('familiar names drop docker.io and library/', () => {
  assert.equal(familiarString(parseDockerRef('busybox')), 'busybox:latest');
  assert.equal(familiarString(parseDockerRef('docker.io/library/busybox:1')), 'busybox:1');
  assert.equal(familiarString(parseDockerRef('user/app')), 'user/app:latest');
  assert.equal(familiarString(parseDockerRef('docker.io/library/a/b')), 'library/a/b:latest');
  assert.equal(familiarString(parseDockerRef('localhost:5000/app')), 'localhost:5000/app:latest');
  assert.equal(familiarString(parseReference(`busybox@${D256}`)), `busybox@${D256}`);
});

function rejects(input: string, pattern: RegExp): void {
  assert.throws(() => parseReference(input), (e: unknown) => {
    assert.ok(e instanceof BerthError, `${input}: ${String(e)}`);
    assert.equal(e.code, 'invalid-argument');
    assert.ok(e.message.includes(`"${input}"`), `message names the reference: ${e.message}`);
    assert.match(e.message, pattern, input);
    return true;
  }, input);
}

test('invalid references are refused with a message naming them', () => {
  rejects('', /empty/);
  rejects('Busybox', /must be lowercase/);
  rejects('docker.io/User/app', /must be lowercase/);
  rejects('busybox:', /invalid tag/);
  rejects('busybox:-bad', /invalid tag/);
  rejects(`busybox:${'t'.repeat(129)}`, /invalid tag/);
  rejects('busybox@sha256:abc', /sha256 needs 64/);
  rejects(`busybox@md5:${'a'.repeat(32)}`, /unsupported digest algorithm/);
  rejects(`busybox@sha256:${'A'.repeat(64)}`, /hex/);
  rejects('a'.repeat(64), /64-byte hexadecimal/);
  rejects('foo//bar', /invalid repository name/);
  rejects('foo/bar/', /invalid repository name/);
  rejects('-foo', /invalid repository name/);
  rejects('foo..bar', /invalid repository name/);
  rejects('foo___bar', /invalid repository name/);
  rejects('foo_bar.com:8080/x', /invalid registry host/);
  rejects(':tag', /missing repository name/);
  rejects('http://docker.io/busybox', /invalid/);
  rejects('-host.com/app', /invalid registry host|invalid repository name/);
  rejects(`host.com/${'a'.repeat(250)}`, /255/);
  rejects('foo bar', /invalid/);
});

test('separators follow the grammar', () => {
  for (const ok of ['a-b', 'a--b', 'a__b', 'a.b', 'a_b', 'a0/b1-c2']) assert.doesNotThrow(() => parseReference(ok), ok);
  for (const bad of ['a___b', 'a.-b', 'a-', '_a', 'a/.b']) assert.throws(() => parseReference(bad), bad);
});

test('validateDigest', () => {
  assert.equal(validateDigest(D256), D256);
  assert.equal(validateDigest(D512), D512);
  assert.throws(() => validateDigest('sha256'), /algorithm/);
  assert.throws(() => validateDigest('sha512:' + 'a'.repeat(64)), /128/);
});
