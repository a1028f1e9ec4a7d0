// berth-ctr loads one side only. With --address (a client of an engine) the
// built bundle never loads the store's modules: better-sqlite3 is never
// required, even when the engine cannot be reached, and no store is created;
// without it, the daemonless store is opened as before. Node's own module
// log (NODE_DEBUG=module) is the evidence, on the Node.js bundle that ships
// (bin/berth-ctr.js, the fallback of the Bun executable, built from the same
// entry; Bun keeps no such log).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '../../../bin/berth-ctr.js');
const skip = existsSync(BIN) ? false : 'bin/berth-ctr.js is not built (npm run build)';

function run(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, BERTH_ADDRESS: '', NODE_DEBUG: 'module', ...env },
  });
  const log = r.stderr.split('\n');
  return {
    code: r.status,
    out: r.stdout,
    err: log.filter((l) => !l.startsWith('MODULE ')).join('\n'),
    sqlite: log.some((l) => /^MODULE \d+: Module\._load REQUEST better-sqlite3 /.test(l)),
  };
}

test('--address: the store modules are never loaded, and an unreachable engine is an error naming it', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-ctr-modes-'));
  try {
    const sock = join(dir, 'none.sock');
    const root = join(dir, 'root');
    const r = run(['--address', sock, 'images', 'ls'], { BERTH_ROOT: root });
    assert.equal(r.code, 1);
    assert.match(r.err, new RegExp(`no engine answers at ${sock.replace(/[.]/g, '\\.')}`));
    assert.equal(r.sqlite, false, 'a client of an engine loaded better-sqlite3');
    assert.ok(!existsSync(root), 'a client created a local store');
    const env = run(['content', 'ls'], { BERTH_ADDRESS: sock, BERTH_ROOT: root });
    assert.equal(env.code, 1);
    assert.equal(env.sqlite, false);
    assert.ok(!existsSync(root));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('daemonless: the store under --root is opened; --namespace is refused; version opens nothing', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-ctr-modes-'));
  try {
    const root = join(dir, 'root');
    const r = run(['--root', root, 'images', 'ls']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^REF\s+TYPE\s+DIGEST/);
    assert.equal(r.sqlite, true);
    assert.ok(existsSync(join(root, 'metadata.db')));
    const ns = run(['--root', root, '-n', 'other', 'images', 'ls']);
    assert.equal(ns.code, 2);
    assert.match(ns.err, /--namespace needs --address/);
    const v = run(['version']);
    assert.equal(v.code, 0);
    assert.match(v.out, /^Client:\n {2}Version: {2}\S+\n[\s\S]*\nServer: none \(daemonless/);
    assert.equal(v.sqlite, false, 'version loaded the store');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
