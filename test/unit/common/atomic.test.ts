// src/common/atomic.ts: a staged file is invisible until its commit, an
// abort leaves the old file and no temp file, a commit replaces the old one
// whole; writeFileAtomic (both halves at once) with and without fsyncs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stageFileAtomic, writeFileAtomic } from '../../../src/common/atomic.js';

function withDir(fn: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-atomic-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test(
  'a staged file appears only at commit, with its mode, and no temp file stays',
  withDir(async (dir) => {
    const p = join(dir, 'rec.json');
    const staged = await stageFileAtomic(p, '{"new":1}', 0o600);
    assert.deepEqual(
      readdirSync(dir).filter((n) => n === 'rec.json'),
      [],
      'not in place before commit',
    );
    assert.equal(readdirSync(dir).length, 1, 'the temp file, fsynced, waits beside it');
    await staged.commit();
    assert.deepEqual(readdirSync(dir), ['rec.json']);
    assert.equal(readFileSync(p, 'utf8'), '{"new":1}');
    assert.equal(statSync(p).mode & 0o777, 0o600);
  }),
);

test(
  'an abort keeps the old file and removes the temp file',
  withDir(async (dir) => {
    const p = join(dir, 'rec.json');
    writeFileSync(p, 'old');
    const staged = await stageFileAtomic(p, 'new');
    await staged.abort();
    assert.deepEqual(readdirSync(dir), ['rec.json']);
    assert.equal(readFileSync(p, 'utf8'), 'old');
  }),
);

test(
  'writeFileAtomic replaces a file whole, durable or not',
  withDir(async (dir) => {
    const p = join(dir, 'f');
    writeFileSync(p, 'old contents, longer than the new');
    await writeFileAtomic(p, 'new');
    assert.equal(readFileSync(p, 'utf8'), 'new');
    await writeFileAtomic(p, 'newer', 0o644, { durable: false });
    assert.equal(readFileSync(p, 'utf8'), 'newer');
    assert.deepEqual(readdirSync(dir), ['f']);
  }),
);

test(
  'a commit into a directory that went fails and leaves nothing behind',
  withDir(async (dir) => {
    const sub = join(dir, 'c');
    const p = join(sub, 'rec.json');
    await assert.rejects(stageFileAtomic(p, 'x'), /ENOENT/);
    assert.deepEqual(readdirSync(dir), []);
  }),
);
