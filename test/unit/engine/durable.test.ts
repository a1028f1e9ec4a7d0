// The engine's group commit (src/engine/durable.ts): its connection runs
// synchronous=NORMAL, a write moves changes(), and sync() resolves after an
// fsync of the WAL that started after the caller's commit, shared by the
// callers that came while one was in flight. The fsyncs are counted with a
// spy on the file handle's sync (what reaches the kernel is the real call).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openMetadata } from '../../../src/common/metadb.js';
import { WalSync } from '../../../src/engine/durable.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-durable-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('synchronous=NORMAL on the connection; a write moves changes(); sync() fsyncs the WAL, shared by concurrent callers', async () => {
  const md = openMetadata(dir, { layer: 'berth-engine', file: 'durable.db' });
  try {
    md.db.exec('CREATE TABLE IF NOT EXISTS t (v INTEGER)');
    const w = new WalSync(md);
    assert.equal(md.db.pragma('synchronous'), 1, 'NORMAL');
    const before = w.changes();
    md.tx((db) => db.prepare('INSERT INTO t VALUES (1)').run());
    assert.equal(w.changes(), before + 1);

    const fh = await open(join(dir, 'durable.db'), 'r');
    const proto = Object.getPrototypeOf(fh) as FileHandle;
    await fh.close();
    const real = proto.sync;
    let syncs = 0;
    proto.sync = function (this: FileHandle) {
      syncs++;
      return real.call(this);
    };
    try {
      await w.sync();
      assert.equal(syncs, 1);
      // five callers at once: one fsync in flight, one more for those who came during it
      await Promise.all([w.sync(), w.sync(), w.sync(), w.sync(), w.sync()]);
      assert.equal(syncs, 3);
    } finally {
      proto.sync = real;
    }
  } finally {
    md.close();
  }
});
