// Layer compression, decided by the stream's magic bytes (gzip 1f 8b, zstd
// 28 b5 2f fd, else plain tar) so a layer whose media type lies is still read
// correctly; the media type is only checked to be a layer type at all.

import { PassThrough, Readable, Transform, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { createHash, type Hash } from 'node:crypto';
import { Decompress } from 'fzstd';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, ReadStream } from 'node:fs';
import { BerthError } from '../../common/errors.js';
import type { Compression } from '../../common/compression.js';

const LAYER_TYPES = new Set([
  'application/vnd.oci.image.layer.v1.tar',
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.oci.image.layer.v1.tar+zstd',
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  'application/vnd.docker.image.rootfs.diff.tar',
  'application/vnd.docker.image.rootfs.diff.tar.gzip',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
]);

export function checkLayerMediaType(mediaType: string | undefined): void {
  if (mediaType === undefined || LAYER_TYPES.has(mediaType)) return;
  throw new BerthError(
    'snapshot',
    'invalid-argument',
    `media type ${JSON.stringify(mediaType).slice(0, 200)} is not a layer this snapshotter can unpack`,
  );
}

/** fzstd's streaming decoder as a Transform. */
class ZstdDecompress extends Transform {
  private readonly d: Decompress;
  constructor() {
    super();
    // fzstd may hand out views of its window buffer: copy before pushing.
    this.d = new Decompress((chunk) => {
      if (chunk.length) this.push(Buffer.from(chunk));
    });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      this.d.push(chunk);
    } catch (e) {
      cb(new BerthError('snapshot', 'invalid-argument', `zstd stream is corrupt: ${String(e)}`));
      return;
    }
    cb();
  }

  override _flush(cb: TransformCallback): void {
    try {
      this.d.push(new Uint8Array(0), true);
    } catch (e) {
      cb(new BerthError('snapshot', 'invalid-argument', `zstd stream is corrupt or truncated: ${String(e)}`));
      return;
    }
    cb();
  }
}

/**
 * zstd(1) in a child process when installed: fzstd is pure JavaScript,
 * about 25 MB/s here and on the event loop, against ~500 MB/s for zstd(1)
 * in its own process. BERTH_ZSTD=fzstd forces the in-process decoder.
 */
export function zstdTool(): string | undefined {
  if (process.env.BERTH_ZSTD === 'fzstd') return undefined;
  return ['/usr/bin/zstd', '/bin/zstd', '/usr/local/bin/zstd'].find((p) => existsSync(p));
}

export function decompressor(c: Compression): Transform | undefined {
  // 128 KiB output chunks: the default 16 KiB costs a thread-pool round trip per 16 KiB.
  if (c === 'gzip') return createGunzip({ chunkSize: 128 * 1024 });
  if (c === 'zstd') {
    const tool = zstdTool();
    return tool ? new ExternalDecompress(tool, ['-d', '-c', '-q'], 'zstd') : new ZstdDecompress();
  }
  return undefined;
}

/**
 * The file a stream reads whole, when it is a plain fs.ReadStream from the
 * start: zstd(1) can then read the file itself, instead of every compressed
 * byte going through our process and a pipe (~150 ms of main-thread time per
 * 50 MB here).
 */
export function wholeFileOf(s: Readable): string | undefined {
  if (!(s instanceof ReadStream) || typeof s.path !== 'string') return undefined;
  const { start, end } = s as unknown as { start?: number; end?: number };
  return (start === undefined || start === 0) && (end === undefined || end === Infinity) ? s.path : undefined;
}

