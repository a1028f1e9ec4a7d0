// The snapshotter's own contract, for both drivers: kinds, parents, labels,
// refusals, usage, mounts, and the repair of what a crash leaves behind.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { openSnapshotter, mountAll, unmountAll, isMountPoint, type Snapshotter } from '../../../src/snapshot/index.js';
import { tempRoot } from './layers.js';

const isRoot = process.getuid?.() === 0;

for (const driver of ['overlayfs', 'native'] as const) {
  describe(`snapshotter contract (${driver})`, { skip: isRoot ? false : 'needs root' }, () => {
    const t = tempRoot();
    let sn: Snapshotter;
    const target = join(t.root, 'mnt');

    before(async () => {
      sn = await openSnapshotter(t.root, { driver });
      mkdirSync(target);
    });
    after(() => {
      sn?.close();
      t.cleanup();
    });

    test('prepare, write, commit, then a child sees the parent', async () => {
      const m = await sn.prepare('base-work', undefined, { labels: { a: '1' } });
      assert.deepEqual(
        m.map((x) => x.type),
        ['bind'],
      );
      await mountAll(m, target);
      try {
        writeFileSync(join(target, 'hello'), 'world');
        mkdirSync(join(target, 'dir'));
      } finally {
        await unmountAll(target);
      }
      assert.equal(await isMountPoint(target), false);
      const info = await sn.stat('base-work');
      assert.equal(info.kind, 'active');
      assert.deepEqual(info.labels, { a: '1' });
      await sn.commit('base', 'base-work');
      await assert.rejects(sn.stat('base-work'), (e: { code?: string }) => e.code === 'not-found');
      const base = await sn.stat('base');
      assert.equal(base.kind, 'committed');
      assert.deepEqual(base.labels, { a: '1' });
      assert.ok((await sn.usage('base')).inodes >= 3);

      const child = await sn.prepare('child', 'base');
      assert.equal((await sn.stat('child')).parent, 'base');
      if (driver === 'overlayfs') {
        // one parent: an overlay with that single lower
        assert.equal(child[0]!.type, 'overlay');
        assert.ok(child[0]!.options.includes(`lowerdir=${join(sn.dir, '1', 'fs')}`));
      }
      await mountAll(child, target);
      try {
        assert.equal(readFileSync(join(target, 'hello'), 'utf8'), 'world');
        writeFileSync(join(target, 'hello'), 'changed');
      } finally {
        await unmountAll(target);
      }
      // the parent is untouched
      const view = await sn.view('v', 'base');
      await mountAll(view, target);
      try {
        assert.equal(readFileSync(join(target, 'hello'), 'utf8'), 'world');
      } finally {
        await unmountAll(target);
      }
      assert.deepEqual(await sn.mounts('v'), view);
    });

    test('refusals', async () => {
      await assert.rejects(sn.prepare('child', 'base'), (e: { code?: string }) => e.code === 'already-exists');
      await assert.rejects(sn.prepare('x', 'nope'), /parent snapshot "nope" does not exist/);
      await assert.rejects(sn.prepare('x', 'child'), /parent "child" is active, not committed/);
      await assert.rejects(sn.commit('y', 'v'), /is view, only an active snapshot can be committed/);
      await assert.rejects(sn.commit('base', 'child'), (e: { code?: string }) => e.code === 'already-exists');
      await assert.rejects(sn.remove('base'), /has children/);
      await assert.rejects(sn.remove('nope'), (e: { code?: string }) => e.code === 'not-found');
      await assert.rejects(sn.prepare(''), /non-empty/);
      await assert.rejects(sn.extractionTarget('base'), /only into active snapshots/);
    });

    test('labels merge and delete', async () => {
      const i = await sn.setLabels('base', { b: '2', a: null });
      assert.deepEqual(i.labels, { b: '2' });
      assert.deepEqual((await sn.stat('base')).labels, { b: '2' });
    });

    test('remove with the tree later: the record and the numbered dir go at once, the tree by settle()', async () => {
      await sn.prepare('later', 'base');
      const id = readdirSync(sn.dir)
        .filter((n) => /^\d+$/.test(n))
        .sort((a, b) => Number(b) - Number(a))[0]!;
      writeFileSync(join(sn.dir, id, 'fs', 'written'), 'x');
      await sn.remove('later', { treeLater: true });
      assert.equal(await sn.find('later'), undefined, 'no record once answered');
      assert.equal(existsSync(join(sn.dir, id)), false, 'out of the store once answered');
      await sn.settle();
      assert.deepEqual(
        readdirSync(sn.dir).filter((n) => n.startsWith('rm-')),
        [],
        'the tree removed',
      );
    });

    test('list, remove, and repair after a crash', async () => {
      assert.deepEqual((await sn.list()).map((s) => s.key).sort(), ['base', 'child', 'v']);
      await sn.remove('child');
      await sn.remove('v');
      await sn.remove('base');
      assert.deepEqual(await sn.list(), []);
      // What a kill -9 can leave: an unclaimed temp dir of a dead process,
      // a numbered dir whose row was never committed, a half-removed dir.
      mkdirSync(join(sn.dir, 'new-999999999-abc', 'fs'), { recursive: true });
      mkdirSync(join(sn.dir, '4242', 'fs'), { recursive: true });
      mkdirSync(join(sn.dir, 'rm-7-deadbeef', 'fs'), { recursive: true });
      mkdirSync(join(sn.dir, `new-${process.pid}-live`), { recursive: true });
      assert.equal(await sn.cleanup(), 3);
      assert.deepEqual(
        readdirSync(sn.dir).filter((n) => !n.startsWith('.')),
        [`new-${process.pid}-live`],
      );
      assert.ok(!existsSync(join(sn.dir, '4242')));
    });
  });
}

test(
  'a second open sees the same snapshots (one database per root)',
  { skip: isRoot ? false : 'needs root' },
  async () => {
    const t = tempRoot();
    try {
      const a = await openSnapshotter(t.root);
      await a.prepare('k');
      const b = await openSnapshotter(t.root);
      assert.equal((await b.stat('k')).kind, 'active');
      assert.equal(a.driver, b.driver);
      a.close();
      await b.remove('k');
      b.close();
      assert.ok(existsSync(join(t.root, 'snapshots.db')), 'the snapshotter keeps its own database');
    } finally {
      t.cleanup();
    }
  },
);
