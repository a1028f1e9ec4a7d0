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
import type { ContentInfo, ContentService } from './services.js';
import { dateOf } from './services.js';
import type { WriteContentRequest } from '../api/gen/containerd/services/content/v1/WriteContentRequest.js';
import type { WriteContentResponse__Output } from '../api/gen/containerd/services/content/v1/WriteContentResponse.js';

const CHUNK = 1024 * 1024;

function blobInfo(i: ContentInfo): BlobInfo {
  return { digest: i.digest, size: i.size, createdAt: dateOf(i.created_at) ?? new Date(0), labels: i.labels ?? {} };
}

/** One Write stream: each request is answered by exactly one response, in order. */
export class WriteSession {
  private readonly stream;
  private readonly waiting: { resolve: (r: WriteContentResponse__Output) => void; reject: (e: Error) => void }[] = [];
  private failed: Error | undefined;

  constructor(
    private readonly conn: Connection,
    content: ContentService,
    lease: string | undefined,
  ) {
    this.stream = content.write(lease ? { lease } : {});
    this.stream.on('data', (r: WriteContentResponse__Output) => this.waiting.shift()?.resolve(r));
    this.stream.on('error', (e: unknown) => {
      this.failed = this.conn.mapError(e, 'Content.Write');
      for (const w of this.waiting.splice(0)) w.reject(this.failed);
    });
    this.stream.on('end', () => {
      const e = this.failed ?? new BerthError('berthd', 'internal', 'Content.Write: containerd closed the stream');
      for (const w of this.waiting.splice(0)) w.reject(e);
    });
  }

  send(req: WriteContentRequest): Promise<WriteContentResponse__Output> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.stream.write(req);
    });
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

  async has(digest: Digest): Promise<boolean> {
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
        for (let i = 0; i < chunk.length; i += CHUNK) {
          const part = chunk.subarray(i, i + CHUNK);
          const r = await s.send({
            action: 'WRITE',
            ref,
            offset,
            data: part,
            total: expected.size,
            expected: expected.digest,
          });
          offset = r.offset;
        }
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
    if (!w.alreadyExists) await w.write(data);
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
