// berth-ctr against a real registry (Debian's docker-registry on 127.0.0.1):
// push, pull (with unpack), login/logout with htpasswd, and a pull killed with
// SIGKILL then run again.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startRegistry, haveHtpasswd, registryMissing, type RegistryInstance } from '../../helpers/registry.js';
import { tempDir, busyboxTar, privateCtr, toolsMissing, run } from './fixtures.js';

const skip = toolsMissing || registryMissing;
const {
  argv: [CTR, ...CTR_ARGS],
  ctr,
  ok,
} = privateCtr('ctr-pp-test', skip);

let reg: RegistryInstance | undefined;
const t = tempDir('berth-ctr-reg-');

before(async () => {
  if (skip) return;
  reg = await startRegistry();
});

after(async () => {
  await reg?.stop();
  t.cleanup();
});

function blobsVerify(root: string): void {
  for (const alg of ['sha256', 'sha512']) {
    const d = join(root, 'content/blobs', alg);
    if (!existsSync(d)) continue;
    for (const n of readdirSync(d)) {
      if (n.startsWith('.')) continue;
      assert.equal(
        createHash(alg)
          .update(readFileSync(join(d, n)))
          .digest('hex'),
        n,
        `blob ${alg}:${n} hashes to its name`,
      );
    }
  }
}

test('push to and pull from a real registry, with unpack', { skip }, () => {
  const a = join(t.dir, 'a');
  const b = join(t.dir, 'b');
  busyboxTar(join(t.dir, 'rootfs.tar'), { 'etc/pushed': 'yes\n' });
  const [, digest] = ok(a, ['images', 'import', '--rootfs', join(t.dir, 'rootfs.tar'), 'local/bb:1'])
    .trim()
    .split(' ');
  const remote = `${reg!.host}/berth/busybox:v1`;
  const pushed = ok(a, ['images', 'push', 'local/bb:1', remote]);
  assert.match(pushed, new RegExp(`digest: ${digest}`));
  // The registry serves what we pushed: skopeo agrees on the digest.
  const sk = JSON.parse(run('skopeo', ['inspect', '--tls-verify=false', `docker://${remote}`]));
  assert.equal(sk.Digest, digest);

  const pulled = ok(b, ['--snapshotter', 'native', 'images', 'pull', remote]);
  assert.match(pulled, new RegExp(`Digest: ${digest}`));
  assert.match(pulled, /Pull complete|Download complete/);
  assert.match(pulled, /unpacked to snapshot sha256:[a-f0-9]{64} \(native\)/);
  assert.deepEqual(ok(b, ['images', 'ls', '-q']).trim().split('\n'), [remote]);
  blobsVerify(b);
  const chain = /unpacked to snapshot (sha256:[a-f0-9]{64})/.exec(pulled)![1]!;
  // The unpacked snapshot holds our file.
  const snaps = readdirSync(join(b, 'snapshots'), { recursive: true }) as string[];
  assert.ok(
    snaps.some((p) => p.endsWith('etc/pushed')),
    'etc/pushed unpacked',
  );
  assert.ok(ok(b, ['--snapshotter', 'native', 'snapshots', 'ls']).includes(chain));
  // Pulling again is a no-op download.
  const again = ok(b, ['--snapshotter', 'native', 'images', 'pull', remote]);
  assert.match(again, /Already exists/);
  // A missing tag is a clear error.
  const missing = ctr(b, ['images', 'pull', `${reg!.host}/berth/busybox:nope`]);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /^berth-ctr: .*(not found|unknown)/im);
});

