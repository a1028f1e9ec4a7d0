// berthd's container records on disk (src/daemon/containers/record.ts): saves
// of one record land in the order they were asked for, whatever each costs (a
// durable save's fsyncs against a quick one after it), and a record retired
// for its removal's clean-up is gone for loadAll, listed by retired(), and
// gone after purge().

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '../../../src/common/log.js';
import { emptyState, RecordStore, type ContainerRecord } from '../../../src/daemon/containers/record.js';

function record(id: string, label: string): ContainerRecord {
  return {
    Id: id,
    Name: `/rec-${label}`,
    Created: new Date(0).toISOString(),
    Config: { Image: 'img', Labels: { n: label } },
    HostConfig: {},
    ImageRef: 'img',
    Image: 'sha256:0',
    ParentChain: '',
    Path: 'true',
    Args: [],
    State: emptyState(),
    RestartCount: 0,
    ManuallyStopped: false,
    Mounts: [],
    LogPath: '',
    ResolvConfPath: '',
    HostnamePath: '',
    HostsPath: '',
  };
}

const withStore = async (fn: (store: RecordStore, root: string) => Promise<void>) => {
  const dir = mkdtempSync(join(tmpdir(), 'berthd-records-'));
  try {
    await fn(new RecordStore(join(dir, 'containers'), new Logger({ level: 'fatal' })), dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

test('saves of one record land in the order asked for: a quick save never overtaken by a durable one before it', async () => {
  await withStore(async (store) => {
    const id = 'a'.repeat(64);
    for (let i = 0; i < 20; i++) {
      const r = record(id, `first-${i}`);
      const durable = store.save(r, { durable: true });
      // the record as the later save sees it: the earlier one must not land over it
      const later = { ...r, Name: `/rec-last-${i}` };
      const quick = store.save(later, { durable: false });
      await Promise.all([durable, quick]);
      const onDisk = JSON.parse(readFileSync(join(store.dir(id), 'config.v2.json'), 'utf8')) as ContainerRecord;
      assert.equal(onDisk.Name, `/rec-last-${i}`, `round ${i}`);
    }
  });
});

test('a retired record is gone for loadAll, listed until purged', async () => {
  await withStore(async (store, root) => {
    const keep = 'b'.repeat(64);
    const gone = 'c'.repeat(64);
    await store.save(record(keep, 'keep'));
    await store.save(record(gone, 'gone'));
    await store.retire(gone);
    assert.deepEqual(
      (await store.loadAll()).map((r) => r.Id),
      [keep],
    );
    assert.deepEqual(await store.retired(), [gone]);
    assert.equal(store.retiredRoot, join(root, 'removing'));
    const moved = JSON.parse(readFileSync(join(root, 'removing', gone, 'config.v2.json'), 'utf8')) as ContainerRecord;
    assert.equal(moved.Id, gone);
    await store.purge(gone);
    assert.deepEqual(await store.retired(), []);
    // a record never written: the mark alone
    const never = 'd'.repeat(64);
    await store.retire(never);
    assert.deepEqual(await store.retired(), [never]);
  });
});
