// A large file's data written in the thread pool (./writers.ts decides
// which files): batches of the layer's chunks, in order, with one pwritev
// each, at most a few MiB accepted ahead of the disk.

import { writev } from 'node:fs';

/**
 * The data of a file at least this large is written in the thread pool, in
 * batches, while the event loop goes on decompressing, hashing and parsing
 * the next bytes of the layer: its copy into the page cache (~0.1 s of CPU
 * per 200 MB) then runs on another core. Smaller files are written in
 * place: a thread-pool round trip per file would cost more than the write.
 */
export const POOLED_FILE_BYTES = 1 << 20;
/** A batch is written once it holds this much (one pwritev). */
const BATCH_BYTES = 1 << 20;
/** The reader waits once this much is accepted and not yet written. */
const MAX_PENDING_BYTES = 8 << 20;

function pwritev(fd: number, chunks: Buffer[], position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    writev(fd, chunks, position, (err, n) => (err ? reject(err) : resolve(n)));
  });
}

/** Writes one file's data in order, one batch at a time in the thread pool. */
export class PooledWrites {
  private batch: Buffer[] = [];
  private batchBytes = 0;
  private pos = 0;
  private pending = 0;
  private chain: Promise<void> = Promise.resolve();
  private failed?: Error;

  constructor(private readonly fd: number) {}

  async write(chunk: Buffer): Promise<void> {
    this.check();
    this.batch.push(chunk);
    this.batchBytes += chunk.length;
    this.pending += chunk.length;
    if (this.batchBytes >= BATCH_BYTES) this.flush();
    if (this.pending >= MAX_PENDING_BYTES) await this.chain;
    this.check();
  }

  /** All data written; throws the first write error. */
  async finish(): Promise<void> {
    this.flush();
    await this.chain;
    this.check();
  }

  private check(): void {
    if (this.failed !== undefined) throw this.failed;
  }

  /** Waits for the writes in flight, whatever happened. */
  settle(): Promise<void> {
    return this.chain;
  }

  private flush(): void {
    if (this.batchBytes === 0) return;
    const chunks = this.batch;
    const n = this.batchBytes;
    const at = this.pos;
    this.batch = [];
    this.batchBytes = 0;
    this.pos += n;
    this.chain = this.chain.then(async () => {
      try {
        if (this.failed === undefined) await writeChunksAt(this.fd, chunks, at, n);
      } catch (e) {
        this.failed = e instanceof Error ? e : new Error(String(e));
      } finally {
        this.pending -= n;
      }
    });
  }
}

/** pwritev until all `n` bytes are at `at` (a short write on a file is rare, not impossible). */
async function writeChunksAt(fd: number, chunks: Buffer[], at: number, n: number): Promise<void> {
  let done = await pwritev(fd, chunks, at);
  while (done < n) {
    const rest: Buffer[] = [];
    let skip = done;
    for (const c of chunks) {
      if (skip >= c.length) skip -= c.length;
      else {
        rest.push(c.subarray(skip));
        skip = 0;
      }
    }
    const more = await pwritev(fd, rest, at + done);
    if (more === 0) throw new Error(`write at offset ${at + done}: no progress`);
    done += more;
  }
}
