import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseProcess } from '../../../src/runtime/spec/validate.js';
import { BerthError } from '../../../src/common/errors.js';

const good = () => ({ user: { uid: 1000, gid: 1000 }, args: ['ls', '-l'], cwd: '/tmp', env: ['A=1'], terminal: false });

function fails(p: unknown, field: string, message: RegExp): void {
  assert.throws(
    () => parseProcess(p),
    (e: unknown) => {
      assert.ok(e instanceof BerthError);
      assert.equal(e.code, 'invalid-argument');
      assert.equal(e.field, field || undefined);
      assert.match(e.message, message);
      return true;
    },
  );
}

test('parseProcess accepts an exec process.json and drops unknown fields', () => {
  const p = parseProcess({ ...good(), extra: 1 }) as unknown as Record<string, unknown>;
  assert.deepEqual(p.args, ['ls', '-l']);
  assert.equal(p.extra, undefined);
});

test('parseProcess names fields relative to the process, in process.json', () => {
  fails({ ...good(), args: [] }, 'args', /^process\.json: args: must be a non-empty array of strings$/);
  fails({ ...good(), cwd: 'tmp' }, 'cwd', /^process\.json: cwd: must be an absolute path/);
  fails(
    { ...good(), capabilities: { ambient: ['cap_nope'] } },
    'capabilities.ambient[0]',
    /^process\.json: capabilities\.ambient\[0\]: unknown capability "cap_nope"$/,
  );
  fails({ ...good(), rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1, soft: 2 }] }, 'rlimits[0].soft', /exceeds hard limit/);
  fails({ ...good(), env: ['X'] }, 'env[0]', /KEY=value/);
  fails(7, '', /^process\.json: must be an object$/);
});
