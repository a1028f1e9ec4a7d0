// Cross-checks against independent tools:
//  - a layer written by GNU tar (--xattrs, with a binary security.capability
//    and a binary trusted.* value) plus a layer with whiteouts, unpacked by
//    Berth (overlayfs, mounted) and by `umoci unpack` from an OCI layout of
//    the same blobs: the two trees must match entry by entry (type, mode,
//    owner, size, content, link target, device, mtime, xattrs);
//  - concurrent unpacks of one image by two processes: one snapshot per
//    chain id, nothing left behind;
//  - an image deeper than one page of lowerdir paths still mounts.

import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
  linkSync,
  chownSync,
  utimesSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  openSnapshotter,
  unpackImage,
  mountAll,
  unmountAll,
  prepareContainerRootfs,
} from '../../../src/snapshot/index.js';
import { gzip, haveAttrTools, makeTar, MemoryStore, sha256, tempRoot, T0, ls } from './layers.js';
import { ociLayout, tree } from './oracle.js';

const isRoot = process.getuid?.() === 0;
const haveUmoci = existsSync('/usr/bin/umoci');
const haveXattrTools = haveAttrTools();
const CAP_NET_BIND = '0x0100000200040000000000000000000000000000'; // v2, permitted cap 10, effective bit set

describe('cross-checks', { skip: !isRoot ? 'needs root' : false }, () => {
  const t = tempRoot();
  after(() => t.cleanup());

  test(
    'Berth (overlayfs and native) and umoci unpack the same layers into the same tree',
    { skip: !haveUmoci ? 'umoci not installed' : !haveXattrTools ? 'attr not installed' : false },
    async () => {
      // Layer 0: a real directory tree archived by GNU tar with xattrs.
      const src = join(t.root, 'src');
      mkdirSync(join(src, 'bin'), { recursive: true });
      mkdirSync(join(src, 'etc/conf.d'), { recursive: true });
      mkdirSync(join(src, 'gone/sub'), { recursive: true });
      mkdirSync(join(src, 'opq'), { recursive: true });
      writeFileSync(join(src, 'bin/ping'), 'ELF?');
      execFileSync('setfattr', ['-n', 'security.capability', '-v', CAP_NET_BIND, join(src, 'bin/ping')]);
      writeFileSync(join(src, 'etc/conf.d/a'), 'a');
      execFileSync('setfattr', ['-n', 'trusted.bin', '-v', '0xff00fe80', join(src, 'etc/conf.d/a')]);
      execFileSync('setfattr', ['-n', 'user.note', '-v', 'hi there', join(src, 'etc/conf.d')]);
      writeFileSync(join(src, 'gone/sub/f'), 'f');
      writeFileSync(join(src, 'opq/old'), 'o');
      linkSync(join(src, 'etc/conf.d/a'), join(src, 'etc/a-link'));
      symlinkSync('../etc/conf.d/a', join(src, 'bin/rel-link'));
      execFileSync('mknod', ['-m', '0620', join(src, 'bin/tty9'), 'c', '4', '9']);
      execFileSync('mkfifo', ['-m', '0640', join(src, 'bin/pipe')]);
      writeFileSync(join(src, 'bin/suid'), '#!');
      chownSync(join(src, 'bin/suid'), 0, 50);
      chmodSync(join(src, 'bin/suid'), 0o6755);
      chownSync(join(src, 'etc/conf.d'), 33, 33);
      chmodSync(join(src, 'etc/conf.d'), 0o2750);
      chmodSync(join(src, 'gone'), 0o1777);
      for (const p of [
        'bin/ping',
        'etc/conf.d/a',
        'etc/conf.d',
        'etc',
        'bin/suid',
        'bin',
        'gone/sub/f',
        'gone/sub',
        'gone',
        'opq/old',
        'opq',
      ])
        utimesSync(join(src, p), T0, T0);
      execFileSync('touch', ['-h', '-d', '@1600000000', join(src, 'bin/rel-link')]);
      const l0 = execFileSync(
        'tar',
        ['--xattrs', '--xattrs-include=*', '--numeric-owner', '--sort=name', '-C', src, '-cf', '-', '.'],
        { maxBuffer: 1 << 26 },
      );
      // Layer 1: whiteouts, an opaque dir, a replaced file.
      const l1 = await makeTar([
        { name: 'gone/', type: 'directory', mode: 0o1777 },
        { name: 'gone/.wh.sub', content: '' },
        { name: 'opq/', type: 'directory' },
        { name: 'opq/.wh..wh..opq', content: '' },
        { name: 'opq/new', content: 'n' },
        { name: 'etc/conf.d/b', content: 'b', uid: 33, gid: 33 },
      ]);
      const layers = [l0, l1].map((l) => ({ blob: gzip(l), diffId: sha256(l) }));

      const layout = join(t.root, 'layout');
      ociLayout(layout, layers);
      const bundle = join(t.root, 'bundle');
      execFileSync('umoci', ['unpack', '--image', `${layout}:test`, bundle], { stdio: 'pipe' });

      const store = new MemoryStore();
      for (const driver of ['overlayfs', 'native'] as const) {
        const sn = await openSnapshotter(join(t.root, `berth-${driver}`), { driver });
        try {
          const r = await unpackImage({
            store,
            snapshotter: sn,
            manifest: {
              layers: layers.map((l) => ({
                mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
                digest: store.add(l.blob),
                size: l.blob.length,
              })),
            },
            config: { rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) } },
          });
          const target = join(t.root, `merged-${driver}`);
          mkdirSync(target);
          await mountAll(await prepareContainerRootfs(sn, 'cmp', r.chainId), target);
          try {
            const ours = tree(target);
            const theirs = tree(join(bundle, 'rootfs'));
            assert.deepEqual([...ours.keys()].sort(), [...theirs.keys()].sort());
            for (const [rel, n] of theirs) assert.deepEqual(ours.get(rel), n, `${driver}: ${rel}`);
            // and the facts themselves, not only agreement
            assert.deepEqual(ls(join(target, 'opq')), ['new']);
            assert.deepEqual(ls(join(target, 'gone')), []);
            assert.match(ours.get('bin/ping')!.xattrs, /security.capability=0x0100000200040000/);
            assert.match(ours.get('etc/conf.d/a')!.xattrs, /trusted.bin=0xff00fe80/);
            assert.equal(ours.get('bin/suid')!.mode, 0o6755);
            assert.equal(lstatSync(join(target, 'etc/a-link')).ino, lstatSync(join(target, 'etc/conf.d/a')).ino);
          } finally {
            await unmountAll(target);
          }
        } finally {
          sn.close();
        }
      }
    },
  );

  test(
    'a layer made by `umoci repack` (its own whiteouts) unpacks as umoci reads it',
    { skip: !haveUmoci ? 'umoci not installed' : !haveXattrTools ? 'attr not installed' : false },
    async () => {
      const layout = join(t.root, 'layout');
      assert.ok(existsSync(layout), 'the previous test made the layout');
      const work = join(t.root, 'repack-bundle');
      execFileSync('umoci', ['unpack', '--image', `${layout}:test`, work], { stdio: 'pipe' });
      const rootfs = join(work, 'rootfs');
      execFileSync(
        'sh',
        [
          '-c',
          [
            'rm etc/conf.d/a',
            'rm -r opq',
            'mkdir opq',
            'echo fresh > opq/fresh',
            'rm -r bin/pipe',
            'echo v2 > etc/conf.d/b',
            'mkdir -p usr/new/deep',
            'ln etc/a-link usr/new/deep/hl',
            'ln -s /nowhere usr/new/dangling',
          ].join(' && '),
        ],
        { cwd: rootfs },
      );
      execFileSync('umoci', ['repack', '--image', `${layout}:repacked`, work], { stdio: 'pipe' });
      // Read the repacked image back from the layout.
      const blob = (d: string): Buffer => readFileSync(join(layout, 'blobs/sha256', d.slice(7)));
      const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as {
        manifests: { digest: string; annotations?: Record<string, string> }[];
      };
      const desc = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'repacked')!;
      const manifest = JSON.parse(blob(desc.digest).toString()) as {
        config: { digest: string };
        layers: { mediaType: string; digest: string; size: number }[];
      };
      const config = JSON.parse(blob(manifest.config.digest).toString()) as {
        rootfs: { type: string; diff_ids: string[] };
      };
      assert.equal(manifest.layers.length, 3);
      const store = new MemoryStore();
      for (const l of manifest.layers) assert.equal(store.add(blob(l.digest)), l.digest);

      const bundle = join(t.root, 'repacked-umoci');
      execFileSync('umoci', ['unpack', '--image', `${layout}:repacked`, bundle], { stdio: 'pipe' });
      const theirs = tree(join(bundle, 'rootfs'));
      for (const driver of ['overlayfs', 'native'] as const) {
        const sn = await openSnapshotter(join(t.root, `repack-${driver}`), { driver });
        const target = join(t.root, `repack-merged-${driver}`);
        mkdirSync(target);
        try {
          const r = await unpackImage({ store, snapshotter: sn, manifest, config });
          await mountAll(await prepareContainerRootfs(sn, 'cmp', r.chainId), target);
          try {
            const ours = tree(target);
            assert.deepEqual([...ours.keys()].sort(), [...theirs.keys()].sort(), driver);
            for (const [rel, n] of theirs) assert.deepEqual(ours.get(rel), n, `${driver}: ${rel}`);
            assert.deepEqual(ls(join(target, 'opq')), ['fresh']);
            assert.ok(!existsSync(join(target, 'etc/conf.d/a')));
            // umoci writes a link whose other name is in a lower layer as a plain file
            assert.equal(
              readFileSync(join(target, 'usr/new/deep/hl'), 'utf8'),
              readFileSync(join(target, 'etc/a-link'), 'utf8'),
            );
            assert.equal(readlinkSync(join(target, 'usr/new/dangling')), '/nowhere');
          } finally {
            await unmountAll(target);
          }
        } finally {
          sn.close();
        }
      }
    },
  );

  test('two processes unpacking one image: one snapshot per layer, nothing left over', async () => {
    const root = join(t.root, 'race');
    const work = join(t.root, 'race-image');
    mkdirSync(work);
    const blobs: string[] = [];
    const diffIds: string[] = [];
    for (let i = 0; i < 4; i++) {
      const l = await makeTar([
        { name: `d${i}/`, type: 'directory' },
        { name: `d${i}/f`, content: Buffer.alloc(200_000, i) },
      ]);
      writeFileSync(join(work, `l${i}`), gzip(l));
      blobs.push(join(work, `l${i}`));
      diffIds.push(sha256(l));
    }
    writeFileSync(join(work, 'spec.json'), JSON.stringify({ root, blobs, diffIds }));
    const script = join(t.root, 'race.mts');
    writeFileSync(
      script,
      `
      import { readFileSync } from 'node:fs';
      import { Readable } from 'node:stream';
      import { openSnapshotter, unpackImage } from ${JSON.stringify(join(process.cwd(), 'src/snapshot/index.ts'))};
      const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));
      const sn = await openSnapshotter(spec.root, { driver: 'overlayfs' });
      const byDigest = new Map();
      const store = {
        has: async () => true,
        readStream: (d) => Readable.from([readFileSync(byDigest.get(d))]),
      };
      const layers = spec.blobs.map((b, i) => { const d = 'sha256:' + String(i).repeat(64); byDigest.set(d, b); return { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d, size: 1 }; });
      const r = await unpackImage({ store, snapshotter: sn, manifest: { layers }, config: { rootfs: { type: 'layers', diff_ids: spec.diffIds } } });
      console.log(JSON.stringify(r.layers.map((l) => l.status)));
      sn.close();
    `,
    );
    const runOne = (): Promise<string> =>
      new Promise((resolve, reject) => {
        const c = spawn(process.execPath, ['--import', 'tsx', script, join(work, 'spec.json')], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        let err = '';
        c.stdout.on('data', (b: Buffer) => {
          out += b.toString();
        });
        c.stderr.on('data', (b: Buffer) => {
          err += b.toString();
        });
        c.on('close', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`child exited ${code}: ${err}`))));
      });
    const results = await Promise.all([runOne(), runOne(), runOne()]);
    const statuses = results.map((r) => JSON.parse(r) as string[]);
    for (let i = 0; i < 4; i++) {
      assert.ok(
        statuses.filter((s) => s[i] === 'unpacked').length >= 1,
        `layer ${i} unpacked by someone: ${results.join(' | ')}`,
      );
    }
    const sn = await openSnapshotter(root, { driver: 'overlayfs' });
    try {
      const list = await sn.list();
      assert.equal(list.length, 4);
      assert.ok(list.every((s) => s.kind === 'committed'));
      assert.deepEqual(
        readdirSync(sn.dir).filter((n) => !/^\d+$/.test(n)),
        [],
        'no temporary directories left',
      );
      assert.equal(readdirSync(sn.dir).length, 4);
    } finally {
      sn.close();
    }
  });

  test('an image deeper than one page of lowerdir paths mounts (relative lowerdirs)', async () => {
    const root = join(t.root, 'deep-' + 'x'.repeat(40));
    const sn = await openSnapshotter(root, { driver: 'overlayfs' });
    const store = new MemoryStore();
    const layers: { mediaType: string; digest: string; size: number }[] = [];
    const diffIds: string[] = [];
    const N = 90;
    for (let i = 0; i < N; i++) {
      const l = await makeTar([
        { name: `f${i}`, content: String(i) },
        ...(i > 0 ? [{ name: `.wh.f${i - 1}`, content: '' }] : []),
      ]);
      layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: store.add(l), size: l.length });
      diffIds.push(sha256(l));
    }
    try {
      const r = await unpackImage({
        store,
        snapshotter: sn,
        manifest: { layers },
        config: { rootfs: { type: 'layers', diff_ids: diffIds } },
      });
      const mounts = await prepareContainerRootfs(sn, 'deep', r.chainId);
      assert.ok(mounts[0]!.options.join(',').length > 4096, 'the absolute options exceed a page');
      const target = join(t.root, 'deep-mnt');
      mkdirSync(target);
      await mountAll(mounts, target);
      try {
        assert.deepEqual(ls(target), [`f${N - 1}`]);
        assert.equal(readFileSync(join(target, `f${N - 1}`), 'utf8'), String(N - 1));
      } finally {
        await unmountAll(target);
      }
    } finally {
      sn.close();
    }
  });
});
