// One run of the metadata store through src/common/sqlite.ts, printed as
// JSON: sqlite.test.ts runs it under Node.js (better-sqlite3) and under Bun
// (bun:sqlite) and expects the same answers from both.
//   <runtime> test/unit/common/sqlite-child.ts DIR

import { openMetadata } from '../../../src/common/metadb.js';
import { underBun } from '../../../src/common/bun.js';
import { openSqlite } from '../../../src/common/sqlite.js';

const dir = process.argv[2]!;
const out: Record<string, unknown> = { bun: underBun };

const md = openMetadata(dir);
out.created = md.created;
out.pragmas = {
  journal: md.db.pragma('journal_mode'),
  synchronous: md.db.pragma('synchronous'),
  foreignKeys: md.db.pragma('foreign_keys'),
  busyTimeout: md.db.pragma('busy_timeout'),
};
// Two modules migrated inside one transaction commit together.
md.tx(() => {
  md.migrate('a', ['CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT)']);
  md.migrate('b', [
    'CREATE TABLE parent (id INTEGER PRIMARY KEY)',
    'CREATE TABLE child (p INTEGER REFERENCES parent(id))',
  ]);
});
out.migrated = md.db.prepare('SELECT module, version FROM schema_migrations ORDER BY module').all();

const put = md.db.prepare('INSERT INTO kv (k, v) VALUES (@k, @v)');
out.insert = put.run({ k: 'one', v: '1' });
out.positional = md.db.prepare('INSERT INTO kv (k, v) VALUES (?, ?)').run('two', '2');
out.get = md.db.prepare('SELECT v FROM kv WHERE k = ?').get('one');
out.missing = md.db.prepare('SELECT v FROM kv WHERE k = ?').get('none') === undefined ? 'undefined' : 'other';
out.all = md.db.prepare('SELECT k FROM kv ORDER BY k').all();
out.update = md.db.prepare('UPDATE kv SET v = ? WHERE k = ?').run('x', 'none').changes;

try {
  md.tx((db) => {
    db.prepare('INSERT INTO kv (k, v) VALUES (?, ?)').run('three', '3');
    throw new Error('abort');
  });
} catch (e) {
  out.rolledBack = (e as Error).message;
}
out.afterRollback = (md.db.prepare('SELECT count(*) AS n FROM kv').get() as { n: number }).n;

try {
  md.db.prepare('INSERT INTO child (p) VALUES (?)').run(42);
} catch (e) {
  out.foreignKey = (e as { code?: string }).code;
}

// A second connection meets the first one's write lock: SQLITE_BUSY, in `code`.
const other = openSqlite(`${dir}/metadata.db`, { timeoutMs: 20 });
md.db.exec('BEGIN IMMEDIATE');
try {
  other.exec('BEGIN IMMEDIATE');
} catch (e) {
  out.busy = (e as { code?: string }).code;
}
md.db.exec('COMMIT');
other.close();

try {
  openSqlite(`${dir}/absent.db`, { readonly: true, mustExist: true, timeoutMs: 10 });
} catch (e) {
  out.mustExist = (e as { code?: string }).code;
}
md.close();
process.stdout.write(JSON.stringify(out));
