import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { openContentStore, digestOf } from '../../../src/image/content/store.js';
import { BerthError } from '../../../src/common/errors.js';
import { patternBytes, patternDigest } from './pattern.js';

const CHILD = join(import.meta.dirname, 'ingest-child.ts');

function tempRoot(): { root: string; cleanup: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'berth-content-'));
  return { root, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

function blobFiles(root: string): string[] {
  const out: string[] = [];
  for (const alg of ['sha256', 'sha512']) {
    const d = join(root, 'content/blobs', alg);
    if (existsSync(d)) out.push(...readdirSync(d).map((n) => `${alg}/${n}`));
  }
  return out;
}

async function waitForPartial(root: string, bytes: number, out: () => string): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    assert.ok(Date.now() < deadline, `child made no progress: ${out()}`);
    const ing = join(root, 'content/ingest');
    const dirs = existsSync(ing) ? readdirSync(ing).filter((n) => /^[0-9a-f]{64}$/.test(n)) : [];
    if (dirs.length) {
      const partial = join(ing, dirs[0]!, 'data');
      try {
        if (statSync(partial).size > bytes) return partial;
      } catch {
        /* not yet */
      }
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

function spawnChild(args: string[]): { child: ChildProcess; out: () => string; done: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const done = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, out: () => out, done };
}

test('ingest commits a verified blob where the layout says, with labels', async () => {
  const { root, cleanup } = tempRoot();
  try {
    const store = openContentStore(root);
    const data = patternBytes(300_000, 'a');
    const digest = digestOf(data);
    const w = await store.ingest('layer-a', { digest, size: data.length });
    assert.equal(w.offset, 0);
    assert.equal(w.alreadyExists, false);
    for (let i = 0; i < data.length; i += 65536) await w.write(data.subarray(i, i + 65536));
    const info = await w.commit({ 'berth.io/source': 'test' });
    assert.equal(info.size, data.length);
    const path = join(root, 'content/blobs/sha256', digest.slice(7));
    assert.equal(store.blobPath(digest), path);
    assert.equal(createHash('sha256').update(readFileSync(path)).digest('hex'), digest.slice(7), 'digest on disk');
    assert.deepEqual((await store.info(digest)).labels, { 'berth.io/source': 'test' });
    await store.setLabels(digest, { 'berth.io/source': null, other: 'x' });
    assert.deepEqual((await store.info(digest)).labels, { other: 'x' });
    assert.deepEqual(readdirSync(join(root, 'content/ingest')), [], 'no ingest left behind');
    assert.deepEqual((await store.readBytes(digest)).subarray(0, 10), data.subarray(0, 10));
    // sha512 works too.
    const d512 = digestOf(data, 'sha512');
    const w2 = await store.ingest('layer-a-512', { digest: d512, size: data.length });
    await w2.write(data);
    await w2.commit();
    assert.ok(existsSync(join(root, 'content/blobs/sha512', d512.slice(7))));
    assert.equal((await store.list()).length, 2);
    await store.delete(digest);
    assert.equal(await store.has(digest), false);
    await assert.rejects(store.info(digest), (e: unknown) => e instanceof BerthError && e.code === 'not-found');
    store.close();
  } finally {
    cleanup();
  }
});

test('digest mismatch leaves nothing behind', async () => {
  const { root, cleanup } = tempRoot();
  try {
    const store = openContentStore(root);
    const data = Buffer.from('the real content');
    const wrong = digestOf(Buffer.from('something else'));
    const w = await store.ingest('bad', { digest: wrong, size: data.length });
    await w.write(data);
    await assert.rejects(
      w.commit(),
      (e: unknown) => e instanceof BerthError && e.code === 'digest-mismatch' && /expected sha256:/.test(e.message),
    );
    assert.deepEqual(blobFiles(root), []);
    assert.deepEqual(readdirSync(join(root, 'content/ingest')), []);
    // Too many bytes is refused at write time.
    const w2 = await store.ingest('long', { digest: digestOf(data), size: 4 });
    await assert.rejects(w2.write(data), (e: unknown) => e instanceof BerthError && e.code === 'digest-mismatch');
    assert.deepEqual(readdirSync(join(root, 'content/ingest')), []);
    // put() verifies too.
    await assert.rejects(
      store.put(data, { digest: wrong }),
      (e: unknown) => e instanceof BerthError && e.code === 'digest-mismatch',
    );
    await assert.rejects(
      store.putStream([data], { digest: wrong }),
      (e: unknown) => e instanceof BerthError && e.code === 'digest-mismatch',
    );
    assert.deepEqual(blobFiles(root), []);
    assert.deepEqual(readdirSync(join(root, 'content/ingest')), []);
    // A blob corrupted on disk is detected on read.
    const ok = await store.put(data);
    const p = store.blobPath(ok.digest);
    rmSync(p, { force: true });
    writeFileSync(p, 'tampered content');
    await assert.rejects(store.readBytes(ok.digest), /corrupt/);
    store.close();
  } finally {
    cleanup();
  }
});

test('a truncated ingest resumes from its offset and rehashes the partial data', async () => {
  const { root, cleanup } = tempRoot();
  try {
    const store = openContentStore(root);
    const data = patternBytes(1_000_000, 'resume');
    const digest = digestOf(data);
    const w = await store.ingest('resume', { digest, size: data.length });
    await w.write(data.subarray(0, 400_000));
    // A commit of a short blob fails but keeps the data for a resume.
    await assert.rejects(w.commit(), /have 400000 of 1000000 bytes/);
    await w.close();
    const status = await store.ingests();
    assert.equal(status.length, 1);
    assert.equal(status[0]!.offset, 400_000);
    assert.equal(status[0]!.active, false);
    assert.equal(status[0]!.ref, 'resume');

    const w2 = await store.ingest('resume', { digest, size: data.length });
    assert.equal(w2.offset, 400_000);
    await w2.write(data.subarray(400_000));
    const info = await w2.commit();
    assert.equal(info.digest, digest);
    assert.equal(statSync(store.blobPath(digest)).size, data.length);

    // A partial file whose bytes are wrong is caught at commit and dropped.
    const other = patternBytes(100_000, 'x');
    const od = digestOf(other);
    const w3 = await store.ingest('corrupt', { digest: od, size: other.length });
    await w3.write(Buffer.alloc(50_000, 0));
    await w3.close();
    const w4 = await store.ingest('corrupt', { digest: od, size: other.length });
    assert.equal(w4.offset, 50_000);
    await w4.write(other.subarray(50_000));
    await assert.rejects(w4.commit(), (e: unknown) => e instanceof BerthError && e.code === 'digest-mismatch');
    const w5 = await store.ingest('corrupt', { digest: od, size: other.length });
    assert.equal(w5.offset, 0, 'starts over after a mismatch');
    await w5.abort();
    // The same ref reused for another blob starts over.
    const w6 = await store.ingest('resume', { digest: od, size: other.length });
    assert.equal(w6.offset, 0);
    await w6.abort();
    store.close();
  } finally {
    cleanup();
  }
});

test('an existing blob makes ingest a no-op', async () => {
  const { root, cleanup } = tempRoot();
  try {
    const store = openContentStore(root);
    const info = await store.put(Buffer.from('{"a":1}'));
    const w = await store.ingest('other-ref', { digest: info.digest, size: info.size });
    assert.equal(w.alreadyExists, true);
    const again = await w.commit({ k: 'v' });
    assert.deepEqual(again.labels, { k: 'v' });
    store.close();
  } finally {
    cleanup();
  }
});

test('two ingests of one ref in one process: the second waits and sees alreadyExists', async () => {
  const { root, cleanup } = tempRoot();
  try {
    const store = openContentStore(root);
    const data = patternBytes(200_000, 'same');
    const digest = digestOf(data);
    const w1 = await store.ingest('same', { digest, size: data.length });
    let second: Awaited<ReturnType<typeof store.ingest>> | undefined;
    const p2 = store.ingest('same', { digest, size: data.length }).then((w) => (second = w));
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(second, undefined, 'second ingest waits for the lock');
    await w1.write(data);
    await w1.commit();
    await p2;
    assert.equal(second!.alreadyExists, true);
    store.close();
  } finally {
    cleanup();
  }
});

test('concurrent ingest of one ref by two processes downloads once', async () => {
  const { root, cleanup } = tempRoot();
  try {
    const size = 4 * 1024 * 1024;
    const args = [root, 'shared-ref', String(size), 'conc', String(256 * 1024), '20'];
    const a = spawnChild(args);
    await new Promise((r) => setTimeout(r, 300));
    const b = spawnChild(args);
    const [ca, cb] = await Promise.all([a.done, b.done]);
    assert.equal(ca, 0, a.out());
    assert.equal(cb, 0, b.out());
    const outs = [a.out(), b.out()];
    assert.equal(outs.filter((o) => o.includes('done wrote')).length, 1, outs.join('\n---\n'));
    assert.equal(outs.filter((o) => o.includes('done exists')).length, 1, outs.join('\n---\n'));
    const digest = patternDigest(size, 'conc');
    const store = openContentStore(root);
    assert.equal((await store.info(digest)).size, size);
    assert.deepEqual(readdirSync(join(root, 'content/ingest')), []);
    assert.deepEqual(await store.ingests(), []);
    store.close();
  } finally {
    cleanup();
  }
});

test('kill -9 mid-ingest leaves a consistent store; the next ingest resumes', async () => {
  const { root, cleanup } = tempRoot();
  try {
    const size = 32 * 1024 * 1024;
    const seed = 'kill';
    const digest = patternDigest(size, seed);
    const c = spawnChild([root, 'big-layer', String(size), seed, String(128 * 1024), '2']);
    // Wait until the partial file holds a few megabytes, then SIGKILL.
    const partial = await waitForPartial(root, 4 * 1024 * 1024, c.out);
    c.child.kill('SIGKILL');
    await c.done;
    const killedAt = statSync(partial).size;
    assert.ok(killedAt < size, 'killed before the end');
    assert.deepEqual(blobFiles(root), [], 'no blob is visible after the kill');
    assert.ok(
      readdirSync(join(root, 'content/ingest')).some((n) => n.endsWith('.lock')),
      'the dead process left its lock',
    );

    // The next open cleans up and never crashes; the stale lock is broken.
    const store = openContentStore(root);
    const st = await store.ingests();
    assert.equal(st.length, 1);
    assert.equal(st[0]!.active, false);
    const w = await store.ingest('big-layer', { digest, size });
    assert.equal(w.alreadyExists, false);
    assert.ok(w.offset >= killedAt - 128 * 1024 && w.offset <= size, `resumed at ${w.offset}, killed at ${killedAt}`);
    const data = patternBytes(size, seed);
    await w.write(data.subarray(w.offset));
    const info = await w.commit();
    assert.equal(info.digest, digest);
    assert.equal(
      createHash('sha256')
        .update(readFileSync(store.blobPath(digest)))
        .digest('hex'),
      digest.slice(7),
    );
    assert.deepEqual(readdirSync(join(root, 'content/ingest')), []);
    store.close();
  } finally {
    cleanup();
  }
});

test('a second kill -9 during the resumed ingest is survived too', async () => {
  const { root, cleanup } = tempRoot();
  try {
    const size = 8 * 1024 * 1024;
    const args = [root, 'twice', String(size), 'twice', String(64 * 1024), '5'];
    for (const threshold of [1, 4]) {
      const c = spawnChild(args);
      await waitForPartial(root, threshold * 1024 * 1024, c.out);
      c.child.kill('SIGKILL');
      await c.done;
    }
    const c = spawnChild([root, 'twice', String(size), 'twice', String(1024 * 1024), '0']);
    assert.equal(await c.done, 0, c.out());
    assert.match(c.out(), /start new [1-9]\d*/, 'the last run resumed from a non-zero offset');
    const store = openContentStore(root);
    assert.equal((await store.info(patternDigest(size, 'twice'))).size, size);
    store.close();
  } finally {
    cleanup();
  }
});

test('stale temp files of dead processes are cleaned at open; live ones are kept', async () => {
  const { root, cleanup } = tempRoot();
  try {
    openContentStore(root).close();
    const deadPid = 2_147_000_000;
    const b = join(root, 'content/blobs/sha256');
    writeFileSync(join(b, `.${'a'.repeat(64)}.${deadPid}.abcd.tmp`), 'x');
    writeFileSync(join(b, `.${'b'.repeat(64)}.${process.pid}.abcd.tmp`), 'x');
    writeFileSync(join(root, 'content/ingest', `tmp-${deadPid}-abcdef`), 'x');
    // a new ingest's folder not yet renamed into place when its maker died
    mkdirSync(join(root, 'content/ingest', `tmp-${deadPid}-123456`));
    writeFileSync(join(root, 'content/ingest', `tmp-${deadPid}-123456`, 'ref'), 'layer-x');
    writeFileSync(join(root, 'content/ingest', `${'c'.repeat(64)}.lock`), `${deadPid} 1 tok\n`);
    writeFileSync(join(root, 'content/ingest', `${'c'.repeat(64)}.lock.${deadPid}.ab12.tmp`), `${deadPid} 1 tok\n`);
    const store = openContentStore(root);
    assert.deepEqual(readdirSync(b), [`.${'b'.repeat(64)}.${process.pid}.abcd.tmp`]);
    assert.deepEqual(readdirSync(join(root, 'content/ingest')), []);
    store.close();
  } finally {
    cleanup();
  }
});

test('a complete ingest of a blob that is committed meanwhile goes at the next ingest of its ref', async () => {
  // What a kill -9 between the commit's rename and its rm leaves behind.
  const { root, cleanup } = tempRoot();
  try {
    const store = openContentStore(root);
    const data = patternBytes(70_000, 'k');
    const digest = digestOf(data);
    const w = await store.ingest('layer-k', { digest, size: data.length });
    await w.write(data);
    await w.close();
    const other = await store.ingest('layer-k-other', { digest, size: data.length });
    await other.write(data);
    await other.commit();
    const ingests = () => readdirSync(join(root, 'content/ingest')).filter((n) => /^[0-9a-f]{64}$/.test(n));
    assert.equal(ingests().length, 1, 'layer-k is left');
    const again = await store.ingest('layer-k', { digest, size: data.length });
    assert.equal(again.alreadyExists, true);
    assert.deepEqual(ingests(), [], 'the stale ingest of layer-k is gone');
  } finally {
    cleanup();
  }
});
