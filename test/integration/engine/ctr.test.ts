// berth-engine driven by the real ctr (Debian's containerd 1.6 package),
// one engine per file on a temp root and socket: version, plugins,
// namespaces, a pull from the local registry with events watched, images,
// content, snapshots, leases, export/import, removal with GC, and bad input.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  readFileSync,
  readdirSync,
  statSync,
  existsSync,
  writeFileSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
} from 'node:fs';
import { join } from 'node:path';
import { type BuiltImage } from '../../helpers/registry.js';
import { waitUntil } from '../../helpers/daemons.js';
import { layeredImage, type Engine, pullFixture, pullSkip, type PullFixture, spawnIngest } from './helpers.js';

const skip = pullSkip;

let fx: PullFixture | undefined;
let eng: Engine;
let img: BuiltImage;
let ref: string;
let configDir: string | undefined;

before(async () => {
  if (skip) return;
  img = layeredImage(2);
  // GC long after a deletion: `ctr snapshots diff` drops its lease at its
  // end, and the test then reads the layer it stored, which nothing holds
  // any more (containerd would collect it too, only later); the engine's
  // own 100 ms timer, set by an earlier removal, raced that read.
  configDir = mkdtempSync('/tmp/berth-eng-ctr-cfg-');
  writeFileSync(join(configDir, 'engine.json'), JSON.stringify({ berth: { gc_delay_ms: 5000 } }));
  fx = await pullFixture('berth-eng-ctr-', img, 'engine/ctr', ['--config', join(configDir, 'engine.json')]);
  ({ eng, ref } = fx);
});

after(async () => {
  await fx?.stop();
  if (configDir) rmSync(configDir, { recursive: true, force: true });
});

function ok(args: string[], ns = 'default'): string {
  const r = eng.ctr(args, { ns });
  assert.equal(r.status, 0, `ctr ${args.join(' ')} failed: ${r.stderr}\n${eng.log().slice(-2000)}`);
  return r.stdout;
}

function fails(args: string[], pattern: RegExp, ns = 'default'): string {
  const r = eng.ctr(args, { ns });
  assert.notEqual(r.status, 0, `ctr ${args.join(' ')} should fail: ${r.stdout} ${r.stderr}\n${eng.log().slice(-3000)}`);
  assert.match(r.stderr, pattern);
  return r.stderr;
}

function blobsOnDisk(): string[] {
  const d = join(eng.root, 'engine/content/blobs/sha256');
  return existsSync(d)
    ? readdirSync(d)
        .filter((n) => /^[0-9a-f]{64}$/.test(n))
        .map((n) => `sha256:${n}`)
    : [];
}

test('version and plugins', { skip }, () => {
  const v = ok(['version']);
  assert.match(v, /Server:\s+Version:\s+0\.1\.0\s+Revision:\s+berth\s+UUID: [0-9a-f-]{36}/);
  const plugins = ok(['plugins', 'ls']);
  for (const [type, id] of <[string, string][]>[
    ['io.containerd.snapshotter.v1', 'overlayfs'],
    ['io.containerd.snapshotter.v1', 'native'],
    ['io.containerd.grpc.v1', 'content'],
    ['io.containerd.grpc.v1', 'images'],
    ['io.containerd.grpc.v1', 'snapshots'],
    ['io.containerd.grpc.v1', 'diff'],
    ['io.containerd.grpc.v1', 'leases'],
    ['io.containerd.grpc.v1', 'events'],
  ]) {
    assert.match(plugins, new RegExp(`${type.replace(/\./g, '\\.')}\\s+${id}\\s+\\S+\\s+ok`), `${type} ${id}`);
  }
  const snaps = ok(['plugins', 'ls', 'type==io.containerd.snapshotter.v1']).trim().split('\n').slice(1);
  assert.deepEqual(snaps.map((l) => l.split(/\s+/)[1]).sort(), ['native', 'overlayfs']);
});

