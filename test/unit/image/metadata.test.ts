import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { openMetadata } from '../../../src/common/metadb.js';
import { ImageStore } from '../../../src/image/images.js';
import { LeaseManager, withLease } from '../../../src/image/leases.js';
import { tryLock, isLockStale, isLocked, breakIfStale, lock } from '../../../src/image/content/lock.js';
import { processStartTime } from '../../../src/common/proc.js';
import { BerthError } from '../../../src/common/errors.js';

function temp(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'berth-md-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

const D = (c: string) => 'sha256:' + c.repeat(64);
const desc = (c: string) => ({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: D(c), size: 10 });

test('migrations run once per module, in order, and refuse a newer database', () => {
  const t = temp();
  try {
    const md = openMetadata(t.dir);
    assert.equal(md.db.pragma('journal_mode'), 'wal');
    let ran = 0;
    const steps = ['CREATE TABLE m1 (a TEXT)', () => void ran++];
    md.migrate('mod', steps);
    md.migrate('mod', steps);
    assert.equal(ran, 1);
    md.close();
    // A new process (simulated by a fresh open) adds a step: only that one runs.
    const md2 = openMetadata(t.dir);
    md2.migrate('mod', [...steps, 'ALTER TABLE m1 ADD COLUMN b TEXT']);
    assert.equal(ran, 1);
    md2.db.prepare('INSERT INTO m1(a, b) VALUES (?, ?)').run('x', 'y');
    assert.throws(() => md2.migrate('other', ['CREATE TABLE bad (', 'x']), /syntax|incomplete/);
    assert.equal(
      (md2.db.prepare("SELECT count(*) n FROM schema_migrations WHERE module = 'other'").get() as { n: number }).n,
      0,
      'failed migration rolled back',
    );
    md2.close();
    const md3 = openMetadata(t.dir);
    assert.throws(() => md3.migrate('mod', ['CREATE TABLE m1 (a TEXT)']), /newer than this Berth knows/);
    md3.close();
    assert.ok(existsSync(join(t.dir, 'metadata.db')));
  } finally {
    t.cleanup();
  }
});

test('tx rolls back on error; handles share one connection', () => {
  const t = temp();
  try {
    const a = openMetadata(t.dir);
    const b = openMetadata(t.dir);
    assert.equal(a.db, b.db);
    a.migrate('t', ['CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT)']);
    assert.throws(
      () =>
        a.tx((db) => {
          db.prepare('INSERT INTO kv VALUES (?, ?)').run('k', 'v');
          throw new Error('boom');
        }),
      /boom/,
    );
    assert.equal((b.db.prepare('SELECT count(*) n FROM kv').get() as { n: number }).n, 0);
    a.close();
    b.db.prepare('SELECT 1').get(); // still open for b
    b.close();
  } finally {
    t.cleanup();
  }
});

test('image records: put, create, tag, labels, delete', () => {
  const t = temp();
  try {
    const md = openMetadata(t.dir);
    const images = new ImageStore(md);
    const r = images.put('busybox', desc('a'), { l: '1' });
    assert.equal(r.name, 'docker.io/library/busybox:latest');
    assert.equal(images.get('docker.io/library/busybox').target.digest, D('a'));
    assert.throws(
      () => images.create('busybox:latest', desc('b')),
      (e: unknown) => e instanceof BerthError && e.code === 'already-exists',
    );
    const moved = images.put('busybox', desc('b'));
    assert.equal(moved.target.digest, D('b'));
    assert.deepEqual(moved.labels, { l: '1' }, 'labels kept when not given');
    assert.ok(moved.updatedAt >= moved.createdAt);
    images.tag('busybox', 'localhost:5000/bb:v1');
    assert.deepEqual(
      images.list().map((i) => i.name),
      ['docker.io/library/busybox:latest', 'localhost:5000/bb:v1'],
    );
    assert.deepEqual(images.setLabels('busybox', { l: null, m: '2' }).labels, { m: '2' });
    images.delete('busybox');
    assert.throws(() => images.delete('busybox'), /not found/);
    assert.throws(
      () => images.get('busybox'),
      (e: unknown) => e instanceof BerthError && e.code === 'not-found',
    );
    assert.throws(() => images.put('x', { mediaType: 'a', digest: 'sha256:zz', size: 1 }), /digest/);
    md.close();
  } finally {
    t.cleanup();
  }
});

test('leases: resources, expiry, withLease', async () => {
  const t = temp();
  try {
    const md = openMetadata(t.dir);
    const leases = new LeaseManager(md);
    const l = leases.create({ id: 'pull-1', labels: { op: 'pull' } });
    assert.ok(l.expiresAt);
    assert.throws(() => leases.create({ id: 'pull-1' }), /already exists/);
    leases.addResource('pull-1', { type: 'content', key: D('a') });
    leases.addResource('pull-1', { type: 'content', key: D('a') });
    assert.deepEqual(leases.resources('pull-1'), [{ type: 'content', key: D('a') }]);
    const old = leases.create({ ttlMs: -1 });
    leases.addResource(old.id, { type: 'content', key: D('b') });
    assert.deepEqual(
      leases.liveResources().map((r) => r.key),
      [D('a')],
    );
    assert.deepEqual(leases.expire(), [old.id]);
    assert.deepEqual(
      leases.list().map((x) => x.id),
      ['pull-1'],
    );
    leases.delete('pull-1');
    assert.deepEqual(leases.liveResources(), [], 'resources go with their lease');
    let seen = '';
    await assert.rejects(
      withLease(leases, async (x) => {
        seen = x.id;
        throw new Error('fail inside');
      }),
      /fail inside/,
    );
    assert.throws(() => leases.get(seen), /not found/, 'lease deleted even on failure');
    md.close();
  } finally {
    t.cleanup();
  }
});

test('lock files: exclusive, stale after the owner dies, pid reuse detected', async () => {
  const t = temp();
  try {
    const p = join(t.dir, 'x.lock');
    const h = tryLock(p)!;
    assert.ok(h);
    assert.equal(tryLock(p), undefined, 'held');
    assert.ok(isLocked(p));
    assert.equal(isLockStale(p), false);
    h.release();
    assert.equal(existsSync(p), false);
    // A dead owner.
    writeFileSync(p, '2147000000 1 dead\n');
    assert.ok(isLockStale(p));
    const h2 = tryLock(p)!;
    assert.ok(h2, 'a stale lock is broken');
    h2.release();
    // Our pid, but another start time: a reused pid, so stale.
    writeFileSync(p, `${process.pid} 1 old\n`);
    assert.ok(processStartTime(process.pid) !== '1');
    assert.ok(isLockStale(p));
    assert.ok(breakIfStale(p));
    assert.equal(existsSync(p), false);
    // lock() waits for a release.
    const h3 = tryLock(p)!;
    let got = false;
    const waiting = lock(p).then((x) => {
      got = true;
      return x;
    });
    await new Promise((r) => setTimeout(r, 80));
    assert.equal(got, false);
    h3.release();
    (await waiting)!.release();
    assert.deepEqual(readdirSync(t.dir), [], 'no temp files left');
  } finally {
    t.cleanup();
  }
});

test('openImageLayer opens every service of a root on one connection', async () => {
  const { openImageLayer } = await import('../../../src/image/index.js');
  const t = temp();
  try {
    const l = openImageLayer(t.dir);
    const info = await l.content.put(Buffer.from('{}'));
    l.images.put('x:1', {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: info.digest,
      size: info.size,
    });
    assert.equal(l.images.get('x:1').target.digest, info.digest);
    assert.equal(l.metadata.db, l.content.metadata.db);
    l.close();
  } finally {
    t.cleanup();
  }
});
