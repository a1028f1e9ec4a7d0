// containerd's content service seen through src/image's ContentStore
// contract, so that the registry client and the manifest code (written for
// Berth's local store) pull straight into a containerd: each ingest is one
// content Write stream speaking containerd's ref/offset/commit protocol
// (STAT to learn how much an earlier, interrupted write of the ref holds,
// WRITE at that offset, COMMIT with the expected size, digest and labels),
// made under the caller's lease so that containerd's gc keeps the blobs until
// the image record and the gc labels reference them.

import { Readable } from 'node:stream';
import { BerthError } from '../common/errors.js';
import type { BlobInfo, ContentStore, Digest, IngestWriter } from '../image/storeless.js';
import { createHash } from 'node:crypto';
import type { Connection } from './connection.js';
import { isAlreadyExists, isNotFound } from './errors.js';
import type { ContentInfo } from './services.js';
import { ContentService, LeasesService, dateOf } from './services.js';
import type { WriteContentRequest } from '../api/gen/containerd/services/content/v1/WriteContentRequest.js';
import type { WriteContentResponse__Output } from '../api/gen/containerd/services/content/v1/WriteContentResponse.js';

/**
 * How a Write stream carries data, per runtime.
 *
 * Bun's HTTP/2 client (1.4.5) does not apply a change of the server's
 * SETTINGS_INITIAL_WINDOW_SIZE to streams already open: it keeps their send
 * window at the value they opened with, plus the WINDOW_UPDATEs. grpc-go's
 * server (a real containerd) estimates the connection's bandwidth-delay
 * product from the data it receives and, when a sample exceeds 2/3 of its
 * window, raises the initial window by SETTINGS; from then on it counts on
 * the open streams' windows having grown (RFC 9113 6.9.2) and sends its
 * stream WINDOW_UPDATEs accordingly, so a Bun client with a long Write
 * stream runs out of window and waits for an update that never comes (seen
 * with a frame trace: the client stopped at exactly 65535 bytes plus the
 * stream's WINDOW_UPDATEs, the server's window being 1.4 MB).
 *
 * Under Bun, each Write stream therefore gets an HTTP/2 connection of its own
 * and carries at most WRITE_CHUNK_BUN bytes per message, one message at a
 * time: the server never receives more than ~33 kB between a ping and its
 * answer, below 2/3 of the 64 KiB default window, so it never raises the
 * window and the two sides' accounts stay the same. Node.js (nghttp2) follows
 * the RFC: 1 MiB messages over the shared connection.
 */
const UNDER_BUN = typeof process.versions.bun === 'string';
const WRITE_CHUNK_BUN = 32 * 1024;
const WRITE_CHUNK_NODE = 1024 * 1024;

/**
 * Under Bun, a synchronous collection after every 8 MiB that content streams
 * carry. Each MiB of a blob passes through several short-lived buffers (the
 * request body's chunks, the message encoding, grpc-js's framing), and JSC,
 * sizing its heap for this machine's RAM, lets ~45 MB of them pile up before
 * it collects: a 64 MiB `docker load` raised berthd's peak RSS by that much
 * (images-archive.test.ts allows 40 MB; Node.js stays well under). A
 * collection of berthd's ~15 MB heap costs a few ms per 8 MiB moved.
 */
const COLLECT_EVERY = 8 * 1024 * 1024;
let movedSinceCollect = 0;
function moved(bytes: number): void {
  if (!UNDER_BUN) return;
  movedSinceCollect += bytes;
  if (movedSinceCollect < COLLECT_EVERY) return;
  movedSinceCollect = 0;
  (globalThis as { Bun?: { gc(sync: boolean): void } }).Bun?.gc(true);
}

function blobInfo(i: ContentInfo): BlobInfo {
  return { digest: i.digest, size: i.size, createdAt: dateOf(i.created_at) ?? new Date(0), labels: i.labels ?? {} };
}

