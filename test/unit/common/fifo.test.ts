import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const REPO = join(import.meta.dirname, '../../..');
const CHILD = join(import.meta.dirname, 'fifo-child.ts');
const BUN = join(REPO, 'node_modules/.bin/bun');
const bunRuns = spawnSync(BUN, ['--version'], { stdio: 'ignore' }).status === 0;

function run(cmd: string, args: string[]): { read: string; written: number } {
  const dir = mkdtempSync(join(tmpdir(), 'berth-fifo-'));
  try {
    const r = spawnSync(cmd, [...args, CHILD, dir], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, `${r.stderr}${r.error?.message ?? ''}`);
    return JSON.parse(r.stdout) as { read: string; written: number };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// What berthd's container stdio needs: every byte written, then EOF when the
// writer closes, on both sides of a FIFO.
const expected = { read: 'onetwo', written: 1024 * 1024 };

test('FIFO read to EOF and write of 1 MiB on Node.js', () => {
  assert.deepEqual(run(process.execPath, ['--import', 'tsx']), expected);
});

test(
  'the same on Bun (net.Socket over a FIFO never reads there)',
  { skip: !bunRuns && 'Bun does not run here' },
  () => {
    assert.deepEqual(run(BUN, []), expected);
  },
);
