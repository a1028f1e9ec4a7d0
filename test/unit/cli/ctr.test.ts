import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Progress } from '../../../src/cli/ctr/progress.js';
import { parseArgs } from '../../../src/cli/ctr/args.js';
import { parseFlags } from '../../../src/cli/runc/args.js';
import { BerthError, exitCodeOf } from '../../../src/common/errors.js';

const D = 'sha256:' + '3f4e5d6c7b8a'.padEnd(64, '0');

test('progress: plain lines on status changes only', () => {
  const out: string[] = [];
  const p = new Progress((s) => out.push(s), false);
  p.update(D, 'Waiting');
  p.update(D, 'Downloading', 10, 100);
  p.update(D, 'Downloading', 50, 100);
  p.update(D, 'Download complete', 100, 100);
  p.done();
  assert.deepEqual(out, [
    '3f4e5d6c7b8a: Waiting\n',
    '3f4e5d6c7b8a: Downloading\n',
    '3f4e5d6c7b8a: Download complete (100 B)\n',
  ]);
});

test('progress: a terminal gets one redrawn line per layer with a bar', async () => {
  const out: string[] = [];
  const p = new Progress((s) => out.push(s), true);
  p.update(D, 'Downloading', 512 * 1024, 1024 * 1024);
  p.update('sha256:' + 'a'.repeat(64), 'Waiting');
  await new Promise((r) => setTimeout(r, 150));
  p.update(D, 'Download complete', 1024 * 1024, 1024 * 1024);
  p.done();
  const all = out.join('');
  assert.match(
    out[0]!,
    // eslint-disable-next-line no-control-regex -- the terminal's escape sequences are what is tested
    /\x1b\[2K3f4e5d6c7b8a: Downloading \[=+>\s+\] 512 KiB\/1\.0 MiB\n\x1b\[2Kaaaaaaaaaaaa: Waiting\n/,
  );
  assert.ok(all.includes('\x1b[2A'), 'cursor moves up to redraw');
  assert.match(out[out.length - 1]!, /3f4e5d6c7b8a: Download complete\n/);
});

test('berth-ctr flags: long, =, short alias, repeatable, --, errors', () => {
  const p = parseArgs(['-q', '--format=oci', '--label', 'a=1', 'x', '--label', 'b=2', '--', '--not-a-flag'], {
    quiet: { kind: 'bool', alias: 'q' },
    format: { kind: 'string' },
    label: { kind: 'multi' },
  });
  assert.deepEqual(p.flags, { quiet: true, format: 'oci', label: ['a=1', 'b=2'] });
  assert.deepEqual(p.args, ['x', '--not-a-flag']);
  // Go's words (ctr and runc print these), as usage errors: exit status 2.
  const usage = (re: RegExp) => (e: unknown) =>
    e instanceof BerthError && e.layer === 'berth-ctr' && re.test(e.message) && exitCodeOf(e) === 2;
  assert.throws(() => parseArgs(['--nope'], {}), usage(/^flag provided but not defined: -nope$/));
  assert.throws(
    () => parseArgs(['--format'], { format: { kind: 'string' } }),
    usage(/^flag needs an argument: -format$/),
  );
  assert.throws(
    () => parseArgs(['--quiet=yes'], { quiet: { kind: 'bool' } }),
    usage(/^invalid boolean value "yes" for -quiet$/),
  );
  const g = parseArgs(['--root', '/r', 'images', 'ls', '-q'], { root: { kind: 'string' } }, true);
  assert.deepEqual(g.args, ['images', 'ls', '-q']);
});

test('berth-runc uses the same parser: the first positional ends the flags, errors name the verb', () => {
  const p = parseFlags(
    ['--bundle=/b', '-d', 'id', '--not-mine'],
    { bundle: { kind: 'string', alias: 'b' }, detach: { kind: 'bool', alias: 'd' } },
    'run',
  );
  assert.deepEqual(p.flags, { bundle: '/b', detach: true });
  assert.deepEqual(p.args, ['id', '--not-mine']);
  assert.throws(
    () => parseFlags(['--nope'], {}, 'create'),
    (e: unknown) =>
      e instanceof BerthError &&
      e.layer === 'berth-runc' &&
      e.message === 'create: flag provided but not defined: -nope' &&
      exitCodeOf(e) === 2,
  );
});
