// The images the pull benchmark measures, built on the spot from a seeded
// generator (the same bytes on every run and every machine, no internet):
//   small  many small files: busybox, ~17,000 entries in 7 layers, ~290 MiB (gzip)
//   large  few large files of incompressible data: 6 layers, ~330 files of
//          600 KB, each half random and half zeros, ~100 MB gzip
//   zstd   a zstd-compressed image: large files and small text files, zstd -3
// Each is written as an OCI layout (every layer a real tar made by tar(1)).

import { spawnSync } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  linkSync,
  mkdirSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { Transform, Writable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { busyboxLayerTar, hostArch } from '../test/helpers/registry.js';

export const SHAPES = ['small', 'large', 'zstd'] as const;
export type Shape = (typeof SHAPES)[number];

/** Deterministic bytes: AES-256-CTR over zeros, keyed by a seed (fast, ~1 GB/s, and incompressible). */
class Prng {
  private readonly c;
  constructor(seed: string) {
    const key = createHash('sha256').update(seed).digest();
    this.c = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  }
  bytes(n: number): Buffer {
    return this.c.update(Buffer.alloc(n));
  }
  int(n: number): number {
    return this.bytes(4).readUInt32LE() % n;
  }
}

/** A pool of word-like text: slices of it compress about 3x with gzip, as source, docs and configs do. */
function textPool(g: Prng, bytes: number): Buffer {
  const alphabet = 'etaoinshrdlcumwfgypbvkjxqz';
  const words: string[] = [];
  for (let i = 0; i < 20000; i++) {
    const r = g.bytes(11);
    words.push([...r.subarray(1, 2 + (r[0]! % 10))].map((b) => alphabet[b % 26]).join(''));
  }
  const out = Buffer.alloc(bytes);
  const pick = g.bytes(bytes);
  let off = 0;
  let j = 0;
  while (off < bytes) {
    const w = words[((pick[j]! << 8) | pick[j + 1]!) % words.length]!;
    j = (j + 2) % (bytes - 2);
    off += out.write(w, off);
    if (off < bytes) out[off++] = pick[j]! % 13 === 0 ? 0x0a : 0x20;
  }
  return out;
}

interface LayerSpec {
  name: string;
  build: (dir: string) => void;
}

const busybox: LayerSpec = {
  name: 'busybox base',
  // The tests' busybox tree, from the same tar they use.
  build: (d) => void spawnSync('tar', ['-C', d, '-xf', '-'], { input: busyboxLayerTar() }),
};

/** Shape "small": an application image with ~17,000 entries, most of them small files. */
function smallSpecs(g: Prng): LayerSpec[] {
  const pool = textPool(g, 16 * 2 ** 20);
  const text = (size: number) => {
    const start = g.int(pool.length - size);
    return pool.subarray(start, start + size);
  };
  return [
    busybox,
    {
      name: 'random blobs',
      build: (d) => {
        mkdirSync(join(d, 'opt/blobs'), { recursive: true });
        for (let i = 0; i < 36; i++)
          writeFileSync(join(d, 'opt/blobs', `blob-${i}.bin`), g.bytes(1_500_000 + g.int(3_000_000)));
      },
    },
    {
      name: 'small text files',
      build: (d) => {
        for (let k = 0; k < 300; k++) {
          const dir = join(d, 'usr/share/doc', `pkg-${String(k).padStart(4, '0')}`);
          mkdirSync(dir, { recursive: true });
          for (let i = 0; i < 40; i++) writeFileSync(join(dir, `file-${i}.txt`), text(200 + g.int(8000)));
        }
      },
    },
    {
      name: 'medium mixed files',
      build: (d) => {
        for (let k = 0; k < 18; k++) {
          const dir = join(d, 'usr/lib/app', `mod-${k}`);
          mkdirSync(dir, { recursive: true });
          for (let i = 0; i < 10; i++) {
            const size = 64 * 1024 + g.int(900 * 1024);
            writeFileSync(join(dir, i % 2 ? `lib${i}.so` : `part${i}.js`), i % 2 ? g.bytes(size) : text(size));
          }
        }
        mkdirSync(join(d, 'usr/bin'), { recursive: true });
        symlinkSync('../lib/app/mod-0/part0.js', join(d, 'usr/bin/app'));
      },
    },
    {
      name: 'small binary files, links',
      build: (d) => {
        for (let k = 0; k < 100; k++) {
          const dir = join(d, 'var/lib/data', `shard-${k}`);
          mkdirSync(dir, { recursive: true });
          for (let i = 0; i < 40; i++) writeFileSync(join(dir, `rec-${i}.dat`), g.bytes(1024 + g.int(15 * 1024)));
          linkSync(join(dir, 'rec-0.dat'), join(dir, 'rec-0.hardlink'));
          symlinkSync('rec-1.dat', join(dir, 'latest'));
        }
        spawnSync('chown', ['-R', '1000:1000', join(d, 'var/lib/data')]);
      },
    },
    {
      // deletions: a whiteout of a directory of layer 3, an opaque directory, changed files
      name: 'whiteouts, edits',
      build: (d) => {
        const doc = join(d, 'usr/share/doc');
        mkdirSync(join(doc, 'pkg-0008'), { recursive: true });
        writeFileSync(join(doc, '.wh.pkg-0007'), '');
        writeFileSync(join(doc, 'pkg-0008/.wh..wh..opq'), '');
        writeFileSync(join(doc, 'pkg-0008/replaced.txt'), text(4000));
        mkdirSync(join(d, 'opt/blobs'), { recursive: true });
        writeFileSync(join(d, 'opt/blobs/.wh.blob-29.bin'), '');
        writeFileSync(join(d, 'opt/blobs/blob-28.bin'), g.bytes(200_000));
      },
    },
    {
      name: 'config',
      build: (d) => {
        mkdirSync(join(d, 'etc/app'), { recursive: true });
        for (let i = 0; i < 50; i++) writeFileSync(join(d, 'etc/app', `conf-${i}.yaml`), text(100 + g.int(2000)));
      },
    },
  ];
}

/** `count` files of 600 KB, the first half of each random, the second zeros. */
function largeFiles(g: Prng, name: string, count: number): LayerSpec {
  return {
    name,
    build: (d) => {
      const dir = join(d, 'opt', name.replace(/[^a-z0-9]+/gi, '-'));
      mkdirSync(dir, { recursive: true });
      for (let i = 0; i < count; i++) {
        writeFileSync(join(dir, `part-${i}.bin`), Buffer.concat([g.bytes(300 * 1024), Buffer.alloc(300 * 1024)]));
      }
    },
  };
}

/** Shape "large": busybox and five layers of 66 large files (330 in all). */
function largeSpecs(g: Prng): LayerSpec[] {
  return [busybox, ...[1, 2, 3, 4, 5].map((i) => largeFiles(g, `large files ${i}`, 66))];
}

/** Shape "zstd": busybox, two layers of large files, one of 3,000 small text files. */
function zstdSpecs(g: Prng): LayerSpec[] {
  const pool = textPool(g, 4 * 2 ** 20);
  return [
    busybox,
    largeFiles(g, 'large files 1', 80),
    largeFiles(g, 'large files 2', 80),
    {
      name: 'small text files',
      build: (d) => {
        for (let k = 0; k < 100; k++) {
          const dir = join(d, 'usr/share/doc', `pkg-${k}`);
          mkdirSync(dir, { recursive: true });
          for (let i = 0; i < 30; i++) {
            const size = 200 + g.int(8000);
            const start = g.int(pool.length - size);
            writeFileSync(join(dir, `file-${i}.txt`), pool.subarray(start, start + size));
          }
        }
      },
    },
  ];
}

/** sha256 and byte count of what passes through. */
class Hasher extends Transform {
  readonly h = createHash('sha256');
  n = 0;
  override _transform(c: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    this.h.update(c);
    this.n += c.length;
    cb(null, c);
  }
}

export interface BuiltLayer {
  name: string;
  files: number;
  mediaType: string;
  digest: string;
  size: number;
  diffId: string;
  uncompressed: number;
}

/** Compress a tar file into `out`: gzip -6 by Node's zlib, or zstd -3 by zstd(1). */
async function compress(tarFile: string, out: string, zstd: boolean): Promise<{ raw: Hasher; packed: Hasher }> {
  const raw = new Hasher();
  const packed = new Hasher();
  if (!zstd) {
    await pipeline(createReadStream(tarFile), raw, createGzip({ level: 6 }), packed, createWriteStream(out));
    return { raw, packed };
  }
  const z = spawnSync('zstd', ['-3', '-q', '-f', '-o', `${out}.zst`, tarFile]);
  if (z.status !== 0) throw new Error(`zstd: ${String(z.stderr)}`);
  await pipeline(createReadStream(tarFile), raw, new Writable({ write: (_c, _e, cb) => cb() }));
  await pipeline(createReadStream(`${out}.zst`), packed, createWriteStream(out));
  rmSync(`${out}.zst`);
  return { raw, packed };
}

/**
 * Build the image of `shape` as an OCI layout in `layout`, using `work` for
 * the layer trees; returns its layers and sizes.
 */
export async function buildImage(
  shape: Shape,
  layout: string,
  work: string,
): Promise<{ layers: BuiltLayer[]; total: number; compressed: number }> {
  const g = new Prng(`berth bench ${shape}`);
  const specs = shape === 'small' ? smallSpecs(g) : shape === 'large' ? largeSpecs(g) : zstdSpecs(g);
  const zstd = shape === 'zstd';
  const blobs = join(layout, 'blobs/sha256');
  mkdirSync(blobs, { recursive: true });
  const layers: BuiltLayer[] = [];
  for (const [i, spec] of specs.entries()) {
    const dir = join(work, `gen-${shape}-${i}`);
    mkdirSync(dir);
    spec.build(dir);
    const tarFile = join(work, `gen-${shape}-${i}.tar`);
    const tarArgs = ['-C', dir, '--numeric-owner', '--sort=name', '--mtime=@1767225600', '-cf', tarFile, '.'];
    const t = spawnSync('tar', tarArgs, { encoding: 'utf8' });
    if (t.status !== 0) throw new Error(`tar: ${t.stderr}`);
    const files = Number(spawnSync('sh', ['-c', 'find . | wc -l'], { cwd: dir, encoding: 'utf8' }).stdout.trim());
    rmSync(dir, { recursive: true, force: true });
    const tmp = join(blobs, `tmp-${i}`);
    const { raw, packed } = await compress(tarFile, tmp, zstd);
    rmSync(tarFile);
    const digest = `sha256:${packed.h.digest('hex')}`;
    renameSync(tmp, join(blobs, digest.slice(7)));
    const mediaType = `application/vnd.oci.image.layer.v1.tar+${zstd ? 'zstd' : 'gzip'}`;
    layers.push({
      name: spec.name,
      files,
      mediaType,
      digest,
      size: packed.n,
      diffId: `sha256:${raw.h.digest('hex')}`,
      uncompressed: raw.n,
    });
  }
  const put = (bytes: Buffer): string => {
    const d = createHash('sha256').update(bytes).digest('hex');
    writeFileSync(join(blobs, d), bytes);
    return `sha256:${d}`;
  };
  const created = '2026-01-01T00:00:00Z';
  const config = Buffer.from(
    JSON.stringify({
      architecture: hostArch(),
      os: 'linux',
      created,
      config: { Cmd: ['/bin/sh'], Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history: layers.map((l) => ({ created, created_by: `berth bench: ${l.name}` })),
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: put(config), size: config.length },
      layers: layers.map(({ mediaType, digest, size }) => ({ mediaType, digest, size })),
    }),
  );
  const mdigest = put(manifest);
  writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const ann = { 'org.opencontainers.image.ref.name': 'latest' };
  const index = {
    schemaVersion: 2,
    manifests: [
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: mdigest,
        size: manifest.length,
        annotations: ann,
      },
    ],
  };
  writeFileSync(join(layout, 'index.json'), JSON.stringify(index));
  return {
    layers,
    total: layers.reduce((a, l) => a + l.uncompressed, 0),
    compressed: layers.reduce((a, l) => a + l.size, 0),
  };
}
