// What a kill -9 leaves is reclaimed even when the dead process's pid has
// been reused: an unpack's snapshot and a snapshotter temp directory name
// their process by pid and start time, so a live process that merely has
// the same pid (here: this test process, with a start time that is not its
// own) does not keep them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { openSnapshotter, removeAbandonedUnpacks, EXTRACT_LABEL } from '../../../src/snapshot/index.js';
import { processStartTime, selfIdentity, isProcessAlive } from '../../../src/common/proc.js';
import { tempRoot } from './layers.js';

const isRoot = process.getuid?.() === 0;
const myStart = processStartTime(process.pid)!;
// This pid, born at another time: what a reused pid looks like from the record.
const reusedPid = `${process.pid} ${Number(myStart) + 1}`;

test('the process helper tells a reused pid from its owner', () => {
  assert.ok(isProcessAlive(process.pid, myStart));
  assert.ok(!isProcessAlive(process.pid, String(Number(myStart) + 1)));
  assert.ok(isProcessAlive(process.pid), 'a bare pid cannot tell reuse');
  assert.ok(!isProcessAlive(999_999_999));
  assert.equal(selfIdentity(), `${process.pid} ${myStart}`);
});

test(
  'abandoned unpacks and temp directories of a reused pid are reclaimed',
  { skip: isRoot ? false : 'needs root' },
  async () => {
    const t = tempRoot();
    const sn = await openSnapshotter(t.root, { driver: 'native' });
    try {
      const unpack = (key: string, owner: string) => sn.prepare(key, undefined, { labels: { [EXTRACT_LABEL]: owner } });
      await unpack('extract-reused', reusedPid);
      await unpack('extract-dead', '999999999 12345');
      await unpack('extract-live', selfIdentity());
      await unpack('extract-old-format', String(process.pid)); // Berth 0.1's label: a bare pid
      await sn.prepare('container', undefined); // not an unpack: never touched
      const removed = await removeAbandonedUnpacks(sn);
      assert.deepEqual(removed.sort(), ['extract-dead', 'extract-reused']);
      assert.deepEqual((await sn.list()).map((s) => s.key).sort(), ['container', 'extract-live', 'extract-old-format']);

      // Snapshotter temp directories: new-<pid>-<start>-<random>.
      mkdirSync(join(sn.dir, `new-${reusedPid.replace(' ', '-')}-abc123`));
      mkdirSync(join(sn.dir, `new-${selfIdentity().replace(' ', '-')}-def456`));
      assert.equal(await sn.cleanup(), 1);
      assert.deepEqual(
        readdirSync(sn.dir).filter((n) => n.startsWith('new-')),
        [`new-${process.pid}-${myStart}-def456`],
      );
    } finally {
      sn.close();
      t.cleanup();
    }
  },
);
