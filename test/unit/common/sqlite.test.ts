import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFresh } from '../../../src/common/metadb-create.js';
import { openMetadata } from '../../../src/common/metadb.js';
import { openSqlite } from '../../../src/common/sqlite.js';

const REPO = join(import.meta.dirname, '../../..');
const SCENARIO = join(import.meta.dirname, 'sqlite-child.ts');
const BUN = join(REPO, 'node_modules/.bin/bun');
const bunRuns = spawnSync(BUN, ['--version'], { stdio: 'ignore' }).status === 0;

function temp(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'berth-sqlite-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

const expected = {
  created: true,
  pragmas: { journal: 'wal', synchronous: 2, foreignKeys: 1, busyTimeout: 10000 },
  migrated: [
    { module: 'a', version: 1 },
    { module: 'b', version: 2 },
  ],
  insert: { changes: 1, lastInsertRowid: 1 },
  positional: { changes: 1, lastInsertRowid: 2 },
  get: { v: '1' },
  missing: 'undefined',
  all: [{ k: 'one' }, { k: 'two' }],
  update: 0,
  rolledBack: 'abort',
  afterRollback: 2,
  foreignKey: 'SQLITE_CONSTRAINT_FOREIGNKEY',
  busy: 'SQLITE_BUSY',
  mustExist: 'SQLITE_CANTOPEN',
};

function scenario(cmd: string, args: string[]): Record<string, unknown> {
  const t = temp();
  try {
    const r = spawnSync(cmd, [...args, SCENARIO, t.dir], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(readdirSync(t.dir), ['metadata.db'], 'no temporary or WAL file left after close');
    return JSON.parse(r.stdout) as Record<string, unknown>;
  } finally {
    t.cleanup();
  }
}

test('the metadata store on better-sqlite3 (Node.js): pragmas, statements, transactions, error codes', () => {
  assert.deepEqual(scenario(process.execPath, ['--import', 'tsx']), { bun: false, ...expected });
});

test(
  'the metadata store on bun:sqlite (Bun) answers exactly as on better-sqlite3',
  { skip: !bunRuns && 'Bun does not run here' },
  () => {
    assert.deepEqual(scenario(BUN, []), { bun: true, ...expected });
  },
);

test('a fresh database is made in WAL mode under a private name and linked into place', () => {
  const t = temp();
  try {
    const path = join(t.dir, 'metadata.db');
    // What a creator killed mid-way leaves (pid 2^22+1 is above pid_max's default: not alive).
    writeFileSync(join(t.dir, '.metadata.db.new-4194305-deadbeef'), 'partial');
    writeFileSync(join(t.dir, '.metadata.db.new-4194305-deadbeef-journal'), 'partial');
    assert.equal(createFresh(path, 1000), true);
    assert.deepEqual(readdirSync(t.dir), ['metadata.db'], "the dead creator's files and ours are gone");
    const db = openSqlite(path, { timeoutMs: 1000 });
    assert.equal(db.pragma('journal_mode'), 'wal', 'WAL recorded in the file itself');
    db.close();
    // Someone else made it first: theirs is kept, untouched.
    writeFileSync(join(t.dir, 'other.db'), '');
    assert.equal(createFresh(join(t.dir, 'other.db'), 1000), false);
    assert.equal(readdirSync(t.dir).filter((n) => n.startsWith('.')).length, 0);
    assert.equal(existsSync(join(t.dir, 'other.db')), true);
  } finally {
    t.cleanup();
  }
});

test('a module already at its version is not migrated again, in this process or the next', () => {
  const t = temp();
  try {
    let ran = 0;
    const steps = ['CREATE TABLE x (a)', () => void ran++];
    const md = openMetadata(t.dir);
    md.migrate('m', steps);
    md.close();
    const again = openMetadata(t.dir);
    assert.equal(again.created, false);
    again.migrate('m', steps);
    assert.equal(ran, 1);
    again.close();
  } finally {
    t.cleanup();
  }
});

const strace = spawnSync('strace', ['-V'], { stdio: 'ignore' }).status === 0;

test(
  'a fresh image root costs 7 fsyncs (was 12): creation, one commit of every table, the close',
  { skip: !strace && 'no strace' },
  () => {
    const t = temp();
    try {
      const script = `import { openImageLayer } from ${JSON.stringify(join(REPO, 'src/image/index.ts'))};
openImageLayer(process.argv[1]).close();`;
      const r = spawnSync(
        'strace',
        [
          '-f',
          '-e',
          'trace=fsync,fdatasync',
          '-o',
          join(t.dir, 'trace'),
          process.execPath,
          '--import',
          'tsx',
          '--input-type=module',
          '-e',
          script,
          join(t.dir, 'root'),
        ],
        { encoding: 'utf8', cwd: REPO, timeout: 60_000 },
      );
      assert.equal(r.status, 0, r.stderr);
      const trace = spawnSync('grep', ['-c', 'sync(', join(t.dir, 'trace')], { encoding: 'utf8' }).stdout.trim();
      // 2 (the file, its directory) + 3 (the WAL's header, its directory, the
      // one commit) + 2 (the checkpoint at close: WAL, file).
      assert.equal(Number(trace), 7);
    } finally {
      t.cleanup();
    }
  },
);
