import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { importImages, exportImages } from '../../../src/image/archive/index.js';
import { resolveImage, walkImage } from '../../../src/image/images.js';
import { MediaType } from '../../../src/image/media.js';
import { BerthError } from '../../../src/common/errors.js';
import { openServices, tempDir, busyboxTar, run, have, toolsMissing } from './fixtures.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const BUSYBOX_SHA = existsSync('/bin/busybox') ? sha256(readFileSync('/bin/busybox')) : '';

function fileList(tarFile: string, member?: string): string[] {
  // umoci writes layer tars without the end-of-archive blocks: list what is there, ignore tar's complaint.
  if (member)
    return run('sh', ['-c', `tar -xOf '${tarFile}' '${member}' | tar -t 2>/dev/null; true`])
      .split('\n')
      .filter(Boolean);
  return run('tar', ['-tf', tarFile]).split('\n').filter(Boolean);
}

test('rootfs import → OCI layout export read by skopeo and umoci', { skip: toolsMissing }, async () => {
  const t = tempDir();
  const s = openServices(join(t.dir, 'root'));
  try {
    busyboxTar(join(t.dir, 'rootfs.tar'), { 'etc/berth-marker': 'made by berth\n' });
    const [img] = await importImages(s, join(t.dir, 'rootfs.tar'), {
      rootfs: true,
      name: 'localhost/berth/busybox:1.0',
    });
    assert.equal(img!.name, 'localhost/berth/busybox:1.0');
    const r = await resolveImage(s.content, img!.target);
    assert.equal(r.layers.length, 1);
    assert.equal(r.layers[0]!.mediaType, MediaType.OciLayerGzip);
    // The diff id is the sha256 of the plain tar we made.
    assert.equal(r.diffIds[0], 'sha256:' + sha256(readFileSync(join(t.dir, 'rootfs.tar'))));

    const layout = join(t.dir, 'layout');
    await exportImages(s, ['localhost/berth/busybox:1.0'], layout, { format: 'oci-dir' });
    const inspected = JSON.parse(run('skopeo', ['inspect', `oci:${layout}:1.0`]));
    assert.equal(inspected.Digest, img!.target.digest, 'skopeo sees the same manifest digest');
    assert.deepEqual(inspected.Layers, [r.layers[0]!.digest]);
    assert.equal(inspected.Os, 'linux');
    const raw = JSON.parse(run('skopeo', ['inspect', '--raw', `oci:${layout}:1.0`]));
    assert.equal(raw.config.digest, r.manifest.config.digest);

    const bundle = join(t.dir, 'bundle');
    run('umoci', ['unpack', '--image', `${layout}:1.0`, bundle]);
    assert.equal(
      sha256(readFileSync(join(bundle, 'rootfs/bin/busybox'))),
      BUSYBOX_SHA,
      'umoci unpacked our busybox byte for byte',
    );
    assert.equal(readFileSync(join(bundle, 'rootfs/etc/berth-marker'), 'utf8'), 'made by berth\n');
    assert.ok(existsSync(join(bundle, 'config.json')));

    // The tar form, read by skopeo, copied back to a layout, same digests.
    const archive = join(t.dir, 'image.oci.tar');
    await exportImages(s, ['localhost/berth/busybox:1.0'], archive, { format: 'oci' });
    assert.ok(fileList(archive).includes('oci-layout'));
    const copy = join(t.dir, 'copy');
    run('skopeo', ['copy', `oci-archive:${archive}:1.0`, `oci:${copy}:again`]);
    const idx = JSON.parse(readFileSync(join(copy, 'index.json'), 'utf8'));
    assert.equal(idx.manifests[0].digest, img!.target.digest);
  } finally {
    s.close();
    t.cleanup();
  }
});