test('namespaces: create, label, list, remove; only an empty one is removed', { skip }, () => {
  ok(['namespaces', 'create', 'eng-ns1', 'team=blue']);
  ok(['namespaces', 'label', 'eng-ns1', 'stage=dev']);
  const ls = ok(['namespaces', 'ls']);
  assert.match(ls, /eng-ns1\s+stage=dev,team=blue|eng-ns1\s+team=blue,stage=dev/);
  fails(['namespaces', 'create', 'eng-ns1'], /namespace "eng-ns1": already exists/);
  fails(['namespaces', 'create', 'a/b'], /identifier "a\/b" must match/);
  fails(
    ['namespaces', 'label', 'eng-ns1', `big=${'x'.repeat(4100)}`],
    /label key and value greater than maximum size \(4096 bytes\)/,
  );
  // A namespace with something in it stays.
  ok(['leases', 'create', '--id', 'holder'], 'eng-ns1');
  fails(
    ['namespaces', 'rm', 'eng-ns1'],
    /namespace "eng-ns1" must be empty, but it still has leases: failed precondition/,
  );
  ok(['leases', 'rm', 'holder'], 'eng-ns1');
  ok(['namespaces', 'rm', 'eng-ns1']);
  assert.doesNotMatch(ok(['namespaces', 'ls']), /eng-ns1/);
  // ctr ignores NotFound on rm (prints the name, exits 0); the engine answered it.
  ok(['namespaces', 'rm', 'eng-ns1']);
  assert.match(
    eng.log(),
    /"method":"namespaces.Delete","namespace":"eng-ns1","code":5,"error":"namespace \\"eng-ns1\\": not found"/,
  );
});

