// An independent oracle: trees as lstat sees them (with xattrs), and OCI
// layouts that umoci can unpack.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256 } from './layers.js';

export interface Node {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  size?: number;
  sum?: string;
  link?: string;
  rdev?: number;
  xattrs: string;
}

export function xattrsOf(p: string): string {
  const out = execFileSync(
    'getfattr',
    ['-h', '-d', '-m', '^(user|trusted|security)\\.', '-e', 'hex', '--absolute-names', p],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
  );
  return out
    .split('\n')
    .filter((l) => l && !l.startsWith('#') && !l.startsWith('trusted.overlay.'))
    .sort()
    .join(';');
}

export function tree(root: string): Map<string, Node> {
  const out = new Map<string, Node>();
  const walk = (rel: string): void => {
    const p = rel ? join(root, rel) : root;
    const st = lstatSync(p);
    const type = st.isDirectory()
      ? 'dir'
      : st.isSymbolicLink()
        ? 'symlink'
        : st.isFile()
          ? 'file'
          : st.isCharacterDevice()
            ? 'chr'
            : st.isBlockDevice()
              ? 'blk'
              : st.isFIFO()
                ? 'fifo'
                : 'other';
    const n: Node = {
      type,
      mode: st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      mtime: Math.floor(st.mtimeMs / 1000),
      xattrs: xattrsOf(p),
    };
    if (type === 'file') {
      n.size = st.size;
      n.sum = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
    if (type === 'symlink') {
      n.link = readlinkSync(p);
      n.mode = 0;
    }
    if (type === 'chr' || type === 'blk') n.rdev = st.rdev;
    if (rel) out.set(rel, n);
    if (type === 'dir') for (const c of readdirSync(p)) walk(rel ? `${rel}/${c}` : c);
  };
  walk('');
  return out;
}

export function ociLayout(dir: string, layers: { blob: Buffer; diffId: string }[]): void {
  mkdirSync(join(dir, 'blobs/sha256'), { recursive: true });
  const put = (b: Buffer): { digest: string; size: number } => {
    const digest = sha256(b);
    writeFileSync(join(dir, 'blobs/sha256', digest.slice(7)), b);
    return { digest, size: b.length };
  };
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: {},
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...put(config) },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...put(l.blob) })),
    }),
  );
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...put(manifest),
          annotations: { 'org.opencontainers.image.ref.name': 'test' },
        },
      ],
    }),
  );
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
}
