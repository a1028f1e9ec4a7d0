// Stream plumbing for archives: sniff and undo a compression (gzip via zlib,
// zstd via fzstd, which only decompresses), and hash what passes through.

import { Readable, Transform, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { createHash, type Hash } from 'node:crypto';
import { Decompress } from 'fzstd';
import { BerthError } from '../../common/errors.js';
import { compressionOf, type Compression } from '../../common/compression.js';

class Zstd extends Transform {
  private readonly z = new Decompress((chunk) => {
    // The decoder may reuse its window: copy what it hands out.
    if (chunk.length) this.push(Buffer.from(chunk));
  });

  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    try {
      this.z.push(chunk);
      cb();
    } catch (e) {
      cb(new BerthError('image', 'invalid-argument', `zstd data is corrupt: ${(e as Error).message}`));
    }
  }

  override _flush(cb: TransformCallback): void {
    try {
      this.z.push(new Uint8Array(0), true);
      cb();
    } catch (e) {
      cb(new BerthError('image', 'invalid-argument', `zstd data is corrupt or truncated: ${(e as Error).message}`));
    }
  }
}

export function decompressor(c: Compression): Transform | undefined {
  if (c === 'gzip') return createGunzip();
  if (c === 'zstd') return new Zstd();
  return undefined;
}

/** Reads the first bytes of `input` to find its compression; returns it and a stream of the decompressed bytes. */
export async function autoDecompress(input: Readable): Promise<{ compression: Compression; stream: Readable }> {
  const head = await peek(input, 4);
  const compression = compressionOf(head.bytes);
  const d = decompressor(compression);
  if (!d) return { compression, stream: head.stream };
  head.stream.on('error', (e) => d.destroy(e));
  return { compression, stream: head.stream.pipe(d) };
}

/** Reads at least `n` bytes (or to the end), then hands back a stream that still yields them. */
export async function peek(input: Readable, n: number): Promise<{ bytes: Buffer; stream: Readable }> {
  const chunks: Buffer[] = [];
  let got = 0;
  const it = input[Symbol.asyncIterator]();
  let done = false;
  while (got < n) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    const b = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value as Uint8Array);
    chunks.push(b);
    got += b.length;
  }
  const bytes = Buffer.concat(chunks);
  async function* rest(): AsyncGenerator<Buffer> {
    yield bytes;
    if (done) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value as Buffer;
    }
  }
  return { bytes, stream: Readable.from(rest(), { objectMode: false }) };
}

/** A pass-through that hashes and counts what flows through it. */
export class Hasher extends Transform {
  readonly hash: Hash;
  size = 0;
  constructor(readonly algorithm: 'sha256' | 'sha512' = 'sha256') {
    super();
    this.hash = createHash(algorithm);
  }

  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    cb(null, chunk);
  }

  digest(): string {
    return `${this.algorithm}:${this.hash.digest('hex')}`;
  }
}