test(
  'login and logout write and erase docker config credentials',
  { skip: skip || (!haveHtpasswd() ? 'needs htpasswd (apache2-utils)' : false) },
  async () => {
    const secured = await startRegistry({ auth: 'htpasswd', users: { alice: 'wonderland' } });
    try {
      const root = join(t.dir, 'login');
      const cfg = join(t.dir, 'docker-config');
      mkdirSync(cfg, { recursive: true });
      const bad = ctr(
        root,
        ['login', '--docker-config', cfg, '-u', 'alice', '--password-stdin', secured.host],
        'wrong\n',
      );
      assert.equal(bad.code, 1);
      assert.match(bad.err, /^berth-ctr: .*incorrect username or password/m);
      assert.equal(
        existsSync(join(cfg, 'config.json'))
          ? JSON.parse(readFileSync(join(cfg, 'config.json'), 'utf8')).auths?.[secured.host]
          : undefined,
        undefined,
        'nothing saved',
      );
      assert.match(
        ok(root, ['login', '--docker-config', cfg, '-u', 'alice', '--password-stdin', secured.host], 'wonderland\n'),
        /Login Succeeded/,
      );
      const conf = JSON.parse(readFileSync(join(cfg, 'config.json'), 'utf8'));
      assert.equal(Buffer.from(conf.auths[secured.host].auth, 'base64').toString(), 'alice:wonderland');
      // Credentials from config.json are used by push.
      busyboxTar(join(t.dir, 'r2.tar'));
      ok(root, ['images', 'import', '--rootfs', join(t.dir, 'r2.tar'), 'local/x:1']);
      ok(root, ['images', 'push', '--docker-config', cfg, 'local/x:1', `${secured.host}/x/y:1`]);
      assert.match(ok(root, ['logout', '--docker-config', cfg, secured.host]), /Removing login credentials/);
      assert.equal(JSON.parse(readFileSync(join(cfg, 'config.json'), 'utf8')).auths?.[secured.host], undefined);
      const denied = ctr(root, ['images', 'push', '--docker-config', cfg, 'local/x:1', `${secured.host}/x/y:2`]);
      assert.equal(denied.code, 1);
      assert.match(denied.err, /^berth-ctr: /m);
    } finally {
      await secured.stop();
    }
  },
);

test('kill -9 during berth-ctr images pull, then the same pull: complete, no corruption', { skip }, async () => {
  const src = join(t.dir, 'big-src');
  const dst = join(t.dir, 'big-dst');
  // One large incompressible layer, so the pull takes long enough to be killed in the middle.
  const rootfs = join(t.dir, 'big-rootfs');
  mkdirSync(rootfs, { recursive: true });
  writeFileSync(join(rootfs, 'random.bin'), randomBytes(96 * 1024 * 1024));
  run('tar', ['-C', rootfs, '-cf', join(t.dir, 'big.tar'), '.']);
  rmSync(rootfs, { recursive: true, force: true });
  const [, digest] = ok(src, ['images', 'import', '--rootfs', '--no-compress', join(t.dir, 'big.tar'), 'local/big:1'])
    .trim()
    .split(' ');
  const remote = `${reg!.host}/berth/big:1`;
  ok(src, ['images', 'push', 'local/big:1', remote]);
  rmSync(join(t.dir, 'big.tar'));

  const child = spawn(
    CTR,
    [...CTR_ARGS, '--root', dst, 'images', 'pull', '--no-unpack', '--concurrency', '1', remote],
    { stdio: 'ignore' },
  );
  const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  let killedMidway = false;
  const ingest = join(dst, 'content/ingest');
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && child.exitCode === null) {
    const dirs = existsSync(ingest) ? readdirSync(ingest).filter((n) => /^[0-9a-f]{64}$/.test(n)) : [];
    const sizes = dirs.map((d) => {
      try {
        return statSync(join(ingest, d, 'data')).size;
      } catch {
        return 0;
      }
    });
    if (sizes.some((s) => s > 8 * 1024 * 1024)) {
      child.kill('SIGKILL');
      killedMidway = true;
      break;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  await exited;
  if (killedMidway) {
    // Nothing half-written is visible: no image, no unverified blob.
    assert.equal(ctr(dst, ['images', 'ls', '-q']).out.trim(), '');
    blobsVerify(dst);
  }
  const out = ok(dst, ['images', 'pull', '--no-unpack', remote]);
  assert.match(out, new RegExp(`Digest: ${digest}`));
  blobsVerify(dst);
  assert.deepEqual(
    readdirSync(ingest).filter((n) => !n.startsWith('.')),
    [],
    'no ingest left after the second pull',
  );
  assert.deepEqual(ok(dst, ['images', 'ls', '-q']).trim().split('\n'), [remote]);
  assert.ok(killedMidway, 'the first pull was killed in the middle of the layer');
});

test(
  'two berth-ctr pulls of one image at once into one store: both succeed, one consistent store',
  { skip },
  async () => {
    const root = join(t.dir, 'concurrent');
    const remote = `${reg!.host}/berth/busybox:v1`;
    const one = () =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const c = spawn(CTR, [...CTR_ARGS, '--root', root, '--snapshotter', 'native', 'images', 'pull', remote], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        c.stdout.on('data', (d) => (out += d));
        c.stderr.on('data', (d) => (out += d));
        c.on('close', (code) => resolve({ code, out })); // close: after the last output
      });
    const [a, b] = await Promise.all([one(), one()]);
    assert.equal(a.code, 0, a.out);
    assert.equal(b.code, 0, b.out);
    const digestA = /Digest: (\S+)/.exec(a.out)![1];
    assert.equal(/Digest: (\S+)/.exec(b.out)![1], digestA);
    blobsVerify(root);
    assert.deepEqual(ok(root, ['images', 'ls', '-q']).trim().split('\n'), [remote]);
    assert.equal(
      ok(root, ['--snapshotter', 'native', 'snapshots', 'ls', '-q']).trim().split('\n').length,
      1,
      'one layer snapshot',
    );
    assert.deepEqual(readdirSync(join(root, 'content/ingest')), []);
  },
);

