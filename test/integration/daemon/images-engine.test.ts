// The image flows of images-archive and images-commit on berth-engine
// instead of containerd: save → rmi → load → run, docker import from stdin,
// commit of a running container, prune, and a hostile archive refused with
// nothing left in the engine. berthd speaks containerd's API to both.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { busyboxLayerTar, sha256 } from '../../helpers/registry.js';
import { DOCKER_28, type Berthd } from '../../helpers/berthd.js';
import { waitUntil } from '../../helpers/wait.js';
import { lines, makeTar } from './images-helpers.js';
import { berthdSkip, startBerthdStack, type BerthdStack } from '../../helpers/berthd-stack.js';
import { scratchDir } from '../../helpers/scratch.js';

const skip = berthdSkip('engine');

let s: BerthdStack | undefined;
let b: Berthd;
let IMG = '';
const scratch = scratchDir('/tmp/berthd-img-eng-');

before(async () => {
  if (skip) return;
  s = await startBerthdStack('engine', { prefix: 'bimg-eng-', pull: (host) => [`${host}/berth/busybox:latest`] });
  ({ b, img: IMG } = s);
});

after(async () => {
  await s?.stop();
});

const inEngine = (args: string[]) => lines(s!.ctr(args).stdout).sort();
const run = (img: string, ...cmd: string[]) => b.docker(['run', '--rm', '--network', 'none', img, ...cmd]);

test('on berth-engine: save, rmi, load, run; import; commit; prune', { skip }, async () => {
  b.ok(['tag', IMG, 'eng/saved:1']);
  const file = join(scratch, 'saved.tar');
  b.ok(['save', '-o', file, 'eng/saved:1']);
  b.ok(['rmi', 'eng/saved:1']);
  assert.match(b.ok(['load', '-i', file]), /^Loaded image: eng\/saved:1$/m);
  assert.ok(inEngine(['images', 'ls', '-q']).includes('docker.io/eng/saved:1'));
  assert.equal(run('eng/saved:1', 'echo', 'loaded-on-engine').stdout, 'loaded-on-engine\n');

  const imp = spawnSync(DOCKER_28, ['import', '-c', 'CMD ["echo", "imported-on-engine"]', '-', 'eng/imp:1'], {
    input: busyboxLayerTar(),
    env: b.env,
    encoding: 'utf8',
  });
  assert.equal(imp.status, 0, imp.stderr);
  assert.equal(run('eng/imp:1').stdout, 'imported-on-engine\n');
  assert.equal(
    b.ok(['inspect', '-f', '{{json .RootFS.Layers}}', 'eng/imp:1']).trim(),
    JSON.stringify([sha256(busyboxLayerTar())]),
  );

  const c = b
    .ok(['run', '-d', '--network', 'none', IMG, 'sh', '-c', 'echo on-engine > /made.txt; rm /etc/passwd; sleep 300'])
    .trim();
  await waitUntil('the file', () => b.docker(['exec', c, 'cat', '/made.txt']).stdout === 'on-engine\n');
  const id = b.ok(['commit', '-m', 'engine commit', c, 'eng/com:1']).trim();
  assert.equal(b.ok(['inspect', '-f', '{{.State.Status}}', c]).trim(), 'running');
  assert.equal(run('eng/com:1', 'cat', '/made.txt').stdout, 'on-engine\n');
  assert.equal(run('eng/com:1', 'test', '-e', '/etc/passwd').status, 1, 'the whiteout hides the removed file');
  b.ok(['rm', '-f', c]);

  // Committed again under the name: the first is dangling, and prune takes it from the engine.
  const c2 = b.ok(['create', '--network', 'none', 'eng/com:1']).trim();
  b.ok(['commit', c2, 'eng/com:1']);
  b.ok(['rm', c2]);
  assert.ok(inEngine(['content', 'ls', '-q']).includes(id));
  const out = b.ok(['image', 'prune', '-f']);
  assert.match(out, new RegExp(`^deleted: ${id}$`, 'm'));
  assert.ok(!inEngine(['content', 'ls', '-q']).includes(id), 'the config blob is gone from the engine');
});

test('on berth-engine: a hostile archive is refused naming the entry, nothing left', { skip }, async () => {
  const before = { content: inEngine(['content', 'ls', '-q']), images: inEngine(['images', 'ls', '-q']) };
  const big = Buffer.alloc(200_000, 7);
  const archive = await makeTar([
    [`blobs/sha256/${sha256(big).slice(7)}`, big],
    ['manifest.json', Buffer.from(JSON.stringify([{ Config: '../../etc/passwd', RepoTags: ['x/y:1'], Layers: [] }]))],
  ]);
  const file = join(scratch, 'hostile.tar');
  writeFileSync(file, archive);
  const r = b.docker(['load', '-i', file]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /manifest\.json\[0\]: config path "\.\.\/\.\.\/etc\/passwd" leads out of the archive/);
  assert.deepEqual(
    inEngine(['content', 'ls', '-q']),
    before.content,
    'the blob streamed in before the refusal is gone',
  );
  assert.deepEqual(inEngine(['images', 'ls', '-q']), before.images);
});
