// Berth 0.1 kept the snapshotter's table in the image layer's database
// (<root>/metadata.db). The snapshotter now owns <root>/snapshots.db;
// its first migration copies the old rows over (ids unchanged: they name the
// directories), and the old table is dropped once the copy is committed. A
// crash between the two leaves a stale table that nothing reads.

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { openMetadata, type Db } from '../common/metadb.js';
import { openSqlite, type SqlValue } from '../common/sqlite.js';

const COLUMNS = 'id, driver, key, parent_id, kind, labels, created, updated, size, inodes';

/** The image layer's database beside the snapshotter's (<root>/snapshots.db). */
function legacyPath(db: Db): string {
  return join(dirname(db.name), 'metadata.db');
}

function hasTable(db: Db): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'snapshots'").get() !== undefined;
}

/** Inside the new store's first migration: copy the rows of the old table, if there is one. */
export function importLegacySnapshots(db: Db): boolean {
  const path = legacyPath(db);
  if (!existsSync(path)) return false;
  const old = openSqlite(path, { readonly: true, mustExist: true, timeoutMs: 10_000 });
  try {
    if (!hasTable(old)) return false;
    // Parents before children (ids grow with creation), for the foreign key.
    const rows = old.prepare(`SELECT ${COLUMNS} FROM snapshots ORDER BY id`).all() as Record<string, unknown>[];
    const insert = db.prepare(
      `INSERT INTO snapshots (${COLUMNS}) VALUES (@id, @driver, @key, @parent_id, @kind, @labels, @created, @updated, @size, @inodes)`,
    );
    for (const r of rows) insert.run(r as Record<string, SqlValue>);
    return true;
  } finally {
    old.close();
  }
}

/** After the copy is committed: drop the old table from `<root>/metadata.db`. */
export function dropLegacySnapshots(root: string): void {
  if (!existsSync(join(root, 'metadata.db'))) return;
  const md = openMetadata(root);
  try {
    md.tx((db) => {
      if (!hasTable(db)) return;
      // Dropping deletes the rows, parents first: unlink them so RESTRICT holds.
      db.exec('UPDATE snapshots SET parent_id = NULL; DROP TABLE snapshots');
      db.prepare("DELETE FROM schema_migrations WHERE module = 'snapshots'").run();
    });
  } finally {
    md.close();
  }
}
