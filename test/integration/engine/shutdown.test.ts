// berth-engine under stress: garbage collection run again and again during a
// pull (the pull's lease keeps everything it made), and SIGTERM with a
// Write in flight (the call finishes, then the engine exits 0 with its
// database closed, and what was committed is there after a restart).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildImage, type BuiltImage } from '../../helpers/registry.js';
import { sleep, waitUntil } from '../../helpers/daemons.js';
import { randomFileTar, type Engine, pullFixture, pullSkip, type PullFixture, spawnIngest } from './helpers.js';

const skip = pullSkip;

let fx: PullFixture | undefined;
let eng: Engine;
let img: BuiltImage;
let ref: string;

before(async () => {
  if (skip) return;
  img = buildImage({ extraLayers: [randomFileTar('a.bin', 24 << 20), randomFileTar('b.bin', 8 << 20)] });
  fx = await pullFixture('berth-eng-stop-', img, 'engine/gc-race');
  ({ eng, ref } = fx);
});

after(async () => {
  await fx?.stop();
});

test('GC in a loop during a pull takes nothing the pull made', { skip, timeout: 300000 }, async () => {
  const pull = spawn('ctr', ['-a', eng.sock, 'images', 'pull', '--plain-http', ref], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  pull.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const exited = new Promise<number | null>((r) => pull.once('exit', (code) => r(code)));
  let runs = 0;
  let done = false;
  const ended = () => (done = true);
  exited.then(ended, ended);
  while (!done) {
    // A lease deleted with --sync runs a full collection before the answer.
    const id = `gc-${runs}`;
    eng.ctr(['leases', 'create', '--id', id]);
    const r = eng.ctr(['leases', 'rm', '--sync', id]);
    assert.equal(r.status, 0, r.stderr);
    runs++;
    await sleep(20); // let the pull's exit be seen
  }
  assert.equal(await exited, 0, err);
  assert.ok(runs >= 2, `only ${runs} collections ran during the pull`);
  assert.ok((eng.log().match(/"msg":"gc"/g) ?? []).length >= runs);
  assert.match(eng.ctr(['images', 'check']).stdout, /complete \(4\/4\).*true/);
  assert.equal(eng.ctr(['snapshots', 'ls']).stdout.trim().split('\n').length - 1, img.layers.length);
  const d = join(eng.root, 'engine/content/blobs/sha256');
  for (const name of readdirSync(d))
    assert.equal(
      createHash('sha256')
        .update(readFileSync(join(d, name)))
        .digest('hex'),
      name,
    );
});

test(
  'SIGTERM with a Write in flight: the call finishes, the engine exits 0, the database is closed',
  { skip, timeout: 120000 },
  async () => {
    const data = randomBytes(2 << 20);
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    const w = spawnIngest(eng.sock, { digest, size: data.length }, 'stop-ref');
    let err = '';
    w.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const wexit = new Promise<number | null>((r) => w.once('exit', (code) => r(code)));
    w.stdin.write(data.subarray(0, 1 << 20));
    await waitUntil('the ingest to start', () => /stop-ref/.test(eng.ctr(['content', 'active']).stdout));
    const proc = eng.proc;
    const engineExit = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    proc.kill('SIGTERM');
    await waitUntil('the engine to stop accepting calls', () => /"msg":"stopping"/.test(eng.log()));
    await sleep(300);
    assert.equal(proc.exitCode, null, 'the engine waits for the call in flight');
    // No new calls meanwhile.
    assert.notEqual(spawnSync('ctr', ['-a', eng.sock, 'version'], { timeout: 5000 }).status, 0);
    w.stdin.end(data.subarray(1 << 20));
    assert.equal(await wexit, 0, err);
    assert.equal(await engineExit, 0);
    assert.match(eng.log(), /"msg":"stopped"/);
    assert.equal(existsSync(eng.sock), false, 'the socket is removed');
    assert.equal(
      existsSync(join(eng.root, 'engine/metadata.db-wal')),
      false,
      'the database was closed (its WAL checkpointed away)',
    );

    await eng.restart();
    assert.ok(eng.ctr(['content', 'ls', '-q']).stdout.includes(digest));
  },
);