test('gc running in a loop during a pull takes nothing the pull needs', { skip }, async () => {
  const root = join(t.dir, 'gc-during-pull');
  const remote = `${reg!.host}/berth/big:1`;
  const pull = spawn(
    CTR,
    [...CTR_ARGS, '--root', root, 'images', 'pull', '--no-unpack', '--concurrency', '1', remote],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  pull.stdout.on('data', (d) => (out += d));
  pull.stderr.on('data', (d) => (out += d));
  const done = new Promise<number | null>((r) => pull.on('exit', (c) => r(c)));
  let gcs = 0;
  while (pull.exitCode === null) {
    const g = ctr(root, ['gc', '--no-snapshots']);
    assert.equal(g.code, 0, g.err);
    gcs++;
    // spawnSync blocks the event loop: let the pull's exit be noticed.
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(await done, 0, out);
  assert.ok(gcs > 0);
  blobsVerify(root);
  // Everything the image needs is there, and a gc now keeps all of it.
  const before = ok(root, ['content', 'ls', '-q']).trim().split('\n').sort();
  assert.match(ok(root, ['gc', '--no-snapshots']), /removed 0 blob\(s\)/);
  assert.deepEqual(ok(root, ['content', 'ls', '-q']).trim().split('\n').sort(), before);
  assert.equal(before.length, 3, 'manifest, config, layer');
});

test('a multi-layer pull unpacks every layer in order, overlapping the downloads', { skip }, async () => {
  const { buildImage, storeImage, oneFileTar } = await import('../../helpers/registry.js');
  const { openServices } = await import('./fixtures.js');
  const src = join(t.dir, 'ml-src');
  const dst = join(t.dir, 'ml-dst');
  const img = buildImage({ extraLayers: [1, 2, 3].map((i) => oneFileTar(`layer${i}.bin`, randomBytes(600_000))) });
  const s = openServices(src);
  try {
    await storeImage(s.content, img);
    s.images.put('local/ml:1', img.manifest);
  } finally {
    s.close();
  }
  const remote = `${reg!.host}/berth/ml:1`;
  ok(src, ['images', 'push', '-q', 'local/ml:1', remote]);
  const out = ok(dst, ['--snapshotter', 'native', 'images', 'pull', '--concurrency', '2', remote]);
  for (const l of img.layers) {
    const id = l.digest.slice(7, 19);
    assert.match(out, new RegExp(`${id}: Extracting\\n(.*\\n)*?${id}: Pull complete`), out);
  }
  const snaps = ok(dst, ['--snapshotter', 'native', 'snapshots', 'ls', '--json']);
  const list = JSON.parse(snaps) as { key: string; parent?: string; kind: string }[];
  assert.equal(list.filter((x) => x.kind === 'committed').length, 4, 'one committed snapshot per layer');
  const top = /unpacked to snapshot (\S+)/.exec(out)![1]!;
  // The chain runs from the top snapshot down through 4 parents.
  let depth = 0;
  for (let k: string | undefined = top; k; k = list.find((x) => x.key === k)?.parent) depth++;
  assert.equal(depth, 4);
  assert.ok(existsSync(join(dst, 'snapshots')));
  blobsVerify(dst);
});

test('pull --platform refuses a single-platform image built for another platform', { skip }, () => {
  const root = join(t.dir, 'platform');
  const remote = `${reg!.host}/berth/busybox:v1`;
  const other = process.arch === 'arm64' ? 'linux/amd64' : 'linux/arm64';
  const r = ctr(root, ['images', 'pull', '--platform', other, remote]);
  assert.equal(r.code, 1, r.out);
  assert.match(r.err, /^berth-ctr: .*does not match the specified platform/m);
  assert.equal(ctr(root, ['images', 'ls', '-q']).out.trim(), '');
});
