// One ingest's writer: appends at the end of the partial file, hashing as it
// goes; commit checks size and digest, fsyncs, and hands the file to the store
// to be renamed into blobs/. Only the holder of the ingest's lock has one.

import type { Hash } from 'node:crypto';
import { rm, type FileHandle } from 'node:fs/promises';
import { BerthError, messageOf } from '../../common/errors.js';
import type { BlobInfo, Digest, IngestWriter } from './types.js';
import type { LockHandle } from './lock.js';

/** Feeds the first `length` bytes of `fh` to `hash` (a resume recomputes the hash state). */
export async function hashFile(fh: FileHandle, length: number, hash: Hash): Promise<void> {
  const buf = Buffer.allocUnsafe(1 << 20);
  let pos = 0;
  while (pos < length) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, length - pos), pos);
    if (bytesRead === 0) break;
    hash.update(buf.subarray(0, bytesRead));
    pos += bytesRead;
  }
}

async function writeAll(fh: FileHandle, chunk: Uint8Array, position: number): Promise<void> {
  let off = 0;
  while (off < chunk.length) {
    const { bytesWritten } = await fh.write(chunk, off, chunk.length - off, position + off);
    off += bytesWritten;
  }
}

/** Renames the verified data file into the store and records labels. */
export type FinishCommit = (digest: Digest, dataPath: string, labels?: Record<string, string>) => Promise<BlobInfo>;

export class IngestWriterImpl implements IngestWriter {
  readonly alreadyExists = false;
  private done = false;
  private pos: number;

  constructor(
    private readonly finish: FinishCommit,
    readonly ref: string,
    private readonly expected: { digest: Digest; size: number },
    private readonly p: { dir: string; data: string },
    private readonly held: LockHandle,
    private readonly fh: FileHandle,
    private readonly hash: Hash,
    readonly offset: number,
  ) {
    this.pos = offset;
  }

  /** Bytes written so far, including the resumed part. */
  get written(): number {
    return this.pos;
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (this.done) throw new BerthError('image', 'failed-precondition', `ingest ${this.ref}: already finished`);
    if (this.pos + chunk.length > this.expected.size) {
      await this.abort();
      throw new BerthError(
        'image',
        'digest-mismatch',
        `ingest ${this.ref}: more than the expected ${this.expected.size} bytes for ${this.expected.digest}`,
      );
    }
    await writeAll(this.fh, chunk, this.pos);
    this.hash.update(chunk);
    this.pos += chunk.length;
  }

  async commit(labels?: Record<string, string>): Promise<BlobInfo> {
    if (this.done) throw new BerthError('image', 'failed-precondition', `ingest ${this.ref}: already finished`);
    if (this.pos < this.expected.size) {
      // Truncated: keep the data so the download can resume.
      throw new BerthError(
        'image',
        'failed-precondition',
        `ingest ${this.ref}: have ${this.pos} of ${this.expected.size} bytes for ${this.expected.digest}; resume to finish`,
      );
    }
    const { alg } = { alg: this.expected.digest.slice(0, this.expected.digest.indexOf(':')) };
    const got = `${alg}:${this.hash.digest('hex')}`;
    if (got !== this.expected.digest) {
      await this.abort();
      throw new BerthError(
        'image',
        'digest-mismatch',
        `ingest ${this.ref}: expected ${this.expected.digest}, got ${got}`,
      );
    }
    this.done = true;
    try {
      await this.fh.sync();
      await this.fh.close();
      const info = await this.finish(this.expected.digest, this.p.data, labels);
      await rm(this.p.dir, { recursive: true, force: true });
      return info;
    } catch (e) {
      throw new BerthError('image', 'internal', `ingest ${this.ref}: commit: ${messageOf(e)}`, { cause: e });
    } finally {
      this.held.release();
    }
  }

  async close(): Promise<void> {
    if (this.done) return;
    this.done = true;
    try {
      await this.fh.sync().catch(() => undefined);
      await this.fh.close();
    } finally {
      this.held.release();
    }
  }

  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    try {
      await this.fh.close().catch(() => undefined);
      await rm(this.p.dir, { recursive: true, force: true });
    } finally {
      this.held.release();
    }
  }
}
