// kill -9 of berth-engine in the middle of a `ctr images pull`, then a
// restart on the same root: the store is consistent (every blob on disk
// hashes to its name, every content record has its blob), the pull run
// again completes, and the image checks complete; the interrupted ingest
// was resumable or removed, never committed torn. The engine's UUID
// survives the restart.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildImage, type BuiltImage } from '../../helpers/registry.js';
import { sleep } from '../../helpers/daemons.js';
import { randomFileTar, type Engine, pullFixture, pullSkip, type PullFixture } from './helpers.js';

const skip = pullSkip;

let fx: PullFixture | undefined;
let eng: Engine;
let img: BuiltImage;
let ref: string;

before(async () => {
  if (skip) return;
  // Big layers of random bytes (gzip cannot shrink them), so the pull is slow enough to be cut.
  img = buildImage({ extraLayers: [randomFileTar('big1.bin', 40 << 20), randomFileTar('big2.bin', 40 << 20)] });
  fx = await pullFixture('berth-eng-crash-', img, 'engine/crash');
  ({ eng, ref } = fx);
});

after(async () => {
  await fx?.stop();
});

function blobsHashToTheirNames(): number {
  const d = join(eng.root, 'engine/content/blobs/sha256');
  if (!existsSync(d)) return 0;
  let n = 0;
  for (const name of readdirSync(d)) {
    if (name.startsWith('.')) continue;
    assert.equal(
      createHash('sha256')
        .update(readFileSync(join(d, name)))
        .digest('hex'),
      name,
      `blob ${name} is torn`,
    );
    n++;
  }
  return n;
}

test(
  'kill -9 mid-pull, restart: consistent store, the pull completes, no torn blob',
  { skip, timeout: 300000 },
  async () => {
    const uuid = /UUID: (\S+)/.exec(eng.ctr(['version']).stdout)![1];
    const pull = spawn('ctr', ['-a', eng.sock, 'images', 'pull', '--plain-http', ref], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    pull.stderr.on('data', (b: Buffer) => (err += b.toString()));
    // Kill once a big layer is being written: an ingest in progress with bytes in it.
    const deadline = Date.now() + 60000;
    let cut = false;
    while (Date.now() < deadline && pull.exitCode === null) {
      const active = eng.ctr(['content', 'active']).stdout;
      const m = /layer-sha256:[0-9a-f]{64}\s+(\d+(?:\.\d+)?)\s*([kMG]i?B)/.exec(active);
      if (m && m[2] !== 'B' && (m[2]!.startsWith('M') || Number(m[1]) > 100)) {
        await eng.kill9();
        cut = true;
        break;
      }
      await sleep(10);
    }
    assert.ok(cut, `the pull finished before it could be cut (${err})`);
    await new Promise((r) => pull.once('exit', r));
    assert.notEqual(pull.exitCode, 0, 'the interrupted pull fails');

    await eng.restart();
    assert.equal(/UUID: (\S+)/.exec(eng.ctr(['version']).stdout)![1], uuid, 'the UUID is stable');
    const before = blobsHashToTheirNames();
    // Every content record the engine shows has its whole blob.
    for (const d of eng.ctr(['content', 'ls', '-q']).stdout.trim().split('\n').filter(Boolean)) {
      const got = spawnSync('ctr', ['-a', eng.sock, 'content', 'get', d], { maxBuffer: 1 << 28 });
      assert.equal(`sha256:${createHash('sha256').update(got.stdout).digest('hex')}`, d);
    }
    const partial = eng.ctr(['content', 'active']).stdout;
    assert.match(partial, /layer-sha256/, 'the interrupted ingest is kept for a resume');

    const again = eng.ctr(['images', 'pull', '--plain-http', ref], { timeout: 240000 });
    assert.equal(again.status, 0, again.stderr);
    assert.match(eng.ctr(['images', 'check']).stdout, /complete \(4\/4\).*true/);
    assert.equal(eng.ctr(['snapshots', 'ls']).stdout.trim().split('\n').length - 1, img.layers.length);
    const left = eng.ctr(['content', 'active']).stdout;
    // On a failure, the engine's lines about the leftover ref tell which stream made it.
    const leftRef = /layer-sha256:[0-9a-f]{64}/.exec(left)?.[0];
    const trail = leftRef
      ? eng
          .log()
          .split('\n')
          .filter((l) => l.includes(leftRef))
          .slice(-12)
          .join('\n')
      : '';
    assert.doesNotMatch(left, /layer-sha256/, `nothing left half-written:\n${left}\n${trail}`);
    const after = blobsHashToTheirNames();
    assert.ok(after >= before && after === img.layers.length + 2, `${after} blobs on disk`);
    // The big layer came out whole.
    const target = join(eng.dir, 'mnt');
    spawnSync('mkdir', ['-p', target]);
    const m = eng.ctr(['images', 'mount', ref, target]);
    assert.equal(m.status, 0, m.stderr);
    try {
      assert.equal(readFileSync(join(target, 'big2.bin')).length, 40 << 20);
    } finally {
      eng.ctr(['images', 'unmount', '--rm', target]);
    }
  },
);
