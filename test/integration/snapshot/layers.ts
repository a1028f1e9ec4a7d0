// Layer tars built on the spot with tar-stream, and the small fixtures the
// snapshot tests share (temp roots that are always unmounted and removed).

import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync, readdirSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { BUSYBOX } from '../../helpers/busybox.js';
import type { ContentStore, BlobInfo, Digest } from '../../../src/image/content/types.js';

export interface TarEntry {
  name: string;
  type?: 'file' | 'link' | 'symlink' | 'directory' | 'character-device' | 'block-device' | 'fifo';
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: Date;
  linkname?: string;
  content?: string | Buffer;
  devmajor?: number;
  devminor?: number;
  pax?: Record<string, string>;
}

export const T0 = new Date('2020-01-02T03:04:05Z');

export async function makeTar(entries: TarEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on('data', (c: unknown) => {
      chunks.push(c as Buffer);
    });
    pack.on('end', () => resolve());
    pack.on('error', reject);
  });
  for (const e of entries) {
    const type = e.type ?? 'file';
    const header = {
      name: e.name,
      type,
      mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644),
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      mtime: e.mtime ?? T0,
      linkname: e.linkname,
      devmajor: e.devmajor,
      devminor: e.devminor,
      pax: e.pax,
    };
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null): void => (err ? reject(err) : resolve());
      if (type === 'file') pack.entry(header, e.content ?? '', cb);
      else pack.entry(header, cb);
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

export function sha256(b: Buffer): string {
  return 'sha256:' + createHash('sha256').update(b).digest('hex');
}

export function gzip(b: Buffer): Buffer {
  return gzipSync(b);
}

export function zstd(b: Buffer): Buffer {
  return execFileSync('zstd', ['-q', '-c'], { input: b, maxBuffer: 1 << 30 });
}

export function haveZstdCli(): boolean {
  return existsSync('/usr/bin/zstd');
}

/** The entries of a busybox root filesystem, for a base layer. */
export function busyboxEntries(): TarEntry[] {
  const applets = execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' })
    .split('\n')
    .filter((a) => a && a !== 'busybox');
  const entries: TarEntry[] = [];
  for (const d of ['bin/', 'etc/', 'tmp/', 'usr/', 'usr/bin/', 'var/', 'dev/', 'proc/', 'sys/'])
    entries.push({ name: d, type: 'directory' });
  entries[2]!.mode = 0o1777;
  entries.push({ name: 'bin/busybox', content: readFileSync(BUSYBOX), mode: 0o755 });
  for (const a of applets)
    if (a !== 'busybox') entries.push({ name: `bin/${a}`, type: 'symlink', linkname: 'busybox', mode: 0o777 });
  entries.push({ name: 'etc/passwd', content: 'root:x:0:0:root:/root:/bin/sh\n' });
  entries.push({ name: 'etc/group', content: 'root:x:0:\n' });
  return entries;
}

/** A content store in memory: just enough of the contract for unpacking. */
export class MemoryStore implements ContentStore {
  readonly blobs = new Map<string, Buffer>();
  add(b: Buffer): Digest {
    const d = sha256(b);
    this.blobs.set(d, b);
    return d;
  }
  async has(d: Digest): Promise<boolean> {
    return this.blobs.has(d);
  }
  async info(d: Digest): Promise<BlobInfo> {
    const b = this.blobs.get(d);
    if (!b) throw new Error(`no blob ${d}`);
    return { digest: d, size: b.length, createdAt: new Date(), labels: {} };
  }
  blobPath(): string {
    throw new Error('not in memory');
  }
  readStream(d: Digest): Readable {
    const b = this.blobs.get(d);
    if (!b) throw new Error(`no blob ${d}`);
    // Small chunks, so that parsing across chunk boundaries is exercised.
    const parts: Buffer[] = [];
    for (let i = 0; i < b.length; i += 7919) parts.push(b.subarray(i, i + 7919));
    return Readable.from(parts);
  }
  async readBytes(d: Digest): Promise<Buffer> {
    return this.blobs.get(d)!;
  }
  ingest(): never {
    throw new Error('not supported');
  }
  put(): never {
    throw new Error('not supported');
  }
  async setLabels(): Promise<void> {
    /* unused */
  }
  async list(): Promise<BlobInfo[]> {
    return [];
  }
  async delete(d: Digest): Promise<void> {
    this.blobs.delete(d);
  }
}

/** A temporary Berth root; `cleanup` unmounts anything under it and removes it. */
export function tempRoot(prefix = 'berth-snap-'): { root: string; cleanup: () => void } {
  const root = mkdtempSync(join(tmpdir(), prefix));
  return {
    root,
    cleanup: () => {
      const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
        .split('\n')
        .map((l) => l.split(' ')[4] ?? '')
        .filter((m) => m === root || m.startsWith(root + '/'))
        .sort((a, b) => b.length - a.length);
      for (const m of mounts) {
        try {
          execFileSync('umount', ['-l', m], { stdio: 'ignore' });
        } catch {
          /* already gone */
        }
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Names in a directory, sorted. */
export function ls(dir: string): string[] {
  return readdirSync(dir).sort();
}

export function lstatOr(p: string): ReturnType<typeof lstatSync> | undefined {
  try {
    return lstatSync(p);
  } catch {
    return undefined;
  }
}

export function haveAttrTools(): boolean {
  return existsSync('/usr/bin/setfattr') && existsSync('/usr/bin/getfattr');
}

export function getXattr(path: string, name: string): string | undefined {
  try {
    return execFileSync('getfattr', ['-h', '--only-values', '-n', name, path], {
      encoding: 'latin1',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  } catch {
    return undefined;
  }
}