/** zstd(1) decompressing `path` into the returned stream, which fails when zstd exits non-zero. */
export function zstdFileStream(tool: string, path: string): Readable {
  const child = spawn(tool, ['-d', '-c', '-q', '--', path], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    if (stderr.length < 4096) stderr += c.toString();
  });
  const out = new PassThrough({ readableHighWaterMark: 1 << 20 });
  child.stdout.pipe(out, { end: false });
  child.on('error', (e) => out.destroy(e));
  // 'close' comes after stdout has ended, so every byte has been passed on.
  child.on('close', (code) => {
    if (code === 0) out.end();
    else
      out.destroy(
        new BerthError(
          'snapshot',
          'invalid-argument',
          `zstd stream is corrupt or truncated: ${stderr.trim() || `exit status ${code}`}`,
        ),
      );
  });
  out.on('close', () => {
    if (child.exitCode === null && child.signalCode === null) child.kill();
  });
  return out;
}

/** A decompressing child process as a Transform (stdin in, stdout out), its exit status checked. */
class ExternalDecompress extends Transform {
  private readonly child: ChildProcessWithoutNullStreams;
  private stderr = '';
  private readonly exited: Promise<number | null>;

  constructor(
    file: string,
    args: string[],
    private readonly what: string,
  ) {
    super();
    this.child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout.on('data', (c: Buffer) => {
      if (!this.push(c)) this.child.stdout.pause();
    });
    this.child.stderr.on('data', (c: Buffer) => {
      if (this.stderr.length < 4096) this.stderr += c.toString();
    });
    // EPIPE when the decoder quits early is reported through its exit status.
    this.child.stdin.on('error', () => undefined);
    this.child.on('error', (e) => this.destroy(e));
    this.exited = new Promise((resolve) => this.child.on('close', (code) => resolve(code)));
  }

  override _read(size: number): void {
    this.child.stdout.resume();
    super._read(size);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.child.stdin.write(chunk)) cb();
    else this.child.stdin.once('drain', () => cb());
  }

  override _flush(cb: TransformCallback): void {
    this.child.stdin.end();
    this.exited.then(
      (code) => {
        if (code === 0) cb();
        else
          cb(
            new BerthError(
              'snapshot',
              'invalid-argument',
              `${this.what} stream is corrupt or truncated: ${this.stderr.trim() || `exit status ${code}`}`,
            ),
          );
      },
      (e: unknown) => cb(e instanceof Error ? e : new Error(String(e))),
    );
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    if (this.child.exitCode === null) this.child.kill();
    cb(err);
  }
}

/**
 * Look at the first `n` bytes of `src` without consuming them. Returns the
 * stream to read from afterwards (a fresh one when `src` ended within the
 * head, since an ended stream cannot take bytes back).
 */
export function peek(src: Readable, n: number): Promise<{ head: Buffer; stream: Readable }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let len = 0;
    const finish = (err: Error | undefined, ended: boolean): void => {
      src.off('readable', onReadable);
      src.off('end', onEnd);
      src.off('error', onError);
      if (err) {
        reject(err);
        return;
      }
      const all = Buffer.concat(chunks);
      if (ended) {
        resolve({ head: all.subarray(0, n), stream: Readable.from(all.length ? [all] : []) });
        return;
      }
      if (all.length) src.unshift(all);
      resolve({ head: all.subarray(0, n), stream: src });
    };
    const onReadable = (): void => {
      let c: Buffer | null;
      while (len < n && (c = src.read() as Buffer | null) !== null) {
        chunks.push(c);
        len += c.length;
      }
      if (len >= n) finish(undefined, false);
    };
    const onEnd = (): void => finish(undefined, true);
    const onError = (e: Error): void => finish(e, false);
    src.on('readable', onReadable);
    src.once('end', onEnd);
    src.once('error', onError);
  });
}

/** Passes bytes through, hashing them (the diff id) and bounding their number. */
export class DiffIdCounter extends Transform {
  bytes = 0;
  private readonly hash: Hash = createHash('sha256');
  constructor(private readonly maxBytes: number) {
    super();
  }

  digest(): string {
    return 'sha256:' + this.hash.digest('hex');
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) {
      cb(
        new BerthError(
          'snapshot',
          'invalid-argument',
          `layer is larger than the limit of ${this.maxBytes} uncompressed bytes`,
        ),
      );
      return;
    }
    this.hash.update(chunk);
    cb(null, chunk);
  }
}
