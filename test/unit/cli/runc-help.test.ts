// `berth-runc VERB --help`, as runc answers it: the verb's usage and options
// on stdout, exit 0, whatever else is on the line.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { verbHelp, wantsHelp } from '../../../src/cli/runc/help.js';
import { run } from '../../../src/cli/runc/commands/run.js';
import { kill } from '../../../src/cli/runc/commands/kill.js';

test('--help or -h among a verb\'s flags asks for help; after its first argument or "--" it is an argument', () => {
  const f = run.flags;
  assert.equal(wantsHelp(['--help'], f), true);
  assert.equal(wantsHelp(['-h'], f), true);
  assert.equal(wantsHelp(['--bundle', '/b', '-d', '--help', 'id'], f), true);
  assert.equal(wantsHelp(['-b', '/b', '-h'], f), true);
  assert.equal(wantsHelp(['id'], f), false);
  assert.equal(wantsHelp(['id', '--help'], f), false);
  assert.equal(wantsHelp(['--', '--help'], f), false);
  assert.equal(wantsHelp(['--bundle', '--help'], f), false, 'a value, not a flag');
});

test("a verb's help names it, its usage and every flag with its alias and value", () => {
  const h = verbHelp(run);
  assert.match(h, /^NAME:\n {3}berth-runc run - create and start a container/);
  assert.match(h, /\nUSAGE:\n {3}berth-runc run \[--bundle DIR\].* <container-id>\n/);
  assert.match(h, /\n {3}--bundle value, -b value\n/);
  assert.match(h, /\n {3}--detach, -d\n/);
  assert.match(h, /\n {3}--help, -h {2}show help\n$/);
  assert.match(verbHelp(kill), /--all, -a\n/);
});
