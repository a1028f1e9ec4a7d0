// docker load and docker import of hostile layer tars, through the docker
// CLI: members that climb (`../`), absolute names, a symlink then a file
// through it, hard links to host paths (absolute or climbing), a sparse file
// that claims a terabyte (loaded before as an empty file: tar-stream hands
// sparse members over without their type or with their map as content).
// Each is refused with an error naming the member, nothing is written
// outside the snapshot, and nothing is left: no image, no new snapshot, no
// content blob once the load's lease is gone.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pack, type Header } from 'tar-stream';
import { DOCKER_28, rawRequest, type Berthd } from '../../helpers/berthd.js';
import { berthdSkip, startBerthdStack, type BerthdStack } from '../../helpers/berthd-stack.js';
import { makeBusyboxRootfs } from '../../helpers/busybox.js';

const skip = berthdSkip('engine');

let s: BerthdStack | undefined;
let b: Berthd;
const scratch = mkdtempSync('/tmp/berthd-hostile-load-');
const hostDir = join(scratch, 'host');

before(async () => {
  if (skip) return;
  mkdirSync(hostDir);
  writeFileSync(join(hostDir, 'secret'), 'host\n');
  s = await startBerthdStack('engine', { prefix: 'berthd-hload-eng-' });
  ({ b } = s);
});

