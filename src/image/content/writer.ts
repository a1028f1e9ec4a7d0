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

/**
 * Chunks are gathered and written with one pwritev: a socket hands over
 * 16-64 KiB at a time, and one thread-pool round trip per chunk was most of
 * a download's CPU time. A batch is written when it reaches this size, or as
 * soon as the event loop has nothing more to give in this turn (a write
 * scheduled with setImmediate): data is never held while the sender stalls,
 * so what a killed pull received is on disk for the resume.
 */
const BATCH_BYTES = 1 << 20;

async function writevAll(fh: FileHandle, chunks: Uint8Array[], position: number): Promise<void> {
  const total = chunks.reduce((a, c) => a + c.length, 0);
  const { bytesWritten } = await fh.writev(chunks, position);
  if (bytesWritten === total) return;
  // A short write (rare on a file): the rest one chunk at a time.
  let skip = bytesWritten;
  let at = position + bytesWritten;
  for (const c of chunks) {
    if (skip >= c.length) {
      skip -= c.length;
      continue;
    }
    const rest = c.subarray(skip);
    skip = 0;
    await writeAll(fh, rest, at);
    at += rest.length;
  }
}

/** Renames the verified data file into the store and records labels. */
export type FinishCommit = (digest: Digest, dataPath: string, labels?: Record<string, string>) => Promise<BlobInfo>;

export class IngestWriterImpl implements IngestWriter {
  readonly alreadyExists = false;
  private done = false;
  private pos: number;
  /** Chunks accepted but not yet written, and where the first of them goes. */
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  /** The batches being written, in order; the first failure is kept and thrown at the next call. */
  private writing: Promise<void> = Promise.resolve();
  private failed?: Error;
  private scheduled = false;
  private inFlight = 0;

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
    if (this.failed !== undefined) throw this.failed;
    this.hash.update(chunk);
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    this.pos += chunk.length;
    // Wait for the disk when a batch is full or as much is still being written (a disk slower than the network).
    if (this.pendingBytes + this.inFlight >= BATCH_BYTES) {
      await this.flush();
    } else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flush().catch(() => undefined); // kept in this.failed
      });
    }
  }

  /** Queue what is pending at the end of the data file, and wait for every queued batch. */
  private flush(): Promise<void> {
    if (this.pendingBytes > 0) {
      const chunks = this.pending;
      const at = this.pos - this.pendingBytes;
      const n = this.pendingBytes;
      this.pending = [];
      this.pendingBytes = 0;
      this.inFlight += n;
      this.writing = this.writing
        .then(() => (this.failed === undefined ? writevAll(this.fh, chunks, at) : undefined))
        .catch((e: unknown) => {
          this.failed ??= e instanceof Error ? e : new Error(String(e));
        })
        .finally(() => {
          this.inFlight -= n;
        });
    }
    return this.writing.then(() => {
      if (this.failed !== undefined) throw this.failed;
    });
  }

  async commit(labels?: Record<string, string>): Promise<BlobInfo> {
    if (this.done) throw new BerthError('image', 'failed-precondition', `ingest ${this.ref}: already finished`);
    if (this.pos < this.expected.size) {
      // Truncated: keep the data so the download can resume.
      await this.flush();
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
      await this.flush();
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
      // What was accepted stays for a resume.
      await this.flush().catch(() => undefined);
      await this.fh.sync().catch(() => undefined);
      await this.fh.close();
    } finally {
      this.held.release();
    }
  }

  async abort(): Promise<void> {
    if (this.done) return;
    this.done = true;
    this.pending = [];
    this.pendingBytes = 0;
    try {
      await this.writing;
      await this.fh.close().catch(() => undefined);
      await rm(this.p.dir, { recursive: true, force: true });
    } finally {
      this.held.release();
    }
  }
}
