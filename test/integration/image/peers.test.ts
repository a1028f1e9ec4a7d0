// Import/export cross-checked with the real counterparts: containerd's
// `ctr images import/export` and dockerd's `docker load/save` (each on its own
// temporary root and socket), both ways.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { importImages, exportImages } from '../../../src/image/archive/index.js';
import { resolveImage } from '../../../src/image/images.js';
import { startContainerd, startDockerd, which } from '../../helpers/daemons.js';
import { openServices, tempDir, busyboxTar, toolsMissing } from './fixtures.js';

const needRoot = process.getuid?.() !== 0 ? 'needs root (the daemons run as root)' : false;

test(
  'containerd: ctr imports what Berth exports, Berth imports what ctr exports',
  {
    skip:
      toolsMissing ||
      needRoot ||
      (!which('containerd') || !which('ctr') ? 'needs containerd and ctr (scripts/setup.sh installs them)' : false),
  },
  async () => {
    const t = tempDir('berth-peer-');
    const s = openServices(join(t.dir, 'root'));
    const ctrd = await startContainerd({ prefix: 'berth-peer-ctrd-' });
    try {
      busyboxTar(join(t.dir, 'rootfs.tar'), { 'etc/from-berth': 'yes\n' });
      const [img] = await importImages(s, join(t.dir, 'rootfs.tar'), {
        rootfs: true,
        name: 'localhost/peer/busybox:ctrd',
      });
      const oci = join(t.dir, 'berth.oci.tar');
      await exportImages(s, ['localhost/peer/busybox:ctrd'], oci, { format: 'oci' });
      const imp = ctrd.ctr(['images', 'import', oci]);
      assert.equal(imp.status, 0, imp.stderr + ctrd.logTail());
      const ls = ctrd.ctr(['images', 'ls']);
      assert.match(
        ls.stdout,
        new RegExp(
          `localhost/peer/busybox:ctrd\\s+application/vnd.oci.image.manifest.v1\\+json\\s+${img!.target.digest}`,
        ),
      );
      // containerd unpacks it into its own snapshotter: the layer is sound.
      const unpack = ctrd.ctr(['images', 'check']);
      assert.equal(unpack.status, 0, unpack.stderr);
      assert.match(unpack.stdout, /localhost\/peer\/busybox:ctrd\s+\S+\s+\S+\s+complete/);

      // docker-save format into containerd too.
      const saved = join(t.dir, 'berth.docker.tar');
      s.images.tag('localhost/peer/busybox:ctrd', 'localhost/peer/busybox:saved');
      await exportImages(s, ['localhost/peer/busybox:saved'], saved, { format: 'docker' });
      const imp2 = ctrd.ctr(['images', 'import', saved]);
      assert.equal(imp2.status, 0, imp2.stderr);
      assert.match(ctrd.ctr(['images', 'ls', '-q']).stdout, /localhost\/peer\/busybox:saved/);

      // And back: ctr export → Berth import, same manifest digest.
      const back = join(t.dir, 'ctr.oci.tar');
      const exp = ctrd.ctr(['images', 'export', back, 'localhost/peer/busybox:ctrd']);
      assert.equal(exp.status, 0, exp.stderr);
      const s2 = openServices(join(t.dir, 'root2'));
      try {
        const got = await importImages(s2, back);
        assert.deepEqual(
          got.map((g) => g.name),
          ['localhost/peer/busybox:ctrd'],
        );
        assert.equal(got[0]!.target.digest, img!.target.digest);
        await resolveImage(s2.content, got[0]!.target);
      } finally {
        s2.close();
      }
    } finally {
      await ctrd.stop();
      s.close();
      t.cleanup();
    }
  },
);

test(
  "dockerd: docker load reads Berth's docker-save tar and runs it; Berth loads docker save output",
  {
    skip: toolsMissing || needRoot || (!which('dockerd') ? 'needs docker.io (scripts/setup.sh installs it)' : false),
  },
  async () => {
    const t = tempDir('berth-peer-');
    const s = openServices(join(t.dir, 'root'));
    const dockerd = await startDockerd({ runtimes: {}, prefix: 'berth-peer-dkd-' });
    try {
      busyboxTar(join(t.dir, 'rootfs.tar'), { 'etc/from-berth': 'made by berth\n' });
      await importImages(s, join(t.dir, 'rootfs.tar'), { rootfs: true, name: 'berthpeer/busybox:v1' });
      const r = await resolveImage(s.content, s.images.get('berthpeer/busybox:v1').target);
      const saved = join(t.dir, 'berth.docker.tar');
      await exportImages(s, ['berthpeer/busybox:v1'], saved, { format: 'docker' });
      const load = dockerd.docker(['load', '-i', saved]);
      assert.equal(load.status, 0, load.stderr + dockerd.logTail());
      assert.match(load.stdout, /Loaded image: berthpeer\/busybox:v1/);
      const id = dockerd.docker(['image', 'inspect', '--format', '{{.Id}}', 'berthpeer/busybox:v1']).stdout.trim();
      assert.equal(id, r.manifest.config.digest, 'docker image id is the config digest');
      const run = dockerd.docker(
        ['run', '--rm', '--network', 'none', 'berthpeer/busybox:v1', '/bin/cat', '/etc/from-berth'],
        { timeout: 120000 },
      );
      assert.equal(run.status, 0, run.stderr + dockerd.logTail());
      assert.equal(run.stdout, 'made by berth\n', 'a container from the loaded image sees the layer');

      // docker save → Berth.
      dockerd.docker(['tag', 'berthpeer/busybox:v1', 'berthpeer/busybox:again']);
      const back = join(t.dir, 'docker-saved.tar');
      const save = dockerd.docker(['save', '-o', back, 'berthpeer/busybox:again']);
      assert.equal(save.status, 0, save.stderr);
      const s2 = openServices(join(t.dir, 'root2'));
      try {
        const got = await importImages(s2, back);
        assert.deepEqual(
          got.map((g) => g.name),
          ['docker.io/berthpeer/busybox:again'],
        );
        const r2 = await resolveImage(s2.content, got[0]!.target);
        assert.equal(r2.manifest.config.digest, r.manifest.config.digest, 'same image id');
        assert.deepEqual(r2.diffIds, r.diffIds);
      } finally {
        s2.close();
      }
    } finally {
      await dockerd.stop();
      s.close();
      t.cleanup();
    }
  },
);
