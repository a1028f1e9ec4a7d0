// A three-layer image built here (busybox base; then whiteouts, an opaque
// dir, hard links, a symlink, devices, setuid, sticky, xattrs; then a
// whiteout of a hard link's lower target), unpacked by the overlayfs and the
// native snapshotter, mounted, and the merged view checked file by file.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readlinkSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import {
  openSnapshotter,
  unpackImage,
  prepareContainerRootfs,
  mountAll,
  unmountAll,
  chainIds,
  type Snapshotter,
} from '../../../src/snapshot/index.js';
import {
  busyboxEntries,
  getXattr,
  haveAttrTools,
  gzip,
  haveZstdCli,
  ls,
  lstatOr,
  makeTar,
  MemoryStore,
  sha256,
  T0,
  tempRoot,
  zstd,
  type TarEntry,
} from './layers.js';
import { haveBusybox } from '../../helpers/busybox.js';

const T1 = new Date('2021-06-07T08:09:10Z');
const isRoot = process.getuid?.() === 0;

async function image(store: MemoryStore): Promise<{
  manifest: { layers: { mediaType: string; digest: string; size: number }[] };
  config: { rootfs: { type: string; diff_ids: string[] } };
}> {
  const extra: TarEntry[] = [
    { name: 'data/', type: 'directory' },
    { name: 'data/keep', content: 'v1' },
    { name: 'data/gone', content: 'bye' },
    { name: 'data/old/', type: 'directory' },
    { name: 'data/old/a', content: 'a' },
    { name: 'opq/', type: 'directory' },
    { name: 'opq/x', content: 'x' },
    { name: 'opq/y', content: 'y' },
    { name: 'lnk-target', content: 'hello', uid: 1000, gid: 1000, mode: 0o640 },
    { name: 'secret/', type: 'directory', mode: 0o700, uid: 1, gid: 2, mtime: T0 },
    { name: 'secret/inside', content: 's', mtime: T1 },
  ];
  const l0 = await makeTar([...busyboxEntries(), ...extra]);
  const l1 = await makeTar([
    { name: 'data/', type: 'directory' },
    { name: 'data/.wh.gone', content: '' },
    { name: 'data/.wh.old', content: '' },
    { name: 'opq/', type: 'directory' },
    { name: 'opq/.wh..wh..opq', content: '' },
    { name: 'opq/z', content: 'z' },
    { name: 'hl', type: 'link', linkname: 'lnk-target' },
    { name: 'sym', type: 'symlink', linkname: '/etc/passwd', mtime: T1 },
    { name: 'dev/null2', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
    { name: 'fifo', type: 'fifo', mode: 0o600, uid: 7, gid: 8 },
    { name: 'bin/suid', content: '#!/bin/sh\n', mode: 0o4755, uid: 0, gid: 0 },
    { name: 'bin/sgid', content: '#!/bin/sh\n', mode: 0o2755, uid: 5, gid: 6 },
    { name: 'sticky/', type: 'directory', mode: 0o1777, mtime: T1 },
    {
      name: 'xa',
      content: 'x',
      pax: {
        'SCHILY.xattr.user.test': 'hello',
        'SCHILY.xattr.trusted.berth': 'tv',
        'SCHILY.xattr.trusted.overlay.redirect': '/etc',
      },
    },
    { name: 'newdir/inner/file', content: 'same', mtime: T1 },
    { name: 'newdir/hl2', type: 'link', linkname: 'newdir/inner/file' },
  ]);
  const l2 = await makeTar([
    { name: 'data/keep', content: 'v2' },
    { name: '.wh.lnk-target', content: '' },
    { name: 'opq/y', content: 'y2' },
  ]);
  const layers = [
    { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', blob: gzip(l0), diff: sha256(l0) },
    // zstd when the CLI is there to make one, else plain; the media type is
    // deliberately generic to prove detection by magic bytes.
    { mediaType: 'application/vnd.oci.image.layer.v1.tar', blob: haveZstdCli() ? zstd(l1) : l1, diff: sha256(l1) },
    { mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', blob: l2, diff: sha256(l2) },
  ];
  return {
    manifest: {
      layers: layers.map((l) => ({ mediaType: l.mediaType, digest: store.add(l.blob), size: l.blob.length })),
    },
    config: { rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diff) } },
  };
}

function checkMerged(m: string, driver: string): void {
  // whiteouts
  assert.deepEqual(ls(join(m, 'data')), ['keep'], `${driver}: data/ keeps only keep`);
  assert.equal(readFileSync(join(m, 'data/keep'), 'utf8'), 'v2');
  // opaque dir: only this layer's entries, plus the next layer's change
  assert.deepEqual(ls(join(m, 'opq')), ['y', 'z']);
  assert.equal(readFileSync(join(m, 'opq/y'), 'utf8'), 'y2');
  // hard link to a lower-layer file survives the whiteout of its target
  assert.equal(lstatOr(join(m, 'lnk-target')), undefined);
  const hl = lstatSync(join(m, 'hl'));
  assert.equal(readFileSync(join(m, 'hl'), 'utf8'), 'hello');
  assert.equal(hl.uid, 1000);
  assert.equal(hl.mode & 0o7777, 0o640);
  // hard link within one layer: one inode
  const a = lstatSync(join(m, 'newdir/inner/file'));
  const b = lstatSync(join(m, 'newdir/hl2'));
  assert.equal(a.ino, b.ino);
  assert.equal(a.nlink, 2);
  assert.equal(a.mtimeMs, T1.getTime());
  // symlink kept verbatim, its own times
  assert.equal(readlinkSync(join(m, 'sym')), '/etc/passwd');
  assert.ok(lstatSync(join(m, 'sym')).isSymbolicLink());
  assert.equal(lstatSync(join(m, 'sym')).mtimeMs, T1.getTime());
  // devices and fifos
  const dev = lstatSync(join(m, 'dev/null2'));
  assert.ok(dev.isCharacterDevice());
  assert.equal(dev.rdev, (1 << 8) | 3);
  assert.equal(dev.mode & 0o777, 0o666);
  const fifo = lstatSync(join(m, 'fifo'));
  assert.ok(fifo.isFIFO());
  assert.equal(fifo.uid, 7);
  assert.equal(fifo.gid, 8);
  // setuid, setgid, sticky survive chown
  assert.equal(lstatSync(join(m, 'bin/suid')).mode & 0o7777, 0o4755);
  const sgid = lstatSync(join(m, 'bin/sgid'));
  assert.equal(sgid.mode & 0o7777, 0o2755);
  assert.equal(sgid.uid, 5);
  assert.equal(lstatSync(join(m, 'sticky')).mode & 0o7777, 0o1777);
  assert.equal(lstatSync(join(m, 'sticky')).mtimeMs, T1.getTime());
  assert.equal(lstatSync(join(m, 'tmp')).mode & 0o7777, 0o1777);
  // directory metadata applied after its contents
  const secret = lstatSync(join(m, 'secret'));
  assert.equal(secret.mode & 0o7777, 0o700);
  assert.equal(secret.uid, 1);
  assert.equal(secret.gid, 2);
  assert.equal(secret.mtimeMs, T0.getTime());
  // xattrs, and overlay's own trusted.overlay.* never taken from a layer
  assert.equal(getXattr(join(m, 'xa'), 'user.test'), 'hello');
  assert.equal(getXattr(join(m, 'xa'), 'trusted.berth'), 'tv');
  assert.equal(getXattr(join(m, 'xa'), 'trusted.overlay.redirect'), undefined);
  // the base layer is a working busybox
  assert.equal(lstatSync(join(m, 'bin/busybox')).mtimeMs, T0.getTime());
  assert.equal(
    execFileSync('chroot', [m, '/bin/sh', '-c', 'cat /data/keep; ls /opq | tr "\\n" " "'], { encoding: 'utf8' }),
    'v2y z ',
  );
}

for (const driver of ['overlayfs', 'native'] as const) {
  describe(
    `unpack a multi-layer image (${driver})`,
    {
      skip: !isRoot
        ? 'needs root'
        : !haveBusybox()
          ? 'needs busybox-static'
          : !haveAttrTools()
            ? 'needs setfattr/getfattr (Debian package attr) for xattrs and opaque dirs'
            : false,
    },
    () => {
      const t = tempRoot();
      let sn: Snapshotter;
      const store = new MemoryStore();
      let img: Awaited<ReturnType<typeof image>>;

      before(async () => {
        sn = await openSnapshotter(t.root, { driver });
        img = await image(store);
      });
      after(() => {
        sn?.close();
        t.cleanup();
      });

      test('layers unpack, then are reused', async () => {
        const progress: string[] = [];
        const r = await unpackImage({
          store,
          snapshotter: sn,
          ...img,
          onProgress: (p) => progress.push(`${p.index}:${p.status}`),
        });
        const chains = chainIds(img.config.rootfs.diff_ids);
        assert.equal(r.chainId, chains[2]);
        assert.deepEqual(
          r.layers.map((l) => l.status),
          ['unpacked', 'unpacked', 'unpacked'],
        );
        assert.deepEqual(progress, [
          '0:unpacking',
          '0:unpacked',
          '1:unpacking',
          '1:unpacked',
          '2:unpacking',
          '2:unpacked',
        ]);
        const infos = await sn.list();
        assert.deepEqual(
          infos.map((i) => [i.key, i.kind, i.parent]),
          [
            [chains[0], 'committed', undefined],
            [chains[1], 'committed', chains[0]],
            [chains[2], 'committed', chains[1]],
          ],
        );
        const again = await unpackImage({ store, snapshotter: sn, ...img });
        assert.deepEqual(
          again.layers.map((l) => l.status),
          ['exists', 'exists', 'exists'],
        );
        assert.ok((await sn.usage(chains[0]!)).size > 500_000, 'base layer holds busybox');
      });

      test('a container rootfs mounts and shows the merged image', async () => {
        const chains = chainIds(img.config.rootfs.diff_ids);
        const mounts = await prepareContainerRootfs(sn, 'ctr-1', chains[2]);
        if (driver === 'overlayfs') {
          assert.equal(mounts[0]!.type, 'overlay');
          assert.ok(mounts[0]!.options.some((o) => o.startsWith('lowerdir=') && o.split(':').length === 3));
        } else {
          assert.equal(mounts[0]!.type, 'bind');
        }
        const target = join(t.root, 'mnt');
        mkdirSync(target);
        await mountAll(mounts, target);
        try {
          checkMerged(target, driver);
          // writes land in the container's snapshot, not in the layers
          execFileSync('chroot', [target, '/bin/sh', '-c', 'echo new > /data/keep && rm /bin/suid']);
        } finally {
          await unmountAll(target);
        }
        await assert.rejects(sn.remove(chains[2]!), /has children/);
        // the image itself is unchanged: a read-only view shows the old content
        const view = await prepareContainerRootfs(sn, 'view-1', chains[2], { readonly: true });
        await mountAll(view, target);
        try {
          assert.equal(readFileSync(join(target, 'data/keep'), 'utf8'), 'v2');
          assert.ok(lstatOr(join(target, 'bin/suid')));
          assert.throws(() => execFileSync('touch', [join(target, 'rofile')], { stdio: 'ignore' }));
        } finally {
          await unmountAll(target);
        }
        await sn.remove('view-1');
        assert.ok((await sn.usage('ctr-1')).inodes >= 1);
        await sn.remove('ctr-1');
        for (const c of [...chains].reverse()) await sn.remove(c);
        assert.deepEqual(await sn.list(), []);
        assert.deepEqual(
          ls(sn.dir).filter((n) => !n.startsWith('.')),
          [],
          'no directories left behind',
        );
      });
    },
  );
}