/** One Write stream: each request is answered by exactly one response, in order. */
export class WriteSession {
  private readonly stream;
  private readonly waiting: { resolve: (r: WriteContentResponse__Output) => void; reject: (e: Error) => void }[] = [];
  private failed: Error | undefined;
  /** Under Bun: the connection made for this stream alone, closed when the call ends. */
  private readonly own: Connection | undefined;
  /** The most data one WRITE message carries. */
  readonly chunkSize: number;

  constructor(
    private readonly conn: Connection,
    content: ContentService,
    lease: string | undefined,
    opts: { ownConnection?: boolean } = {},
  ) {
    this.own = (opts.ownConnection ?? UNDER_BUN) ? conn.detached() : undefined;
    this.chunkSize = this.own ? WRITE_CHUNK_BUN : WRITE_CHUNK_NODE;
    this.stream = (this.own ? new ContentService(this.own) : content).write(lease ? { lease } : {});
    this.stream.on('data', (r: WriteContentResponse__Output) => this.waiting.shift()?.resolve(r));
    this.stream.on('error', (e: unknown) => {
      this.failed = this.conn.mapError(e, 'Content.Write');
      for (const w of this.waiting.splice(0)) w.reject(this.failed);
    });
    this.stream.on('end', () => {
      const e = this.failed ?? new BerthError('berthd', 'internal', 'Content.Write: containerd closed the stream');
      for (const w of this.waiting.splice(0)) w.reject(e);
    });
    // The call is over (status received, or cancelled): nothing else uses its connection.
    this.stream.on('status', () => this.own?.close());
  }

  send(req: WriteContentRequest): Promise<WriteContentResponse__Output> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.stream.write(req);
    });
  }

  /**
   * WRITE `data` at `offset`, in messages of at most chunkSize bytes, each
   * sent once the previous one is answered; answers the last response (its
   * offset is where the next write goes).
   */
  async write(
    req: Omit<WriteContentRequest, 'action' | 'data' | 'offset'>,
    offset: number,
    data: Uint8Array,
  ): Promise<WriteContentResponse__Output | undefined> {
    let last: WriteContentResponse__Output | undefined;
    for (let i = 0; i < data.length; i += this.chunkSize) {
      const part = data.subarray(i, i + this.chunkSize);
      last = await this.send({ ...req, action: 'WRITE', offset: offset + i, data: part });
      moved(part.length);
    }
    return last;
  }

  end(): void {
    this.stream.end();
  }

  cancel(): void {
    this.stream.cancel();
  }
}

export class RemoteContentStore implements ContentStore {
  constructor(
    private readonly conn: Connection,
    private readonly content: ContentService,
    /** Every write is made under this lease (containerd-lease header). */
    private readonly lease?: string,
  ) {}

