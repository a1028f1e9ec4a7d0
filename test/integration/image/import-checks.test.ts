// Import refuses what would only fail later (or never): a descriptor whose
// size is not its blob's (the layer would import and unpack, and be pushed
// on with a manifest that lies), and a docker-save config that is a link.
// Nothing is recorded for a refused archive.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { importImages } from '../../../src/image/archive/index.js';
import { isBerthError } from '../../../src/common/errors.js';
import { gzip, makeTar } from '../snapshot/layers.js';
import { openServices, tempDir } from './fixtures.js';

const digest = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

async function parts() {
  const layerTar = await makeTar([{ name: 'hello.txt', content: 'hello\n' }]);
  const layer = gzip(layerTar);
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [digest(layerTar)] } }),
  );
  return { layerTar, layer, config };
}

function layoutWith(dir: string, blobs: Buffer[], manifest: Buffer): void {
  mkdirSync(join(dir, 'blobs/sha256'), { recursive: true });
  for (const b of [...blobs, manifest]) writeFileSync(join(dir, 'blobs/sha256', digest(b).slice(7)), b);
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: digest(manifest),
          size: manifest.length,
          annotations: { 'org.opencontainers.image.ref.name': 'v1' },
        },
      ],
    }),
  );
}

test("a layer descriptor whose size is not the blob's is refused at import; nothing is recorded", async () => {
  const t = tempDir();
  const s = openServices(join(t.dir, 'root'));
  try {
    const { layer, config } = await parts();
    const manifestFor = (layerSize: number) =>
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: {
            mediaType: 'application/vnd.oci.image.config.v1+json',
            digest: digest(config),
            size: config.length,
          },
          layers: [
            { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: digest(layer), size: layerSize },
          ],
        }),
      );
    const bad = join(t.dir, 'bad');
    layoutWith(bad, [layer, config], manifestFor(layer.length + 1));
    // As an OCI layout tar (blobs stored by their tar entry's size), and as a directory.
    const badTar = join(t.dir, 'bad.tar');
    execFileSync('tar', ['-cf', badTar, '-C', bad, '.']);
    for (const input of [badTar, bad]) {
      await assert.rejects(
        importImages(s, input, { baseName: 'localhost/sizes' }),
        (e: unknown) => {
          assert.ok(isBerthError(e), String(e));
          assert.match(
            e.message,
            new RegExp(
              `${digest(layer)}: (its descriptor says ${layer.length + 1} bytes, the blob has ${layer.length}|expected ${layer.length + 1} bytes, got ${layer.length})`,
            ),
          );
          return true;
        },
        input,
      );
      assert.deepEqual(s.images.list(), []);
    }
    // The same layout with the right size imports.
    const good = join(t.dir, 'good');
    layoutWith(good, [layer, config], manifestFor(layer.length));
    assert.deepEqual(
      (await importImages(s, good, { baseName: 'localhost/sizes' })).map((i) => i.name),
      ['localhost/sizes:v1'],
    );
  } finally {
    s.close();
    t.cleanup();
  }
});

test('a docker-save archive whose config member is a symlink is refused at import', async () => {
  const t = tempDir();
  const s = openServices(join(t.dir, 'root'));
  try {
    const { layerTar, config } = await parts();
    const archive = await makeTar([
      {
        name: 'manifest.json',
        content: JSON.stringify([{ Config: 'cfg.json', RepoTags: ['localhost/linked:1'], Layers: ['l/layer.tar'] }]),
      },
      { name: 'real.json', content: config },
      { name: 'cfg.json', type: 'symlink', linkname: 'real.json' },
      { name: 'l/', type: 'directory' },
      { name: 'l/layer.tar', content: layerTar },
    ]);
    const file = join(t.dir, 'linked.tar');
    writeFileSync(file, archive);
    await assert.rejects(
      importImages(s, file),
      /manifest\.json\[0\]: config cfg\.json is a link in the archive, not a file/,
    );
    assert.deepEqual(s.images.list(), []);
  } finally {
    s.close();
    t.cleanup();
  }
});