test('skopeo-made oci-archive and umoci-made layouts import into Berth', { skip: toolsMissing }, async () => {
  const t = tempDir();
  const s = openServices(join(t.dir, 'root'));
  try {
    // umoci builds an image from nothing: init, new, insert a busybox.
    const layout = join(t.dir, 'umoci');
    run('umoci', ['init', '--layout', layout]);
    run('umoci', ['new', '--image', `${layout}:v1`]);
    mkdirSync(join(t.dir, 'src/bin'), { recursive: true });
    writeFileSync(join(t.dir, 'src/bin/busybox'), readFileSync('/bin/busybox'));
    writeFileSync(join(t.dir, 'src/hello.txt'), 'hello from umoci\n');
    run('umoci', ['insert', '--image', `${layout}:v1`, join(t.dir, 'src'), '/']);
    const imported = await importImages(s, layout, { baseName: 'localhost/umoci' });
    assert.deepEqual(
      imported.map((i) => i.name),
      ['localhost/umoci:v1'],
    );
    const r = await resolveImage(s.content, imported[0]!.target);
    assert.equal(r.layers.length, 1);
    assert.equal(r.config.os, 'linux');

    // skopeo turns that layout into an oci-archive; Berth reads it.
    const archive = join(t.dir, 'from-skopeo.tar');
    run('skopeo', ['copy', `oci:${layout}:v1`, `oci-archive:${archive}:v1`]);
    const s2 = openServices(join(t.dir, 'root2'));
    try {
      const again = await importImages(s2, archive, { name: 'localhost/again:v1' });
      assert.equal(again[0]!.target.digest, imported[0]!.target.digest, 'same manifest digest through skopeo');
      // Export as docker save: the layer.tar holds what umoci inserted.
      const saved = join(t.dir, 'saved.tar');
      await exportImages(s2, ['localhost/again:v1'], saved, { format: 'docker' });
      const manifest = JSON.parse(run('tar', ['-xOf', saved, 'manifest.json']));
      assert.deepEqual(manifest[0].RepoTags, ['localhost/again:v1']);
      const files = fileList(saved, manifest[0].Layers[0]);
      assert.ok(
        files.some((f) => f.replace(/^\.?\//, '') === 'hello.txt'),
        files.join(','),
      );
      assert.ok(files.some((f) => f.replace(/^\.?\//, '') === 'bin/busybox'));
    } finally {
      s2.close();
    }
  } finally {
    s.close();
    t.cleanup();
  }
});

test('docker save format both ways, and through skopeo docker-archive', { skip: toolsMissing }, async () => {
  const t = tempDir();
  const s = openServices(join(t.dir, 'root'));
  try {
    busyboxTar(join(t.dir, 'rootfs.tar'));
    const [img] = await importImages(s, join(t.dir, 'rootfs.tar'), { rootfs: true, name: 'busybox:saved' });
    s.images.tag('busybox:saved', 'localhost:5000/team/busybox:v2');
    const saved = join(t.dir, 'saved.tar');
    await exportImages(s, ['busybox:saved', 'localhost:5000/team/busybox:v2'], saved, { format: 'docker' });
    const r = await resolveImage(s.content, img!.target);
    const names = fileList(saved);
    const cfgHex = r.manifest.config.digest.slice(7);
    assert.ok(names.includes(`${cfgHex}.json`), 'config is <image id>.json');
    const manifest = JSON.parse(run('tar', ['-xOf', saved, 'manifest.json']));
    assert.equal(manifest.length, 1, 'one entry for one image id');
    assert.deepEqual(manifest[0].RepoTags.sort(), ['busybox:saved', 'localhost:5000/team/busybox:v2']);
    const repos = JSON.parse(run('tar', ['-xOf', saved, 'repositories']));
    assert.ok(repos.busybox.saved);
    // layer.tar is the uncompressed layer: its sha256 is the diff id.
    const layerSum = run('sh', ['-c', `tar -xOf '${saved}' '${manifest[0].Layers[0]}' | sha256sum`]).slice(0, 64);
    assert.equal(`sha256:${layerSum}`, r.diffIds[0]);

    // skopeo reads it as a docker-archive.
    const inspected = JSON.parse(run('skopeo', ['inspect', `docker-archive:${saved}:busybox:saved`]));
    assert.equal(inspected.Os, 'linux');

    // Berth loads it back into another store: same image id and diff ids, both names.
    const s2 = openServices(join(t.dir, 'root2'));
    try {
      const loaded = await importImages(s2, saved);
      assert.deepEqual(loaded.map((l) => l.name).sort(), [
        'docker.io/library/busybox:saved',
        'localhost:5000/team/busybox:v2',
      ]);
      const r2 = await resolveImage(s2.content, loaded[0]!.target);
      assert.equal(r2.manifest.config.digest, r.manifest.config.digest);
      assert.deepEqual(r2.diffIds, r.diffIds);
      assert.equal(r2.layers[0]!.mediaType, MediaType.OciLayer);
    } finally {
      s2.close();
    }

    // skopeo writes a docker-archive from a layout; Berth loads that too.
    const layout = join(t.dir, 'layout');
    await exportImages(s, ['busybox:saved'], layout, { format: 'oci-dir' });
    const skopeoSaved = join(t.dir, 'skopeo-saved.tar');
    run('skopeo', ['copy', `oci:${layout}:saved`, `docker-archive:${skopeoSaved}:example.com/from/skopeo:1`]);
    const s3 = openServices(join(t.dir, 'root3'));
    try {
      const loaded = await importImages(s3, skopeoSaved);
      assert.deepEqual(
        loaded.map((l) => l.name),
        ['example.com/from/skopeo:1'],
      );
      const r3 = await resolveImage(s3.content, loaded[0]!.target);
      assert.deepEqual(r3.diffIds, r.diffIds, 'same layer content');
      // And skopeo's docker-archive → oci layout → Berth.
      const viaSkopeo = join(t.dir, 'via-skopeo');
      run('skopeo', ['copy', `docker-archive:${skopeoSaved}`, `oci:${viaSkopeo}:x`]);
      const l2 = await importImages(s3, viaSkopeo, { baseName: 'localhost/via' });
      assert.equal(l2[0]!.name, 'localhost/via:x');
      assert.deepEqual((await resolveImage(s3.content, l2[0]!.target)).diffIds, r.diffIds);
    } finally {
      s3.close();
    }
  } finally {
    s.close();
    t.cleanup();
  }
});

test('compressed rootfs tarballs (gzip, zstd) and a non-tar', { skip: toolsMissing }, async () => {
  const t = tempDir();
  const s = openServices(join(t.dir, 'root'));
  try {
    const plain = join(t.dir, 'rootfs.tar');
    busyboxTar(plain);
    const diffId = 'sha256:' + sha256(readFileSync(plain));
    run('gzip', ['-k', plain]);
    const [g] = await importImages(s, `${plain}.gz`, { rootfs: true, name: 'gz:1' });
    assert.equal((await resolveImage(s.content, g!.target)).diffIds[0], diffId);
    if (have('zstd')) {
      run('zstd', ['-q', '-k', plain]);
      const [z] = await importImages(s, `${plain}.zst`, {
        rootfs: true,
        name: 'zst:1',
        rootfsOptions: { compress: 'none' },
      });
      const rz = await resolveImage(s.content, z!.target);
      assert.equal(rz.diffIds[0], diffId);
      assert.equal(rz.layers[0]!.digest, diffId, 'uncompressed layer is its own diff id');
    }
    writeFileSync(join(t.dir, 'junk'), 'this is not a tar file at all'.repeat(40));
    await assert.rejects(importImages(s, join(t.dir, 'junk'), { rootfs: true, name: 'junk:1' }), /not a tar archive/);
    assert.equal(s.images.find('junk:1'), undefined);
  } finally {
    s.close();
    t.cleanup();
  }
});

test(
  'hostile archives: a lying blob, a traversal path, a missing blob, a wrong diff id',
  { skip: toolsMissing },
  async () => {
    const t = tempDir();
    const s = openServices(join(t.dir, 'root'));
    try {
      busyboxTar(join(t.dir, 'rootfs.tar'));
      await importImages(s, join(t.dir, 'rootfs.tar'), { rootfs: true, name: 'base:1' });
      const layout = join(t.dir, 'layout');
      await exportImages(s, ['base:1'], layout, { format: 'oci-dir' });
      const blobsBefore = (await s.content.list()).map((b) => b.digest).sort();

      // 1. A blob whose bytes do not match its name, in a tar.
      const evil = join(t.dir, 'evil');
      run('cp', ['-r', layout, evil]);
      const blobDir = join(evil, 'blobs/sha256');
      const victim = readdirSync(blobDir).find((n) => statSync(join(blobDir, n)).size > 100_000)!;
      writeFileSync(join(blobDir, victim), Buffer.alloc(statSync(join(blobDir, victim)).size, 7));
      run('tar', ['-C', evil, '-cf', join(t.dir, 'evil.tar'), '.']);
      const s2 = openServices(join(t.dir, 'root2'));
      try {
        await assert.rejects(
          importImages(s2, join(t.dir, 'evil.tar')),
          (e: unknown) => e instanceof BerthError && e.code === 'digest-mismatch' && e.message.includes(victim),
        );
        assert.equal(await s2.content.has(`sha256:${victim}`), false);
        assert.deepEqual(s2.images.list(), []);
        // The same lie in a directory layout.
        await assert.rejects(
          importImages(s2, evil),
          (e: unknown) => e instanceof BerthError && e.code === 'digest-mismatch',
        );
        assert.equal(await s2.content.has(`sha256:${victim}`), false);
        assert.deepEqual(readdirSync(join(s2.root, 'content/ingest')), [], 'no temp files left');
      } finally {
        s2.close();
      }

      // 2. Entries that climb out of the archive are never written anywhere.
      const climb = join(t.dir, 'climb');
      mkdirSync(join(climb, 'a'), { recursive: true });
      writeFileSync(join(climb, 'a/pwned'), 'x');
      run('tar', [
        '-C',
        climb,
        '-cf',
        join(t.dir, 'climb.tar'),
        '--transform',
        's,^a/pwned,../../../../tmp/berth-pwned,',
        'a/pwned',
      ]);
      run('tar', ['-C', layout, '-rf', join(t.dir, 'climb.tar'), '.']);
      const got = await importImages(s, join(t.dir, 'climb.tar'), { name: 'climb:1' });
      assert.equal(got.length, 1);
      assert.equal(existsSync('/tmp/berth-pwned'), false);

      // 3. index.json naming a blob the archive lacks.
      const holey = join(t.dir, 'holey');
      run('cp', ['-r', layout, holey]);
      const idx = JSON.parse(readFileSync(join(holey, 'index.json'), 'utf8'));
      idx.manifests[0].digest = 'sha256:' + 'f'.repeat(64);
      writeFileSync(join(holey, 'index.json'), JSON.stringify(idx));
      await assert.rejects(importImages(s, holey), /missing from the layout/);
      run('tar', ['-C', holey, '-cf', join(t.dir, 'holey.tar'), '.']);
      await assert.rejects(importImages(s, join(t.dir, 'holey.tar')), /which the archive lacks/);

      // 4. A docker archive whose layer does not match the config's diff id.
      const saved = join(t.dir, 'saved.tar');
      await exportImages(s, ['base:1'], saved, { format: 'docker' });
      const x = join(t.dir, 'x');
      mkdirSync(x);
      run('tar', ['-C', x, '-xf', saved]);
      const m = JSON.parse(readFileSync(join(x, 'manifest.json'), 'utf8'));
      run('sh', ['-c', `cd '${x}' && tar -rf '${m[0].Layers[0]}' manifest.json`]);
      run('tar', ['-C', x, '-cf', join(t.dir, 'bad-saved.tar'), '.']);
      await assert.rejects(
        importImages(s, join(t.dir, 'bad-saved.tar')),
        (e: unknown) => e instanceof BerthError && e.code === 'digest-mismatch' && /diff id/.test(e.message),
      );

      // 5. Not an archive of any known kind.
      run('tar', ['-C', climb, '-cf', join(t.dir, 'plain.tar'), 'a']);
      await assert.rejects(
        importImages(s, join(t.dir, 'plain.tar')),
        /neither an OCI layout .* nor a docker save archive/,
      );

      // Nothing that failed left an image behind; old blobs intact.
      assert.deepEqual(
        s.images
          .list()
          .map((i) => i.name)
          .sort(),
        ['docker.io/library/base:1', 'docker.io/library/climb:1'],
      );
      for (const d of blobsBefore) assert.ok(await s.content.has(d));
      const walked = await walkImage(s.content, s.images.get('base:1').target);
      assert.equal(walked.length, 3);
    } finally {
      s.close();
      t.cleanup();
    }
  },
);

test(
  'Docker schema 2 images export as OCI twins that skopeo and umoci read; --keep-docker-media-types keeps them',
  { skip: toolsMissing },
  async () => {
    const { buildImage, storeImage } = await import('../../helpers/registry.js');
    const t = tempDir();
    const s = openServices(join(t.dir, 'root'));
    try {
      const img = buildImage({ format: 'docker' });
      await storeImage(s.content, img);
      s.images.put('docker/typed:1', img.manifest);
      const layout = join(t.dir, 'layout');
      await exportImages(s, ['docker/typed:1'], layout, { format: 'oci-dir' });
      const idx = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
      assert.equal(idx.manifests[0].mediaType, MediaType.OciManifest);
      const raw = JSON.parse(run('skopeo', ['inspect', '--raw', `oci:${layout}:1`]));
      assert.equal(raw.config.mediaType, MediaType.OciConfig);
      assert.equal(raw.config.digest, img.config.digest, 'same config bytes');
      assert.deepEqual(
        raw.layers.map((l: { digest: string }) => l.digest),
        img.layers.map((l) => l.digest),
        'same layer bytes',
      );
      assert.equal(raw.layers[0].mediaType, MediaType.OciLayerGzip);
      run('umoci', ['unpack', '--image', `${layout}:1`, join(t.dir, 'bundle')]);
      assert.equal(sha256(readFileSync(join(t.dir, 'bundle/rootfs/bin/busybox'))), BUSYBOX_SHA);
      // Round trip back into Berth: the OCI twin is a valid image.
      const s2 = openServices(join(t.dir, 'root2'));
      try {
        const [back] = await importImages(s2, layout);
        assert.equal(back!.name, 'docker.io/docker/typed:1');
        assert.equal((await resolveImage(s2.content, back!.target)).manifest.config.digest, img.config.digest);
      } finally {
        s2.close();
      }
      const kept = join(t.dir, 'kept');
      await exportImages(s, ['docker/typed:1'], kept, { format: 'oci-dir', keepDockerMediaTypes: true });
      const kidx = JSON.parse(readFileSync(join(kept, 'index.json'), 'utf8'));
      assert.equal(kidx.manifests[0].digest, img.manifest.digest);
      assert.equal(kidx.manifests[0].mediaType, MediaType.DockerManifest);
    } finally {
      s.close();
      t.cleanup();
    }
  },
);

test('hostile layouts: absurd manifest size, a layer posing as a manifest, schema 1', async () => {
  const t = tempDir();
  const s = openServices(join(t.dir, 'root'));
  try {
    const layout = join(t.dir, 'layout');
    mkdirSync(join(layout, 'blobs/sha256'), { recursive: true });
    writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    const put = (data: Buffer) => {
      const hex = sha256(data);
      writeFileSync(join(layout, 'blobs/sha256', hex), data);
      return { digest: `sha256:${hex}`, size: data.length };
    };
    const index = (m: object) =>
      writeFileSync(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [m] }));

    const huge = put(Buffer.alloc(5 * 1024 * 1024, 0x20));
    index({ mediaType: MediaType.OciManifest, ...huge, annotations: { 'org.opencontainers.image.ref.name': 'huge' } });
    await assert.rejects(importImages(s, layout), /over the 4194304-byte limit/);
    assert.equal(await s.content.has(huge.digest), false, 'never stored');

    const layer = put(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0]));
    index({
      mediaType: MediaType.OciManifest,
      ...layer,
      annotations: { 'org.opencontainers.image.ref.name': 'posing' },
    });
    await assert.rejects(importImages(s, layout), /not valid JSON/);

    const s1 = put(Buffer.from(JSON.stringify({ schemaVersion: 1, name: 'x', tag: 'y', fsLayers: [], history: [] })));
    index({ mediaType: MediaType.DockerSchema1Signed, ...s1 });
    await assert.rejects(importImages(s, layout), /schema 1 image manifests are not supported/);

    index({ mediaType: MediaType.OciManifest, digest: 'sha256:../../etc', size: 1 });
    await assert.rejects(importImages(s, layout), /digest/);
    assert.deepEqual(s.images.list(), []);
  } finally {
    s.close();
    t.cleanup();
  }
});
