// The error family: errno kept as data, the kinds it stands for, and the
// three mappings (exit status, gRPC status, HTTP status) that programs and
// API servers use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import {
  BerthError,
  COMMAND_LINE,
  ERROR_CODES,
  GrpcStatus,
  errnoName,
  errnoOf,
  exitCodeOf,
  grpcStatusOf,
  httpStatusOf,
  kindOfErrno,
  kindOfGrpcStatus,
  systemError,
} from '../../../src/common/errors.js';

test('errno numbers have their Linux names', () => {
  assert.equal(errnoName(1), 'EPERM');
  assert.equal(errnoName(2), 'ENOENT');
  assert.equal(errnoName(28), 'ENOSPC');
  assert.equal(errnoName(99999), 'errno 99999');
});

test('a failed system call keeps its errno, its step and its kind', async () => {
  const missing = await fsp.readFile('/nonexistent/berth-errors-test').catch((e: unknown) => e);
  const e = systemError('image', 'read the index', missing, 'index');
  assert.equal(e.errno, 'ENOENT');
  assert.equal(e.code, 'not-found');
  assert.equal(e.step, 'read the index');
  assert.equal(e.field, 'index');
  assert.equal(e.cause, missing);
  assert.match(e.message, /^read the index: ENOENT/);
  assert.equal(errnoOf(e), 'ENOENT');
  // A kind is not an errno: a BerthError without one has none.
  assert.equal(errnoOf(new BerthError('image', 'not-found', 'x')), undefined);
  assert.equal(kindOfErrno('EPERM'), 'permission-denied');
  assert.equal(kindOfErrno('EEXIST'), 'already-exists');
  assert.equal(kindOfErrno('ENOSPC'), 'resource-exhausted');
  assert.equal(kindOfErrno(undefined), 'internal');
});

test('a library error raised again in the name of the program that embeds it', () => {
  const e = new BerthError('runtime', 'not-found', 'container "x" does not exist', { step: 'state' });
  const as = e.as('berth-engine');
  assert.equal(as.layer, 'berth-engine');
  assert.equal(as.code, 'not-found');
  assert.equal(as.step, 'state');
  assert.equal(String(as), 'berth-engine: container "x" does not exist');
  assert.equal(e.as('runtime'), e);
});

test('every kind has an exit status, a gRPC status and an HTTP status', () => {
  for (const kind of ERROR_CODES) {
    const e = new BerthError('berthd', kind, kind);
    assert.equal(exitCodeOf(e), 1, kind);
    assert.ok(Number.isInteger(grpcStatusOf(e)) && grpcStatusOf(e) > 0, kind);
    assert.ok(httpStatusOf(e) >= 400 && httpStatusOf(e) < 600, kind);
    // Reading a gRPC status back gives the kind (digest-mismatch travels as FAILED_PRECONDITION).
    assert.equal(kindOfGrpcStatus(grpcStatusOf(e)), kind === 'digest-mismatch' ? 'failed-precondition' : kind);
  }
  assert.equal(exitCodeOf(new BerthError('berth-ctr', 'invalid-argument', 'unknown flag', { step: COMMAND_LINE })), 2);
  assert.equal(exitCodeOf(new Error('plain')), 1);
  assert.equal(grpcStatusOf(new Error('plain')), GrpcStatus.INTERNAL);
  assert.equal(httpStatusOf(new Error('plain')), 500);
  assert.equal(grpcStatusOf(new BerthError('image', 'not-found', 'x')), 5);
  assert.equal(httpStatusOf(new BerthError('berthd', 'unimplemented', 'x')), 501);
});

test('the gRPC numbers are those of @grpc/grpc-js', async () => {
  const { status } = await import('@grpc/grpc-js');
  for (const [name, n] of Object.entries(GrpcStatus))
    assert.equal((status as unknown as Record<string, number>)[name], n, name);
});
