import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseReference,
  parseDockerRef,
  formatReference,
  familiarString,
  normalizeName,
  pullTarget,
  validateDigest,
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
  assert.throws(
    () => parseReference(input),
    (e: unknown) => {
      assert.ok(e instanceof BerthError, `${input}: ${String(e)}`);
      assert.equal(e.code, 'invalid-argument');
      assert.ok(e.message.includes(`"${input}"`), `message names the reference: ${e.message}`);
      assert.match(e.message, pattern, input);
      return true;
    },
    input,
  );
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

// Cases from the behaviour of Docker's reference package (distribution/reference).
test('docker reference package cases: valid and invalid names', () => {
  const valid = [
    'docker/docker',
    'library/debian',
    'debian',
    'docker.io/docker/docker',
    'docker.io/library/debian',
    'docker.io/debian',
    'index.docker.io/docker/docker',
    'index.docker.io/library/debian',
    'index.docker.io/debian',
    '127.0.0.1:5000/docker/docker',
    '127.0.0.1:5000/library/debian',
    '127.0.0.1:5000/debian',
    '192.168.0.1',
    '192.168.0.1:80',
    '192.168.0.1:8/debian',
    '192.168.0.2:25000/debian',
    'thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev',
    '[fc00::1]:5000/docker',
    '[fc00::1]:5000/docker/docker',
    '[fc00:1:2:3:4:5:6:7]:5000/library/debian',
    'docker.io/' + '1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a',
    'Docker/docker',
    'DOCKER/docker',
    'docker-rules/docker',
    'docker---rules/docker',
    'doc/docker',
    'd/docker',
    'jess/t',
    'dock__er/docker',
  ];
  for (const v of valid) assert.doesNotThrow(() => parseReference(v), v);
  const invalid = [
    'https://github.com/docker/docker',
    'docker/Docker',
    '-docker',
    '-docker/docker',
    '-docker.io/docker/docker',
    'docker///docker',
    'docker.io/docker/Docker',
    'docker.io/docker///docker',
    '[fc00::1]',
    '[fc00::1]:5000',
    'fc00::1:5000/debian',
    '[fe80::1%eth0]:5000/debian',
    '[2001:db8:3:4::192.0.2.33]:5000/debian',
    '1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a',
    'docker-/docker',
    '-docker-/docker',
    '____/____',
    '_docker/_docker',
    'dock..er/docker',
    'dock_.er/docker',
    'dock-.er/docker',
    'docker/',
    'this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255_'.repeat(4) + '/docker',
  ];
  for (const v of invalid) assert.throws(() => parseReference(v), BerthError, v);
});

test('docker reference package cases: domain, path and familiar name', () => {
  const cases: [string, string, string, string][] = [
    // input, domain, path, familiar
    ['fooo/bar', 'docker.io', 'fooo/bar', 'fooo/bar'],
    ['index.docker.io/fooo/bar', 'docker.io', 'fooo/bar', 'fooo/bar'],
    ['library/ubuntu', 'docker.io', 'library/ubuntu', 'ubuntu'],
    ['docker.io/other/library', 'docker.io', 'other/library', 'other/library'],
    ['127.0.0.1:8000/private/moonbase', '127.0.0.1:8000', 'private/moonbase', '127.0.0.1:8000/private/moonbase'],
    ['127.0.0.1:8000/privatebase', '127.0.0.1:8000', 'privatebase', '127.0.0.1:8000/privatebase'],
    ['example.com:8000/privatebasee', 'example.com:8000', 'privatebasee', 'example.com:8000/privatebasee'],
    ['index.docker.io/library/ubuntu-12.04-base', 'docker.io', 'library/ubuntu-12.04-base', 'ubuntu-12.04-base'],
    ['docker.io/foo', 'docker.io', 'library/foo', 'foo'],
    ['library/foo/bar', 'docker.io', 'library/foo/bar', 'library/foo/bar'],
    ['store/foo/bar', 'docker.io', 'store/foo/bar', 'store/foo/bar'],
    ['Foo/bar', 'Foo', 'bar', 'Foo/bar'],
    ['FOO/bar', 'FOO', 'bar', 'FOO/bar'],
    ['test.com/foo', 'test.com', 'foo', 'test.com/foo'],
    ['test_com/foo', 'docker.io', 'test_com/foo', 'test_com/foo'],
    ['test-com:8080/foo', 'test-com:8080', 'foo', 'test-com:8080/foo'],
    ['xn--n3h.com:18080/foo', 'xn--n3h.com:18080', 'foo', 'xn--n3h.com:18080/foo'],
    [
      'dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9',
      'docker.io',
      'library/dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9',
      'dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9',
    ],
  ];
  for (const [input, domain, path, familiar] of cases) {
    const r = parseReference(input);
    assert.equal(r.domain, domain, input);
    assert.equal(r.path, path, input);
    assert.equal(familiarString(r), familiar, input);
  }
  const short = 'busybox:latest@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa';
  assert.equal(formatReference(parseReference(short)), 'docker.io/library/' + short);
  assert.equal(familiarString(parseReference(short)), short);
});
