// docker import, docker commit, docker image prune and docker build on
// berthd over a real containerd, with the real docker CLI 28: imported and
// committed images run, carry their changes/author/message, show in
// containerd with their snapshots; prune removes dangling images (and with
// -a, unused ones matching the filters), keeps what containers use, and
// containerd has freed what it reports; a name moved to a new image leaves
// the old one dangling with its blobs even while containerd's gc runs
// meanwhile. Sources for import are served from 127.0.0.1 by the test itself.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { terminate } from '../../helpers/daemons.js';
import { busyboxLayerTar, freePort, sha256 } from '../../helpers/registry.js';
import { rawRequest, DOCKER_28, type Berthd } from '../../helpers/berthd.js';
import { waitUntil } from '../../helpers/wait.js';
import { lines } from './images-helpers.js';
import { berthdSkip, startBerthdStack, type BerthdStack } from '../../helpers/berthd-stack.js';

const skip = berthdSkip('containerd');

let stack: BerthdStack | undefined;
let b: Berthd;
let IMG = '';
let http: ChildProcess | undefined;
const www = mkdtempSync('/tmp/berthd-import-www-');
let base = '';

before(async () => {
  if (skip) return;
  stack = await startBerthdStack('containerd', {
    prefix: 'bcom-ctrd-',
    pull: (host) => [`${host}/berth/busybox:latest`],
  });
  ({ b, img: IMG } = stack);
  // Served by another process: the test's own event loop is blocked while the docker CLI runs.
  writeFileSync(join(www, 'rootfs.tar.gz'), gzipSync(busyboxLayerTar()));
  writeFileSync(join(www, 'not-a-tar'), 'hello, I am not a tarball\n'.repeat(40));
  const port = await freePort();
  http = spawn('python3', ['-m', 'http.server', String(port), '--bind', '127.0.0.1', '--directory', www], {
    stdio: 'ignore',
  });
  base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if ((await fetch(`${base}/not-a-tar`).catch(() => undefined))?.ok) break;
    if (i > 100) throw new Error('the file server did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
});

after(async () => {
  if (http?.pid) await terminate(http.pid);
  rmSync(www, { recursive: true, force: true });
  await stack?.stop();
});

const ctr = (args: string[]) => stack!.ctr(args);
const run = (img: string, ...cmd: string[]) => b.docker(['run', '--rm', '--network', 'none', img, ...cmd]);

test('docker import from a URL and from stdin: changes, message, platform; bad sources refused', { skip }, () => {
  const out = b.ok([
    'import',
    '--change',
    'ENV GREETING=hi-import',
    '--change',
    'CMD ["/bin/sh", "-c", "echo $GREETING"]',
    '--change',
    'LABEL imported.by=berthd',
    '-m',
    'from the test server',
    `${base}/rootfs.tar.gz`,
    'imp/url:1',
  ]);
  const id = lines(out).at(-1)!;
  assert.match(id, /^sha256:[a-f0-9]{64}$/);
  assert.equal(b.ok(['inspect', '-f', '{{.Id}}', 'imp/url:1']).trim(), id);
  assert.equal(run('imp/url:1').stdout, 'hi-import\n');
  // One layer whose diff id is the plain tar's sha256, however it was compressed on the way.
  assert.equal(
    b.ok(['inspect', '-f', '{{json .RootFS.Layers}}', 'imp/url:1']).trim(),
    JSON.stringify([sha256(busyboxLayerTar())]),
  );
  assert.equal(b.ok(['inspect', '-f', '{{index .Config.Labels "imported.by"}}', 'imp/url:1']).trim(), 'berthd');
  assert.match(b.ok(['history', '--format', '{{.Comment}}', 'imp/url:1']), /^from the test server$/m);
  assert.ok(lines(ctr(['images', 'ls', '-q']).stdout).includes('docker.io/imp/url:1'));

  // From stdin (a plain tar): the comment names the source "-", as dockerd's does.
  const r = spawnSync(DOCKER_28, ['import', '-', 'imp/stdin:1'], {
    input: busyboxLayerTar(),
    env: b.env,
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(b.ok(['history', '--format', '{{.Comment}}', 'imp/stdin:1']), /^Imported from -$/m);
  assert.equal(run('imp/stdin:1', 'echo', 'stdin-ok').stdout, 'stdin-ok\n');
  // Same layer, same snapshot: containerd holds one.
  assert.equal(
    b.ok(['inspect', '-f', '{{json .RootFS.Layers}}', 'imp/stdin:1']).trim(),
    JSON.stringify([sha256(busyboxLayerTar())]),
  );

  assert.equal(b.ok(['import', '--platform', 'linux/arm64', `${base}/rootfs.tar.gz`, 'imp/arm:1']).length > 0, true);
  assert.equal(b.ok(['inspect', '-f', '{{.Os}}/{{.Architecture}}', 'imp/arm:1']).trim(), 'linux/arm64');

  const before = lines(ctr(['images', 'ls', '-q']).stdout);
  const missing = b.docker(['import', `${base}/nope.tar`, 'imp/bad:1']);
  assert.notEqual(missing.status, 0);
  assert.match(missing.stderr + missing.stdout, /failed to GET .*nope\.tar with status 404/);
  const notTar = b.docker(['import', `${base}/not-a-tar`, 'imp/bad:2']);
  assert.notEqual(notTar.status, 0);
  assert.match(notTar.stderr + notTar.stdout, /not a tar archive/);
  const badChange = b.docker(['import', '--change', 'RUN rm -rf /', `${base}/rootfs.tar.gz`, 'imp/bad:3']);
  assert.notEqual(badChange.status, 0);
  assert.match(badChange.stderr + badChange.stdout, /RUN cannot be changed on import/);
  assert.deepEqual(lines(ctr(['images', 'ls', '-q']).stdout), before, 'no image from a refused import');
});

test("docker commit: the container's changes as a new layer, config, author, message, pause", { skip }, async () => {
  const c = b
    .ok([
      'run',
      '-d',
      '--name',
      'com1',
      '--network',
      'none',
      '-e',
      'FROM_RUN=1',
      IMG,
      'sh',
      '-c',
      'echo committed > /data.txt; rm /etc/group; sleep 300',
    ])
    .trim();
  await waitUntil('the container to write', () => b.docker(['exec', c, 'cat', '/data.txt']).stdout === 'committed\n');
  const baseLayers = JSON.parse(b.ok(['inspect', '-f', '{{json .RootFS.Layers}}', IMG])) as string[];
  const id = b
    .ok([
      'commit',
      '-a',
      'Berth Test <t@example.org>',
      '-m',
      'first commit',
      '-c',
      'CMD ["cat", "/data.txt"]',
      'com1',
      'com/mit:1',
    ])
    .trim();
  assert.match(id, /^sha256:[a-f0-9]{64}$/);
  // The task was paused for the diff and resumed after it.
  assert.equal(b.ok(['inspect', '-f', '{{.State.Status}}', 'com1']).trim(), 'running');
  assert.equal(b.ok(['inspect', '-f', '{{.Id}}', 'com/mit:1']).trim(), id);
  assert.equal(run('com/mit:1').stdout, 'committed\n');
  // The removed file is a whiteout in the new layer: gone in the image.
  assert.equal(run('com/mit:1', 'test', '-e', '/etc/group').status, 1);
  // The container's env came along; the layers are the base's plus one.
  assert.match(run('com/mit:1', 'env').stdout, /^FROM_RUN=1$/m);
  const layers = JSON.parse(b.ok(['inspect', '-f', '{{json .RootFS.Layers}}', 'com/mit:1'])) as string[];
  assert.deepEqual(layers.slice(0, -1), baseLayers);
  assert.equal(layers.length, baseLayers.length + 1);
  assert.equal(b.ok(['inspect', '-f', '{{.Author}}', 'com/mit:1']).trim(), 'Berth Test <t@example.org>');
  assert.match(lines(b.ok(['history', '--format', '{{.Comment}}', 'com/mit:1']))[0]!, /^first commit$/);
  // containerd has the image and the new layer's snapshot.
  assert.ok(lines(ctr(['images', 'ls', '-q']).stdout).includes('docker.io/com/mit:1'));
  const snaps = ctr(['snapshots', 'ls']).stdout;
  assert.ok(lines(snaps).filter((l) => /\sCommitted\s*$/.test(l)).length >= 2, snaps);

  // Committed again under the same name: the first image is left dangling, as with dockerd.
  b.ok(['exec', c, 'sh', '-c', 'echo second > /data.txt']);
  b.ok(['stop', '-t', '1', 'com1']);
  const id2 = b.ok(['commit', '--pause=false', 'com1', 'com/mit:1']).trim();
  assert.notEqual(id2, id);
  // No CMD change this time: the image runs the container's own command, as dockerd's commit keeps it.
  assert.deepEqual(
    JSON.parse(b.ok(['inspect', '-f', '{{json .Config.Cmd}}', 'com/mit:1'])),
    JSON.parse(b.ok(['inspect', '-f', '{{json .Config.Cmd}}', 'com1'])),
  );
  assert.equal(run('com/mit:1', 'cat', '/data.txt').stdout, 'second\n');
  assert.equal(b.ok(['images', '-q', '--no-trunc', '--filter', 'dangling=true']).trim(), id);
  const noSuch = b.docker(['commit', 'no-such-container', 'x/y:1']);
  assert.notEqual(noSuch.status, 0);
  assert.match(noSuch.stderr, /No such container: no-such-container/);
  b.ok(['rm', 'com1']);
});

test(
  'docker image prune: dangling by default, -a with label filter, images in use kept, space reclaimed',
  { skip },
  () => {
    const dangling = b.ok(['images', '-q', '--no-trunc', '--filter', 'dangling=true']).trim();
    assert.match(dangling, /^sha256:/, 'the commit test left one dangling image');
    const contentBefore = lines(ctr(['content', 'ls', '-q']).stdout);
    assert.ok(contentBefore.includes(dangling));
    const out = b.ok(['image', 'prune', '-f']);
    assert.match(out, new RegExp(`^deleted: ${dangling}$`, 'm'));
    const space = /Total reclaimed space: ([\d.]+)(k?B|MB)/.exec(out);
    assert.ok(space && Number(space[1]) > 0, out);
    assert.ok(
      !lines(ctr(['content', 'ls', '-q']).stdout).includes(dangling),
      'its config blob is gone from containerd',
    );
    assert.equal(b.ok(['images', '-q', '--filter', 'dangling=true']).trim(), '');
    assert.match(b.ok(['image', 'prune', '-f']), /Total reclaimed space: 0B/);

    // A dangling image that a container uses is kept until the container goes.
    const c = b.ok(['create', '--name', 'keeper', '--network', 'none', 'com/mit:1']).trim();
    const kept = b.ok(['commit', c]).trim();
    b.ok(['rm', c]);
    const c2 = b.ok(['create', '--network', 'none', kept]).trim();
    assert.doesNotMatch(b.ok(['image', 'prune', '-f']), new RegExp(kept));
    assert.equal(b.ok(['inspect', '-f', '{{.Id}}', kept]).trim(), kept);
    b.ok(['rm', c2]);
    assert.match(b.ok(['image', 'prune', '-f']), new RegExp(`deleted: ${kept}`));

    // -a with a label: only the unused images carrying it.
    b.ok(['import', '--change', 'LABEL prune.me=yes', `${base}/rootfs.tar.gz`, 'prune/me:1']);
    const pruned = b.ok(['image', 'prune', '-a', '-f', '--filter', 'label=prune.me=yes']);
    assert.match(pruned, /^untagged: prune\/me:1$/m);
    assert.notEqual(b.docker(['inspect', 'prune/me:1']).status, 0);
    assert.equal(b.docker(['inspect', IMG]).status, 0, 'the images without the label stay');
    assert.equal(b.docker(['inspect', 'imp/url:1']).status, 0);
    const bad = b.docker(['image', 'prune', '-f', '--filter', 'nonsense=1']);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /invalid filter 'nonsense'/);
  },
);

test(
  'a name moved to a new image leaves the old one dangling with its blobs, while gc runs meanwhile',
  { skip },
  () => {
    // Another client keeps containerd's gc running the whole time (a lease made and dropped with a
    // synchronous gc, over and over): a moment where no record holds the old image must not exist.
    const churn = spawn(
      'sh',
      [
        '-c',
        'i=0; while :; do i=$((i+1)); ctr -a "$0" leases create --id "gc-churn-$i" >/dev/null && ctr -a "$0" leases delete --sync "gc-churn-$i"; done',
        stack!.sock,
      ],
      { stdio: 'ignore', detached: true },
    );
    try {
      const ids: string[] = [];
      for (let i = 0; i < 12; i++) {
        const out = b.ok(['import', '--change', `LABEL gc.round=${i}`, `${base}/rootfs.tar.gz`, 'gc/moved:1']);
        ids.push(lines(out).at(-1)!);
      }
      const content = lines(ctr(['content', 'ls', '-q']).stdout);
      const dangling = lines(b.ok(['images', '-q', '--no-trunc', '--filter', 'dangling=true']));
      for (const id of ids.slice(0, -1)) {
        assert.ok(dangling.includes(id), `${id} is listed as dangling`);
        assert.ok(content.includes(id), `the config blob of ${id} is still in containerd`);
      }
    } finally {
      // The loop and its ctr of the moment: the whole process group.
      if (churn.pid) process.kill(-churn.pid, 'SIGKILL');
    }
    for (const id of lines(b.ok(['images', '-q', '--no-trunc', '--filter', 'label=gc.round']))) b.docker(['rmi', id]);
    b.docker(['rmi', 'gc/moved:1']);
  },
);

test('docker build answers as dockerd does without the builder asked for', { skip }, async () => {
  const v2 = await rawRequest(b.sock, 'POST', '/v1.47/build?version=2', '', { 'Content-Type': 'application/x-tar' });
  assert.equal(v2.status, 400);
  assert.equal(JSON.parse(v2.body).message, 'buildkit is not enabled on daemon');
  const v1 = await rawRequest(b.sock, 'POST', '/v1.47/build', '', { 'Content-Type': 'application/x-tar' });
  assert.equal(v1.status, 501);
  assert.match(JSON.parse(v1.body).message, /no image builder/);
  // The docker CLI's classic builder (berthd's /_ping says Builder-Version 1) gets the 501 and says so.
  const cli = spawnSync(DOCKER_28, ['build', '-t', 'no/build:1', '-'], {
    input: 'FROM scratch\n',
    env: { ...b.env, DOCKER_BUILDKIT: '0' },
    encoding: 'utf8',
  });
  assert.notEqual(cli.status, 0);
  assert.match(cli.stderr, /no image builder/);
  assert.equal((await rawRequest(b.sock, 'GET', '/_ping')).status, 200);
});
