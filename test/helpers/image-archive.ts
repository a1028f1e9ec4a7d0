// A busybox image made on the spot, as a `docker save` archive (manifest.json,
// the image config named by its digest, one layer tar named by its diff id):
// the format that both `docker load` and `ctr images import` read. No network
// and no Berth code is involved, so the archive is an independent input for
// the drop-in tests.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeBusyboxRootfs } from './busybox.js';

const GOARCH: Record<string, string> = {
  x64: 'amd64',
  arm64: 'arm64',
  arm: 'arm',
  ppc64: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
};

export interface ImageArchive {
  /** The `docker save`-format tar. */
  file: string;
  /** The tag inside it, e.g. "busybox-test:latest". */
  tag: string;
  /** "sha256:…" of the image config (docker's image id). */
  configDigest: string;
  /** "sha256:…" of the uncompressed layer. */
  diffId: string;
}

/** Changes to the image before it is archived (hostile images for the tests that need them). */
export interface ArchiveEdits {
  /** Change the files of the one layer. */
  rootfs?: (dir: string) => void;
  /** Change the image's `config` object (Volumes, Entrypoint, Env...). */
  config?: (config: Record<string, unknown>) => void;
}

function sha256(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
}

/**
 * Write `<dir>/<name>.tar`: a one-layer busybox image tagged `tag` with
 * config {Cmd: ["sh"], Env: [PATH]} for the host's architecture.
 */
export function makeBusyboxImageArchive(
  dir: string,
  tag = 'busybox-test:latest',
  name = 'busybox-image',
  edit: ArchiveEdits = {},
): ImageArchive {
  const work = mkdtempSync(join(dir, 'img-'));
  try {
    const rootfs = join(work, 'rootfs');
    mkdirSync(rootfs);
    makeBusyboxRootfs(rootfs);
    writeFileSync(join(rootfs, 'etc/hostname'), 'busybox-test\n');
    edit.rootfs?.(rootfs);
    const out = join(work, 'out');
    mkdirSync(out);
    // The layer: uid/gid 0, sorted names, fixed mtime, so it is reproducible.
    const layerTmp = join(work, 'layer.tar');
    execFileSync('tar', [
      '-C',
      rootfs,
      '--sort=name',
      '--numeric-owner',
      '--owner=0',
      '--group=0',
      '--mtime=@0',
      '-cf',
      layerTmp,
      '.',
    ]);
    const diffHex = sha256(readFileSync(layerTmp));
    mkdirSync(join(out, diffHex));
    renameSync(layerTmp, join(out, diffHex, 'layer.tar'));
    writeFileSync(join(out, diffHex, 'VERSION'), '1.0');

    const config = {
      architecture: GOARCH[process.arch] ?? process.arch,
      os: 'linux',
      created: '1970-01-01T00:00:00Z',
      config: {
        Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
        Cmd: ['sh'],
        WorkingDir: '/',
      },
      rootfs: { type: 'layers', diff_ids: [`sha256:${diffHex}`] },
      history: [{ created: '1970-01-01T00:00:00Z', created_by: 'berth test: busybox-static and its applet links' }],
    };
    edit.config?.(config.config);
    const configBuf = Buffer.from(JSON.stringify(config));
    const configHex = sha256(configBuf);
    writeFileSync(join(out, `${configHex}.json`), configBuf);
    const [repo, ref] = tag.split(':');
    writeFileSync(
      join(out, 'manifest.json'),
      JSON.stringify([{ Config: `${configHex}.json`, RepoTags: [tag], Layers: [`${diffHex}/layer.tar`] }]),
    );
    writeFileSync(join(out, 'repositories'), JSON.stringify({ [repo!]: { [ref ?? 'latest']: diffHex } }));

    const file = join(dir, `${name}.tar`);
    execFileSync('tar', ['-C', out, '--sort=name', '--numeric-owner', '--owner=0', '--group=0', '-cf', file, '.']);
    return { file, tag, configDigest: `sha256:${configHex}`, diffId: `sha256:${diffHex}` };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