test('pull --plain-http with events watched; images, content and snapshots as ctr shows them', { skip }, async () => {
  const events = spawn('ctr', ['-a', eng.sock, 'events'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let seen = '';
  events.stdout.on('data', (b: Buffer) => (seen += b.toString()));
  try {
    // The subscription is live once a published event comes through.
    await waitUntil(
      'the events subscription',
      () => {
        eng.ctr(['namespaces', 'create', `eng-probe-${Date.now()}`]);
        return seen.includes('/namespaces/create');
      },
      10000,
      200,
    );
    const out = ok(['images', 'pull', '--plain-http', ref], 'eng-pull');
    assert.match(out, /unpacking linux\/\w+ sha256:[0-9a-f]{64}\.\.\.\s*\ndone/);
    await waitUntil('the image event', () => seen.includes('/images/create'), 10000);
  } finally {
    events.kill();
  }
  for (const topic of ['/snapshot/prepare', '/snapshot/commit', '/images/create']) {
    assert.match(seen, new RegExp(`eng-pull ${topic}`), `event ${topic} in:\n${seen}`);
  }
  assert.match(seen, new RegExp(`/images/create \\{"name":"${ref.replace(/[./]/g, '\\$&')}"`));

  // images ls / check
  const ls = ok(['images', 'ls'], 'eng-pull');
  assert.match(
    ls,
    new RegExp(
      `${ref.replace(/[./]/g, '\\$&')}\\s+application/vnd\\.oci\\.image\\.manifest\\.v1\\+json\\s+${img.manifest.digest}`,
    ),
  );
  assert.match(ok(['images', 'check'], 'eng-pull'), /complete \(6\/6\).*true/);
  assert.equal(ok(['images', 'ls', '-q'], 'default').trim(), '', 'the default namespace does not see eng-pull images');
  assert.equal(ok(['images', 'ls', '-q', `name==${ref}`], 'eng-pull').trim(), ref);
  assert.equal(ok(['images', 'ls', '-q', 'name==nothing'], 'eng-pull').trim(), '');

  // content: every blob, with the labels ctr put on them; get returns the bytes
  const content = ok(['content', 'ls', '-q'], 'eng-pull').trim().split('\n').sort();
  const want = [img.manifest.digest, img.config.digest, ...img.layers.map((l) => l.digest)].sort();
  assert.deepEqual(content, [...new Set(want)].sort());
  const got = spawnSync('ctr', ['-a', eng.sock, '-n', 'eng-pull', 'content', 'get', img.manifest.digest], {
    maxBuffer: 1 << 26,
  });
  assert.equal(got.status, 0);
  assert.deepEqual(got.stdout, img.manifestBytes);
  const layer = spawnSync('ctr', ['-a', eng.sock, '-n', 'eng-pull', 'content', 'get', img.layers[0]!.digest], {
    maxBuffer: 1 << 26,
  });
  assert.equal(createHash('sha256').update(layer.stdout).digest('hex'), img.layers[0]!.digest.slice(7));
  assert.match(
    ok(['content', 'ls'], 'eng-pull'),
    new RegExp(`${img.config.digest}.*containerd\\.io/gc\\.ref\\.snapshot\\.overlayfs=sha256:`),
  );
  fails(['content', 'get', img.manifest.digest], /not found/, 'default');

  // snapshots: one committed snapshot per layer, chained
  const snaps = ok(['snapshots', 'ls'], 'eng-pull').trim().split('\n').slice(1);
  assert.equal(snaps.length, img.layers.length);
  assert.ok(snaps.every((l) => /Committed\s*$/.test(l)));
  const tree = ok(['snapshots', 'tree'], 'eng-pull');
  assert.equal((tree.match(/\\_/g) ?? []).length, img.layers.length - 1, tree);
  const top = snaps.map((l) => l.split(/\s+/)[0]!).find((k) => !snaps.some((l) => l.split(/\s+/)[1] === k))!;
  const usage = ok(['snapshots', 'usage', top], 'eng-pull');
  assert.match(usage, /KEY\s+SIZE\s+INODES/);
  const baseKey = snaps.find((l) => l.trim().split(/\s+/).length === 2)!.split(/\s+/)[0]!;
  const base = ok(['snapshots', 'usage', baseKey], 'eng-pull').trim().split('\n')[1]!.split(/\s+/);
  assert.ok(Number(base.at(-1)) > 200, `the busybox layer has hundreds of inodes: ${base.join(' ')}`);
  assert.equal(ok(['snapshots', 'ls'], 'default').trim().split('\n').length, 1, 'no snapshots in default');
  assert.equal(ok(['leases', 'ls', '-q'], 'eng-pull').trim(), '', "the pull's lease is gone");
});

test('a mounted image shows the layers applied: whiteouts, opaque dirs, links', { skip }, () => {
  const target = join(eng.dir, 'mnt');
  mkdirSync(target);
  ok(['images', 'mount', '--rw', ref, target], 'eng-pull');
  try {
    assert.ok(existsSync(join(target, 'bin/busybox')));
    assert.equal(existsSync(join(target, 'hello.txt')), false, 'whited out by a later layer');
    assert.deepEqual(readdirSync(join(target, 'etc/opaque')), ['kept']);
    assert.equal(readFileSync(join(target, 'data-sym'), 'utf8'), 'data\n');
    assert.equal(statSync(join(target, 'data.txt')).ino, statSync(join(target, 'data-link.txt')).ino);
    assert.equal(readFileSync(join(target, 'extra-1.bin')).length, 1777);
  } finally {
    ok(['images', 'unmount', '--rm', target], 'eng-pull');
  }
});

test('snapshots diff: the changes of an active snapshot as a layer (diff service Diff)', { skip }, () => {
  const snaps = ok(['snapshots', 'ls'], 'eng-pull')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(/\s+/));
  const top = snaps.find((s) => !snaps.some((o) => o[1] === s[0]))![0]!;
  ok(['snapshots', 'prepare', 'eng-work', top], 'eng-pull');
  const mnt = join(eng.dir, 'work');
  mkdirSync(mnt);
  const cmd = ok(['snapshots', 'mounts', mnt, 'eng-work'], 'eng-pull');
  assert.equal(spawnSync('sh', ['-c', cmd]).status, 0, cmd);
  try {
    writeFileSync(join(mnt, 'new.txt'), 'new\n');
    writeFileSync(join(mnt, 'data.txt'), 'changed\n');
    rmSync(join(mnt, 'extra-0.bin'));
    rmSync(join(mnt, 'etc/opaque'), { recursive: true });
  } finally {
    spawnSync('umount', [mnt]);
  }
  const d = spawnSync('ctr', ['-a', eng.sock, '-n', 'eng-pull', 'snapshots', 'diff', 'eng-work'], {
    maxBuffer: 1 << 26,
  });
  assert.equal(d.status, 0, d.stderr.toString());
  writeFileSync(join(eng.dir, 'diff.tgz'), d.stdout);
  const listing = spawnSync('tar', ['-tzf', join(eng.dir, 'diff.tgz')], { encoding: 'utf8' })
    .stdout.trim()
    .split('\n')
    .sort();
  assert.deepEqual(listing, ['.wh.extra-0.bin', 'data.txt', 'etc', 'etc/.wh.opaque', 'new.txt']);
  const body = spawnSync('tar', ['-xzOf', join(eng.dir, 'diff.tgz'), 'data.txt'], { encoding: 'utf8' }).stdout;
  assert.equal(body, 'changed\n');
  // The layer is in the namespace's content, with its uncompressed digest.
  const digest = `sha256:${createHash('sha256').update(d.stdout).digest('hex')}`;
  const tarDigest = `sha256:${createHash('sha256')
    .update(spawnSync('gzip', ['-dc'], { input: d.stdout }).stdout)
    .digest('hex')}`;
  assert.match(ok(['content', 'ls'], 'eng-pull'), new RegExp(`${digest}.*containerd\\.io/uncompressed=${tarDigest}`));
  ok(['snapshots', 'rm', 'eng-work'], 'eng-pull');
  ok(['content', 'rm', digest], 'eng-pull');
});

test('export, then import into another namespace; content fetch', { skip }, () => {
  const out = join(eng.dir, 'export.tar');
  ok(['images', 'export', out, ref], 'eng-pull');
  const listing = spawnSync('tar', ['-tf', out], { encoding: 'utf8' }).stdout;
  assert.match(listing, /index\.json/);
  assert.match(listing, new RegExp(`blobs/sha256/${img.manifest.digest.slice(7)}`));
  ok(['images', 'import', out], 'eng-imported');
  assert.match(ok(['images', 'ls'], 'eng-imported'), new RegExp(img.manifest.digest));
  assert.match(ok(['images', 'check'], 'eng-imported'), /complete \(6\/6\)/);
  // fetch: content only, into a third namespace
  ok(['content', 'fetch', '--plain-http', ref], 'eng-fetch');
  assert.ok(ok(['content', 'ls', '-q'], 'eng-fetch').includes(img.layers[1]!.digest));
});

test('leases: create with labels and expiry, list, filter, remove', { skip }, () => {
  ok(['leases', 'create', '--id', 'eng-l1', '--expires', '1h', 'owner=test']);
  ok(['leases', 'create', '--id', 'eng-l2']);
  const ls = ok(['leases', 'ls']);
  assert.match(ls, /eng-l1 .*containerd\.io\/gc\.expire=\d{4}-\d\d-\d\dT.*owner=test|eng-l1 .*owner=test/);
  assert.deepEqual(ok(['leases', 'ls', '-q', 'id==eng-l2']).trim().split('\n'), ['eng-l2']);
  assert.deepEqual(ok(['leases', 'ls', '-q', 'labels.owner==test']).trim().split('\n'), ['eng-l1']);
  fails(['leases', 'create', '--id', 'eng-l1'], /lease "eng-l1": already exists/);
  ok(['leases', 'rm', 'eng-l1', 'eng-l2']);
  assert.equal(ok(['leases', 'ls', '-q']).trim(), '');
  fails(['leases', 'rm', 'eng-l1'], /lease "eng-l1": not found/);
});

test('images rm --sync: GC removes the content and snapshots nothing else holds', { skip }, () => {
  const before = blobsOnDisk();
  assert.ok(before.includes(img.layers[0]!.digest));
  ok(['images', 'rm', '--sync', ref], 'eng-pull');
  assert.equal(ok(['content', 'ls', '-q'], 'eng-pull').trim(), '');
  assert.equal(ok(['snapshots', 'ls'], 'eng-pull').trim().split('\n').length, 1);
  // eng-imported still has its image: the shared blobs stay on disk.
  assert.ok(blobsOnDisk().includes(img.layers[0]!.digest));
  ok(['images', 'rm', '--sync', ref], 'eng-imported');
  // content fetched without an image is not referenced either: the next GC takes it.
  for (const d of ok(['content', 'ls', '-q'], 'eng-fetch').trim().split('\n').filter(Boolean))
    ok(['content', 'rm', d], 'eng-fetch');
  ok(['leases', 'create', '--id', 'gc-kick'], 'eng-fetch');
  ok(['leases', 'rm', '--sync', 'gc-kick'], 'eng-fetch');
  assert.deepEqual(blobsOnDisk(), [], 'no blob left once no namespace holds one');
});

test('bad input gets the right error and the engine keeps serving', { skip }, async () => {
  // Unknown namespace: empty lists, NotFound naming the object, nothing created.
  assert.equal(ok(['images', 'ls', '-q'], 'eng-nosuch').trim(), '');
  fails(['content', 'get', `sha256:${'0'.repeat(64)}`], /content digest sha256:0+: not found/, 'eng-nosuch');
  assert.doesNotMatch(ok(['namespaces', 'ls', '-q']), /eng-nosuch/);
  fails(['content', 'get', 'sha256:zz'], /invalid/);
  fails(['snapshots', '--snapshotter', 'btrfs', 'ls'], /snapshotter not loaded: btrfs/);
  fails(['snapshots', 'rm', 'nope'], /snapshot nope does not exist: not found/);
  fails(['images', 'ls', 'name=='], /filters: parse error/);

  // A commit with the wrong digest: FailedPrecondition, nothing stored.
  const data = Buffer.from('some bytes for a wrong-digest ingest\n');
  const wrong = `sha256:${'1'.repeat(64)}`;
  let r = eng.ctr(
    ['content', 'ingest', '--expected-digest', wrong, '--expected-size', String(data.length), 'eng-wrong'],
    { input: data },
  );
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /unexpected commit digest sha256:[0-9a-f]{64}, expected sha256:1{64}: failed precondition/);
  assert.equal(ok(['content', 'ls', '-q']).includes(createHash('sha256').update(data).digest('hex')), false);
  assert.doesNotMatch(ok(['content', 'active']), /eng-wrong/);

  // A write past the expected size: OutOfRange; the blob is not committed.
  writeFileSync(join(eng.dir, 'past.bin'), 'more than four bytes');
  r = spawnSync(
    'sh',
    ['-c', `exec ctr -a ${eng.sock} content ingest --expected-size 4 eng-past < ${join(eng.dir, 'past.bin')}`],
    { encoding: 'utf8' },
  );
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /passes the expected size 4/);
  assert.equal(ok(['content', 'ls', '-q']).trim(), '');

  // A client that goes away mid-stream: the partial ingest stays, unlocked, and resumes.
  const big = Buffer.alloc(3 << 20, 7);
  const digest = `sha256:${createHash('sha256').update(big).digest('hex')}`;
  const p = spawnIngest(eng.sock, { digest, size: big.length }, 'eng-resume');
  p.stdin.on('error', () => undefined);
  p.stdin.write(big.subarray(0, 1 << 20));
  await waitUntil('a partial ingest', () => /eng-resume/.test(eng.ctr(['content', 'active']).stdout), 10000, 100);
  p.kill('SIGKILL');
  await new Promise((res) => p.once('exit', res));
  // ctr resumes from the offset the engine reports, seeking its input: give it a file.
  const file = join(eng.dir, 'big.bin');
  writeFileSync(file, big);
  await waitUntil('the ref to unlock', () => {
    r = spawnSync(
      'sh',
      [
        '-c',
        `exec ctr -a ${eng.sock} content ingest --expected-digest ${digest} --expected-size ${big.length} eng-resume < ${file}`,
      ],
      { encoding: 'utf8' },
    );
    return r.status === 0 || !/locked/.test(r.stderr);
  });
  assert.equal(r.status, 0, r.stderr);
  // the call's log line comes at the end of the stream, which ctr does not wait for once it has the commit
  await waitUntil(
    'the Write call in the log',
    () => /"method":"content.Write"[^\n]*"ref":"eng-resume"/.test(eng.log()),
    5000,
    50,
  );
  assert.ok(ok(['content', 'ls', '-q']).includes(digest));
  assert.doesNotMatch(ok(['content', 'active']), /eng-resume/);
  const stored = spawnSync('ctr', ['-a', eng.sock, 'content', 'get', digest], { maxBuffer: 1 << 26 }).stdout;
  assert.ok(stored.equals(big));

  // Still serving.
  assert.match(ok(['version']), /Version:\s+0\.1\.0/);
});

test('log lines are JSON with the namespace and object ids', { skip }, () => {
  const lines = eng
    .log()
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const pull = lines.filter((l) => l.method === 'content.Write' && l.namespace === 'eng-pull');
  assert.ok(pull.length > 0);
  assert.ok(pull.every((l) => typeof l.ref === 'string' && typeof l.time === 'string' && typeof l.level === 'string'));
  const failed = lines.find((l) => l.msg === 'call failed' && l.method === 'snapshots.Remove');
  assert.equal(failed?.key, 'nope');
  assert.equal(failed?.code, 5);
});