after(async () => {
  await s?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

type Entry = Partial<Header> & { name: string; body?: string };

/** A layer tar of exactly these entries (tar-stream writes what it is given, names included). */
async function layerTar(entries: Entry[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((r) => p.on('end', () => r()));
  for (const { body, ...h } of entries) p.entry({ mode: 0o644, mtime: new Date(0), ...h }, body ?? '');
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A `docker save` archive of one image whose layers are `layers`, bottom first. */
function saveArchive(name: string, ...layers: Buffer[]): string {
  const out = join(scratch, `${name}-out`);
  layers.forEach((l, i) => {
    mkdirSync(join(out, `l${i}`), { recursive: true });
    writeFileSync(join(out, `l${i}/layer.tar`), l);
  });
  const config = Buffer.from(
    JSON.stringify({
      architecture: process.arch === 'arm64' ? 'arm64' : 'amd64',
      os: 'linux',
      config: { Cmd: ['sh'], Env: ['PATH=/bin'] },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => `sha256:${sha256(l)}`) },
    }),
  );
  writeFileSync(join(out, 'config.json'), config);
  const Layers = layers.map((_, i) => `l${i}/layer.tar`);
  writeFileSync(
    join(out, 'manifest.json'),
    JSON.stringify([{ Config: 'config.json', RepoTags: [`hostile-load/${name}:1`], Layers }]),
  );
  const file = join(scratch, `${name}.tar`);
  execFileSync('tar', ['-C', out, '-cf', file, '.']);
  return file;
}

/** What the store holds: images, snapshots and content blobs. */
function store(): { images: string; snapshots: string; content: string } {
  return {
    images: b.ok(['images', '-q', '--no-trunc']),
    snapshots: s!.ctr(['snapshots', 'ls']).stdout,
    content: s!.ctr(['content', 'ls', '-q']).stdout,
  };
}

async function settled(before: ReturnType<typeof store>): Promise<void> {
  // The load's blobs are collected once its lease is deleted; the engine's GC runs shortly after.
  for (let i = 0; i < 50 && JSON.stringify(store()) !== JSON.stringify(before); i++)
    await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(store(), before, 'nothing left in the store');
}

const cases: [string, Entry[], RegExp][] = [
  ['climb', [{ name: '../../escape', body: 'x\n' }], /\.\.\/\.\.\/escape/],
  ['absolute', [{ name: `${hostDir}/abs`, body: 'x\n' }], /abs/],
  [
    'through-symlink',
    [
      { name: 'lnk', type: 'symlink', linkname: hostDir },
      { name: 'lnk/pwned', body: 'x\n' },
    ],
    /lnk\/pwned/,
  ],
  ['hardlink-absolute', [{ name: 'hard', type: 'link', linkname: `${hostDir}/secret` }], /hard/],
  ['hardlink-climb', [{ name: 'hard', type: 'link', linkname: '../../../../../../etc/shadow' }], /hard/],
];

for (const [what, entries, names] of cases) {
  test(`docker load and docker import refuse a layer with ${what}, nothing left`, { skip }, async () => {
    const layer = await layerTar(entries);
    const was = store();
    const load = b.docker(['load', '-i', saveArchive(what, layer)]);
    assert.notEqual(load.status, 0, load.stdout);
    assert.match(load.stderr, names, load.stderr);
    const imp = spawnSync(DOCKER_28, ['import', '-', `hostile-import/${what}:1`], { input: layer, env: b.env });
    assert.notEqual(imp.status, 0, imp.stdout.toString());
    assert.match(imp.stderr.toString(), names);
    assert.deepEqual(readdirSync(hostDir), ['secret'], 'nothing written on the host');
    assert.ok(!existsSync('/escape'));
    await settled(was);
  });
}

for (const format of ['gnu', 'posix']) {
  test(
    `a ${format} sparse file that claims a terabyte: refused naming it, at load and at docker cp`,
    { skip },
    async () => {
      const src = join(scratch, `sparse-${format}`);
      mkdirSync(src);
      writeFileSync(join(src, 'big'), '');
      truncateSync(join(src, 'big'), 2 ** 40); // a hole of a terabyte
      const layer = execFileSync('tar', ['-C', src, `--format=${format}`, '--sparse', '-cf', '-', 'big'], {
        maxBuffer: 64 * 1024 * 1024,
      });
      assert.ok(layer.length < 1024 * 1024, `the archive is small (${layer.length} bytes)`);
      const was = store();
      const load = b.docker(['load', '-i', saveArchive(`sparse-${format}`, layer)], { timeout: 120000 });
      assert.notEqual(load.status, 0, load.stdout);
      assert.match(load.stderr, /big.*(sparse|unsupported entry type)/, load.stderr);
      await settled(was);
      // docker cp into a container: the same member, refused by berthd's own extraction.
      const name = `hostile-load-cp-${format}-${process.pid}`;
      b.ok(['create', '--name', name, '--network', 'none', s!.img, 'true']);
      try {
        const put = await rawRequest(b.sock, 'PUT', `/v1.50/containers/${name}/archive?path=/tmp`, layer, {
          'Content-Type': 'application/x-tar',
        });
        assert.equal(put.status, 400, put.body);
        assert.match(put.body, /archive member (\.\/GNUSparseFile\.\d+\/)?big: (sparse|unsupported entry type)/);
      } finally {
        b.docker(['rm', '-f', name]);
      }
    },
  );
}

test('volume copy-up keeps owners, modes, links and extended attributes of the image', { skip }, async () => {
  const root = join(scratch, 'bb');
  mkdirSync(root);
  makeBusyboxRootfs(root);
  const busybox = execFileSync('tar', ['-C', root, '--numeric-owner', '-cf', '-', '.'], {
    maxBuffer: 64 * 1024 * 1024,
  });
  const data = await layerTar([
    { name: 'data/', type: 'directory', mode: 0o750, uid: 12, gid: 34 },
    { name: 'data/f', body: 'file\n', mode: 0o4711, uid: 5, gid: 6, pax: { 'SCHILY.xattr.user.berth': 'kept' } },
    { name: 'data/sub/', type: 'directory', mode: 0o700 },
    { name: 'data/sub/lnk', type: 'symlink', linkname: '../f' },
    { name: 'data/hard', type: 'link', linkname: 'data/f' },
  ]);
  b.ok(['load', '-q', '-i', saveArchive('copyup', busybox, data)]);
  const vol = `hostile-load-copyup-${process.pid}`;
  try {
    b.ok(['run', '--rm', '--network', 'none', '-v', `${vol}:/data`, 'hostile-load/copyup:1', 'true']);
    const mp = b.ok(['volume', 'inspect', '-f', '{{.Mountpoint}}', vol]).trim();
    const st = (p: string) => execFileSync('stat', ['-c', '%a %u:%g %h %F', join(mp, p)], { encoding: 'utf8' }).trim();
    assert.equal(st('.'), '750 12:34 3 directory');
    assert.equal(st('f'), '4711 5:6 2 regular file');
    assert.equal(st('hard'), '4711 5:6 2 regular file');
    assert.equal(st('sub'), '700 0:0 2 directory');
    assert.equal(execFileSync('readlink', [join(mp, 'sub/lnk')], { encoding: 'utf8' }).trim(), '../f');
    const xattr = execFileSync('getfattr', ['--only-values', '-n', 'user.berth', join(mp, 'f')], { encoding: 'utf8' });
    assert.equal(xattr, 'kept');
  } finally {
    b.docker(['volume', 'rm', '-f', vol]);
    b.docker(['rmi', 'hostile-load/copyup:1']);
  }
});
