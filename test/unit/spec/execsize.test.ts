// Arguments and environments execve(2) would refuse (E2BIG) are refused when
// the config is read, naming the field; sizes it takes pass.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSpec } from '../../../src/runtime/spec/validate.js';
import { BerthError } from '../../../src/common/errors.js';

function config(args: string[], env: string[]): unknown {
  return {
    ociVersion: '1.2.0',
    root: { path: 'rootfs' },
    process: { user: { uid: 0, gid: 0 }, args, env, cwd: '/' },
    linux: { namespaces: [{ type: 'pid' }, { type: 'mount' }] },
  };
}

function refused(args: string[], env: string[], field: string, why: RegExp): void {
  assert.throws(
    () => parseSpec(config(args, env)),
    (e: unknown) => {
      assert.ok(e instanceof BerthError, String(e));
      assert.equal(e.code, 'invalid-argument');
      assert.equal(e.field, field, e.message);
      assert.match(e.message, why);
      return true;
    },
  );
}

test('one string over MAX_ARG_STRLEN names its index', () => {
  refused(['sh', 'x'.repeat(131072)], [], 'process.args[1]', /131072 bytes; execve takes at most 131071/);
  refused(['sh'], ['A=1', `B=${'x'.repeat(200000)}`], 'process.env[1]', /execve takes at most/);
  parseSpec(config(['sh', 'x'.repeat(131071)], []));
});

test('a total beyond what execve ever takes, or more strings than Berth passes, names the list', () => {
  const env = Array.from({ length: 60000 }, (_, i) => `V${i}=${'x'.repeat(100)}`);
  refused(['sh'], env, 'process.env', /bytes of arguments and environment; execve takes at most 6291456 \(E2BIG\)/);
  const many = Array.from({ length: 70000 }, (_, i) => `V${i}=`);
  refused(['sh'], many, 'process.env', /70001 arguments and variables in all; Berth passes at most 65472/);
  // Large but possible: accepted.
  parseSpec(
    config(
      ['sh'],
      Array.from({ length: 1000 }, (_, i) => `V${i}=${'x'.repeat(1000)}`),
    ),
  );
});