  /**
   * Under a lease, the blob is added to it first, then looked for: one found
   * is then safe from a gc that an earlier delete scheduled (an image removed
   * just before this pull), as containerd's writer leases an existing blob in
   * the transaction that finds it. A pull skips the blobs this finds; looking
   * first let that gc remove one between the look and the pull's use of it
   * ("Content.Update: ... not found" on berthd).
   */
  async has(digest: Digest): Promise<boolean> {
    if (this.lease) await new LeasesService(this.conn).addResource(this.lease, { id: digest, type: 'content' });
    try {
      await this.content.info(digest);
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }

  async info(digest: Digest): Promise<BlobInfo> {
    return blobInfo(await this.content.info(digest));
  }

  blobPath(digest: Digest): string {
    throw new BerthError(
      'berthd',
      'unavailable',
      `content ${digest}: containerd's blobs are read through its API, not by path`,
    );
  }

  readStream(digest: Digest): Readable {
    const src = this.content.read(digest);
    const out = new Readable({ read: () => src.resume() });
    src.on('data', (r: { data: Buffer }) => {
      moved(r.data.length);
      if (!out.push(r.data)) src.pause();
    });
    src.on('end', () => out.push(null));
    src.on('error', (e: unknown) => out.destroy(this.conn.mapError(e, `Content.Read ${digest}`)));
    out.on('close', () => src.cancel());
    return out;
  }

  readBytes(digest: Digest, maxSize = 64 * 1024 * 1024): Promise<Buffer> {
    return this.content.readAll(digest, maxSize);
  }

  async ingest(
    ref: string,
    expected: { digest: Digest; size: number },
  ): Promise<IngestWriter & { alreadyExists: boolean }> {
    if (await this.has(expected.digest)) return this.existingWriter(ref, expected.digest);
    const s = new WriteSession(this.conn, this.content, this.lease);
    let st: WriteContentResponse__Output;
    try {
      st = await s.send({ action: 'STAT', ref, total: expected.size, expected: expected.digest });
    } catch (e) {
      s.cancel();
      // The blob is in the engine's store under another namespace: containerd
      // (and berth-engine) add it to this one, under the lease, and answer
      // AlreadyExists to the Write, which its own client takes as done.
      if (isAlreadyExists(e)) return this.existingWriter(ref, expected.digest);
      throw e;
    }
    let offset = st.offset;
    let done = false;
    const finish = () => {
      done = true;
      s.end();
    };
    const writer: IngestWriter & { alreadyExists: boolean } = {
      ref,
      offset,
      alreadyExists: false,
      write: async (chunk) => {
        const r = await s.write({ ref, total: expected.size, expected: expected.digest }, offset, chunk);
        if (r) offset = r.offset;
      },
      commit: async (labels = {}) => {
        try {
          await s.send({ action: 'COMMIT', ref, offset, total: expected.size, expected: expected.digest, labels });
        } catch (e) {
          if (!isAlreadyExists(e)) {
            // containerd drops nothing on a failed commit; a wrong blob must not be resumed.
            finish();
            await this.content.abort(ref).catch(() => undefined);
            throw new BerthError('berthd', 'digest-mismatch', `content ${expected.digest}: ${(e as Error).message}`, {
              cause: e,
            });
          }
        }
        if (!done) finish();
        if (Object.keys(labels).length) await this.setLabels(expected.digest, labels);
        return this.info(expected.digest);
      },
      close: async () => {
        if (!done) finish();
      },
      abort: async () => {
        if (!done) finish();
        await this.content.abort(ref).catch((e: unknown) => {
          if (!isNotFound(e)) throw e;
        });
      },
    };
    return writer;
  }

  private existingWriter(ref: string, digest: Digest): IngestWriter & { alreadyExists: boolean } {
    return {
      ref,
      offset: 0,
      alreadyExists: true,
      write: async () => undefined,
      commit: async (labels = {}) => {
        if (Object.keys(labels).length) await this.setLabels(digest, labels);
        return this.info(digest);
      },
      close: async () => undefined,
      abort: async () => undefined,
    };
  }

  async put(data: Uint8Array, expected: { digest?: Digest; mediaType?: string } = {}): Promise<BlobInfo> {
    const digest = expected.digest ?? `sha256:${createHash('sha256').update(data).digest('hex')}`;
    const w = await this.ingest(`put-${digest}`, { digest, size: data.length });
    // From the offset STAT answered: what an interrupted write of the ref
    // left, or the whole blob when another namespace holds it (containerd's
    // shared content: its writer copies those bytes in itself).
    if (!w.alreadyExists) await w.write(data.subarray(w.offset));
    return w.commit();
  }

  async setLabels(digest: Digest, labels: Record<string, string | null>): Promise<void> {
    const set: Record<string, string> = {};
    for (const [k, v] of Object.entries(labels)) if (v !== null) set[k] = v;
    await this.content.updateLabels(
      digest,
      set,
      Object.keys(labels).map((k) => `labels.${k}`),
      this.lease ? { lease: this.lease } : {},
    );
  }

  async list(): Promise<BlobInfo[]> {
    return (await this.content.list()).map(blobInfo);
  }

  async delete(digest: Digest): Promise<void> {
    await this.content.delete(digest);
  }
}
