// A store written by Berth 0.1 kept the snapshotter's rows in the image
// layer's <root>/metadata.db. Opening it now moves them into the
// snapshotter's own <root>/snapshots.db, ids (and so directories) unchanged,
// and drops the old table; the image layer's own tables stay.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openSnapshotter } from '../../../src/snapshot/index.js';
import { openImageLayer } from '../../../src/image/index.js';
import { tempRoot } from './layers.js';

const isRoot = process.getuid?.() === 0;

// The 0.1 schema, as its migration created it.
const OLD_TABLE = `CREATE TABLE snapshots (
  id INTEGER PRIMARY KEY AUTOINCREMENT, driver TEXT NOT NULL, key TEXT NOT NULL,
  parent_id INTEGER REFERENCES snapshots(id) ON DELETE RESTRICT,
  kind TEXT NOT NULL CHECK (kind IN ('committed', 'active', 'view')),
  labels TEXT NOT NULL DEFAULT '{}', created TEXT NOT NULL, updated TEXT NOT NULL,
  size INTEGER, inodes INTEGER, UNIQUE (driver, key));
  CREATE INDEX snapshots_parent ON snapshots(parent_id);`;

test(
  'snapshots of a 0.1 store move to the snapshotter own database',
  { skip: isRoot ? false : 'needs root (native driver copies owners)' },
  async () => {
    const t = tempRoot();
    try {
      // An image layer with a record, as 0.1 left it, plus the snapshot rows in the same file.
      const layer = openImageLayer(t.root);
      layer.images.put('docker.io/library/old:1', {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: `sha256:${'a'.repeat(64)}`,
        size: 10,
      });
      layer.close();
      const db = new Database(join(t.root, 'metadata.db'));
      db.exec(OLD_TABLE);
      db.prepare("INSERT INTO schema_migrations(module, version) VALUES ('snapshots', 1)").run();
      const now = new Date().toISOString();
      db.prepare(
        "INSERT INTO snapshots (id, driver, key, parent_id, kind, labels, created, updated) VALUES (7, 'native', 'base', NULL, 'committed', '{\"x\":\"1\"}', ?, ?)",
      ).run(now, now);
      db.prepare(
        "INSERT INTO snapshots (id, driver, key, parent_id, kind, labels, created, updated) VALUES (9, 'native', 'work', 7, 'active', '{}', ?, ?)",
      ).run(now, now);
      db.close();
      for (const id of ['7', '9']) {
        mkdirSync(join(t.root, 'snapshots', id, 'fs'), { recursive: true });
        mkdirSync(join(t.root, 'snapshots', id, 'work'));
      }
      writeFileSync(join(t.root, 'snapshots', '7', 'fs', 'hello'), 'from 0.1');

      const sn = await openSnapshotter(t.root, { driver: 'native' });
      try {
        assert.ok(existsSync(join(t.root, 'snapshots.db')), 'the snapshotter has its own database');
        const list = await sn.list();
        assert.deepEqual(
          list.map((s) => [s.key, s.kind, s.parent ?? null]),
          [
            ['base', 'committed', null],
            ['work', 'active', 'base'],
          ],
        );
        assert.deepEqual((await sn.stat('base')).labels, { x: '1' });
        // Ids (directories) unchanged: cleanup finds no orphan, the data is where it was.
        assert.equal(await sn.cleanup(), 0);
        const target = await sn.extractionTarget('work');
        assert.equal(target.dir, join(t.root, 'snapshots', '9', 'fs'));
        assert.equal(readFileSync(join(t.root, 'snapshots', '7', 'fs', 'hello'), 'utf8'), 'from 0.1');
        // A new snapshot takes an id after the imported ones.
        await sn.prepare('next', 'base');
        assert.ok(existsSync(join(t.root, 'snapshots', '10')));
      } finally {
        sn.close();
      }
      const old = new Database(join(t.root, 'metadata.db'), { readonly: true });
      try {
        assert.equal(
          old.prepare("SELECT 1 FROM sqlite_master WHERE name = 'snapshots'").get(),
          undefined,
          'old table dropped',
        );
        assert.equal(old.prepare("SELECT 1 FROM schema_migrations WHERE module = 'snapshots'").get(), undefined);
        assert.ok(old.prepare("SELECT 1 FROM sqlite_master WHERE name = 'images'").get(), 'image tables kept');
      } finally {
        old.close();
      }
      // Opening again is a no-op.
      const again = await openSnapshotter(t.root, { driver: 'native' });
      assert.equal((await again.list()).length, 3);
      again.close();
    } finally {
      t.cleanup();
    }
  },
);
