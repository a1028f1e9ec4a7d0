// The engine's reading of a task's stdout URI (as containerd's shim reads
// it) before the shim gets it: paths and fifo:// stay FIFOs, file:// and
// binary:// pass with the task named in binary's fragment, anything else is
// refused naming the field.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { shimStdio } from '../../../src/engine/tasks/stdio-uri.js';

const io = (stdout: string, stderr = stdout, terminal = false) => ({ stdin: '', stdout, stderr, terminal });

test('paths and fifo:// are FIFOs, unchanged but for the scheme', () => {
  assert.deepEqual(shimStdio(io('/run/x/out', '/run/x/err'), 'ns', 'id'), io('/run/x/out', '/run/x/err'));
  assert.equal(shimStdio(io('fifo:///run/x/out', '/run/x/err'), 'ns', 'id').stdout, '/run/x/out');
  assert.deepEqual(shimStdio(io(''), 'ns', 'id'), io(''));
});

test('binary:// gets the task in its fragment; stderr follows stdout (none with a terminal)', () => {
  const got = shimStdio(io('binary:///usr/bin/logger?driver=json-file&path=%2Fa%20b#user'), 'default', 'c1');
  assert.equal(got.stdout, 'binary:///usr/bin/logger?driver=json-file&path=%2Fa%20b#default/c1');
  assert.equal(got.stderr, got.stdout);
  assert.equal(shimStdio(io('binary:///l', '', true), 'n', 'i').stderr, '');
  assert.equal(shimStdio(io('file:///var/log/c.log', ''), 'n', 'i').stdout, 'file:///var/log/c.log');
});

test('unknown schemes, hosts and missing paths are refused, naming stdout', () => {
  assert.throws(() => shimStdio(io('gopher:///x'), 'n', 'i'), /stdout: unknown STDIO scheme gopher/);
  assert.throws(
    () => shimStdio(io('binary://host/x'), 'n', 'i'),
    /stdout: a binary URI names a local path, not a host/,
  );
  assert.throws(() => shimStdio(io('file://'), 'n', 'i'), /stdout: file URI without a path/);
});
