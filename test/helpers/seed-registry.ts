// Put a busybox image (built on the spot from busybox-static) into a test
// registry, through skopeo from an OCI layout: the daemons under test then
// pull it as they would pull from any registry, and nothing comes from the
// internet.

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage, type BuiltImage } from './registry.js';

function putBlob(layout: string, digest: string, bytes: Buffer): void {
  const [alg, hex] = digest.split(':') as [string, string];
  mkdirSync(join(layout, 'blobs', alg), { recursive: true });
  writeFileSync(join(layout, 'blobs', alg, hex), bytes);
}

/** Push `img` (default: busybox, one layer) as `<registry>/<repo>:<tag>`; answers the image. */
export function seedImage(registryHost: string, repoTag: string, img: BuiltImage = buildImage()): BuiltImage {
  const layout = mkdtempSync(join(tmpdir(), 'berth-seed-'));
  try {
    writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    for (const l of img.layers) putBlob(layout, l.digest, l.bytes);
    putBlob(layout, img.config.digest, img.configBytes);
    putBlob(layout, img.manifest.digest, img.manifestBytes);
    writeFileSync(
      join(layout, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [{ ...img.manifest, annotations: { 'org.opencontainers.image.ref.name': 'seed' } }],
      }),
    );
    const policy = join(layout, 'policy.json');
    writeFileSync(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
    execFileSync(
      'skopeo',
      [
        '--policy',
        policy,
        'copy',
        '--quiet',
        '--preserve-digests',
        '--dest-tls-verify=false',
        `oci:${layout}:seed`,
        `docker://${registryHost}/${repoTag}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
  } finally {
    rmSync(layout, { recursive: true, force: true });
  }
  return img;
}
