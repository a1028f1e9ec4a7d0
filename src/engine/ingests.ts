// Ingests for the content service's Write stream, containerd's semantics:
// a ref (per namespace) names a partial blob; writes land at the current
// offset (offset 0 on a non-empty ingest starts it over); commit checks size
// and digest, fsyncs, and renames into the shared blob store; a client that
// goes away leaves the partial data for a later Write to resume (the ref is
// unlocked), and GC removes abandoned ones. The data never becomes a blob
// unless its digest is verified.
//
// <store>/engine-ingest/<sha256(ns NUL ref)>/{data,meta.json}

import * as grpc from '@grpc/grpc-js';
import { createHash, type Hash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { chmod, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { BerthError } from '../common/errors.js';
import { writeFileAtomicSync } from '../common/atomic.js';
import type { LocalContentStore, Metadata } from '../image/index.js';
import type { ContentRecords } from './meta/content.js';
import type { LeaseStore } from './meta/leases.js';
import { GrpcStatusError } from './status.js';
import {
  alreadyExists,
  failedPrecondition,
  invalidArgument,
  notFound,
  validateDigest,
  validateLabels,
} from './validate.js';

export interface IngestStatus {
  ns: string;
  ref: string;
  offset: number;
  total: number;
  expected: string;
  started: Date;
  updated: Date;
}

interface Meta {
  ns: string;
  ref: string;
  total: number;
  expected: string;
  started: string;
}

function keyOf(ns: string, ref: string): string {
  return createHash('sha256').update(`${ns}\0${ref}`).digest('hex');
}

function outOfRange(details: string): GrpcStatusError {
  return new GrpcStatusError(grpc.status.OUT_OF_RANGE, details);
}

export class Ingests {
  readonly dir: string;
  /** Refs with a live writer: key → writer. */
  private readonly active = new Map<string, IngestWriter>();
  /** Refs whose open is under way (awaits between the lock check and the writer): they are locked too. */
  private readonly opening = new Set<string>();
  /** Digests between rename into blobs/ and their record: GC must not take them. */
  readonly committing = new Map<string, number>();

  constructor(
    storeRoot: string,
    readonly blobs: LocalContentStore,
    readonly md: Metadata,
    readonly content: ContentRecords,
    readonly leases: LeaseStore,
  ) {
    this.dir = join(storeRoot, 'engine-ingest');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  private readMeta(key: string): Meta | undefined {
    try {
      return JSON.parse(readFileSync(join(this.dir, key, 'meta.json'), 'utf8')) as Meta;
    } catch {
      return undefined;
    }
  }

  isActive(key: string): boolean {
    return this.active.has(key) || this.opening.has(key);
  }

  /** Every ingest on disk: key, meta (undefined when half-made), and whether a writer holds it. */
  all(): { key: string; meta?: Meta; active: boolean }[] {
    return readdirSync(this.dir)
      .filter((n) => /^[0-9a-f]{64}$/.test(n))
      .map((key) => ({ key, meta: this.readMeta(key), active: this.isActive(key) }));
  }

  keyOf(ns: string, ref: string): string {
    return keyOf(ns, ref);
  }

  async status(ns: string, ref: string): Promise<IngestStatus> {
    const key = keyOf(ns, ref);
    const w = this.active.get(key);
    if (w) return w.status();
    const meta = this.readMeta(key);
    if (!meta) throw notFound(`ref ${ref}: not found`);
    let offset: number;
    let updated: Date;
    try {
      const st = await stat(join(this.dir, key, 'data'));
      offset = st.size;
      updated = st.mtime;
    } catch {
      // No data file: the rest of a commit cut between the rename of the data
      // into the store and the removal of the directory (or of an open cut
      // before its data file). There is nothing to resume, and containerd
      // does not list such an ingest either; GC removes the directory.
      throw notFound(`ref ${ref}: not found`);
    }
    return { ns, ref, offset, total: meta.total, expected: meta.expected, started: new Date(meta.started), updated };
  }

  async list(ns: string): Promise<IngestStatus[]> {
    const out: IngestStatus[] = [];
    for (const { meta } of this.all()) {
      if (meta?.ns !== ns) continue;
      try {
        out.push(await this.status(ns, meta.ref));
      } catch {
        /* removed meanwhile */
      }
    }
    return out.sort((a, b) => a.ref.localeCompare(b.ref));
  }

  async abort(ns: string, ref: string): Promise<void> {
    const key = keyOf(ns, ref);
    if (this.isActive(key)) throw failedPrecondition(`ref ${ref}: locked by a writer in progress`);
    if (!this.readMeta(key)) throw notFound(`ref ${ref}: not found`);
    await rm(join(this.dir, key), { recursive: true, force: true });
  }

  /** Removes an ingest nobody holds (GC). */
  async remove(key: string): Promise<boolean> {
    if (this.isActive(key)) return false;
    await rm(join(this.dir, key), { recursive: true, force: true });
    return true;
  }

  /**
   * Opens (or resumes) the ingest of `ref`. Unavailable when another writer
   * holds it (ctr waits and retries); AlreadyExists when the namespace
   * already has the expected blob. A blob another namespace already stored
   * is recorded for this one without a byte being sent (containerd's shared
   * content policy), and the answer is AlreadyExists too.
   */
  async open(
    ns: string,
    ref: string,
    total: number,
    expected: string,
    lease: string | undefined,
  ): Promise<IngestWriter> {
    if (ref === '') throw invalidArgument('first message must have a reference', 'ref');
    if (expected !== '') {
      validateDigest(expected, 'expected');
      if (this.content.find(ns, expected)) throw alreadyExists(`content ${expected}: already exists`);
      // Synchronous from the check to the record, so that GC's sweep cannot interleave.
      const path = this.blobs.blobPath(expected);
      if (existsSync(path)) {
        const size = statSync(path).size;
        if (total === 0 || total === size) {
          this.md.tx((db) => {
            if (lease !== undefined) this.leases.protect(db, ns, lease, { type: 'content', id: expected });
            this.content.add(db, ns, expected, size);
          });
          throw alreadyExists(`content ${expected}: already exists`);
        }
      }
    }
    const key = keyOf(ns, ref);
    if (this.isActive(key)) {
      throw new BerthError('berth-engine', 'unavailable', `ref ${ref} locked: unavailable`);
    }
    // The lock is taken here, synchronously with the check: two streams
    // opening the same ref at once must not both get a writer on one file
    // (the second would write into the blob the first one commits).
    this.opening.add(key);
    let fh: FileHandle | undefined;
    try {
      if (lease !== undefined) this.leases.protectNow(ns, lease, { type: 'ingests', id: ref });
      const dir = join(this.dir, key);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      let meta = this.readMeta(key);
      const dataPath = join(dir, 'data');
      if (!meta || !existsSync(dataPath) || (expected !== '' && meta.expected !== '' && meta.expected !== expected)) {
        // New, left without data by a cut commit, or the ref now names another blob: start from zero.
        await rm(dataPath, { force: true });
        meta = { ns, ref, total, expected, started: new Date().toISOString() };
        writeFileAtomicSync(join(dir, 'meta.json'), JSON.stringify(meta));
      }
      fh = await open(dataPath, 'a+', 0o600);
      const offset = (await fh.stat()).size;
      const w = new IngestWriter(this, key, dir, meta, fh, offset);
      if (total > 0) w.setTotal(total);
      if (expected !== '') w.setExpected(expected);
      this.active.set(key, w);
      return w;
    } catch (e) {
      await fh?.close().catch(() => undefined);
      throw e;
    } finally {
      this.opening.delete(key);
    }
  }

  /** @internal */
  release(key: string): void {
    this.active.delete(key);
  }
}

/** Renames verified, fsynced data to its blob path (or drops it when the blob is there), and syncs the directory. */
async function moveIntoStore(blob: string, data: string): Promise<void> {
  await chmod(data, 0o444);
  if (existsSync(blob)) {
    await rm(data, { force: true });
    return;
  }
  await rename(data, blob);
  const dir = await open(dirname(blob), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

export class IngestWriter {
  private hash?: Hash;
  private hashAlg = '';
  private updated = new Date();
  private closed = false;

  constructor(
    private readonly owner: Ingests,
    private readonly key: string,
    private readonly dir: string,
    private meta: Meta,
    private fh: FileHandle,
    private offset: number,
  ) {}

  get ref(): string {
    return this.meta.ref;
  }

  status(): IngestStatus {
    return {
      ns: this.meta.ns,
      ref: this.meta.ref,
      offset: this.offset,
      total: this.meta.total,
      expected: this.meta.expected,
      started: new Date(this.meta.started),
      updated: this.updated,
    };
  }

  private saveMeta(): void {
    writeFileAtomicSync(join(this.dir, 'meta.json'), JSON.stringify(this.meta));
  }

  setTotal(total: number): void {
    if (!Number.isSafeInteger(total) || total < 0)
      throw invalidArgument(`ref ${this.ref}: total ${total} is not a size`, 'total');
    if (total === this.meta.total) return;
    if (total > 0 && this.offset > total)
      throw outOfRange(`ref ${this.ref}: ${this.offset} bytes already written, more than the total ${total}`);
    this.meta = { ...this.meta, total };
    this.saveMeta();
  }

  setExpected(expected: string): void {
    validateDigest(expected, 'expected');
    if (expected === this.meta.expected) return;
    this.meta = { ...this.meta, expected };
    this.saveMeta();
  }

  private algorithm(): string {
    return this.meta.expected.startsWith('sha512:') ? 'sha512' : 'sha256';
  }

  /** The hash of the bytes written so far (recomputed from the file after a resume or an algorithm change). */
  private async hashNow(): Promise<Hash> {
    const alg = this.algorithm();
    if (this.hash && this.hashAlg === alg) return this.hash;
    const h = createHash(alg);
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let pos = 0; pos < this.offset;) {
      const { bytesRead } = await this.fh.read(buf, 0, Math.min(buf.length, this.offset - pos), pos);
      if (bytesRead === 0)
        throw new BerthError('berth-engine', 'internal', `ref ${this.ref}: partial data shorter than recorded`);
      h.update(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
    this.hash = h;
    this.hashAlg = alg;
    return h;
  }

  async write(offset: number, data: Buffer): Promise<void> {
    if (this.closed) throw failedPrecondition(`ref ${this.ref}: writer closed`);
    if (offset === 0 && this.offset > 0 && data.length >= 0) {
      // containerd's rule: a write at 0 on a non-empty ingest starts it over.
      await this.fh.truncate(0);
      this.offset = 0;
      this.hash = undefined;
    } else if (offset !== this.offset) {
      throw outOfRange(`write @${offset} must occur at current offset ${this.offset}`);
    }
    if (data.length === 0) return;
    if (this.meta.total > 0 && this.offset + data.length > this.meta.total) {
      throw outOfRange(
        `ref ${this.ref}: write of ${data.length} bytes at offset ${this.offset} passes the expected size ${this.meta.total}`,
      );
    }
    const h = await this.hashNow();
    let off = 0;
    while (off < data.length) {
      const { bytesWritten } = await this.fh.write(data, off, data.length - off, this.offset + off);
      off += bytesWritten;
    }
    h.update(data);
    this.offset += data.length;
    this.updated = new Date();
  }

  /**
   * Verifies and commits. A wrong size keeps the data (resumable); a wrong
   * digest drops it. Returns the digest, and whether the namespace already
   * had it (then the caller answers AlreadyExists, as containerd does).
   */
  async commit(
    size: number,
    expected: string,
    labels: Record<string, string>,
    lease: string | undefined,
  ): Promise<{ digest: string; existed: boolean }> {
    if (this.closed) throw failedPrecondition(`ref ${this.ref}: writer closed`);
    validateLabels(labels);
    if (expected !== '') this.setExpected(expected);
    const want = size > 0 ? size : this.meta.total;
    if (want > 0 && this.offset !== want) {
      throw failedPrecondition(`unexpected commit size ${this.offset}, expected ${want}`);
    }
    const digest = `${this.algorithm()}:${(await this.hashNow()).copy().digest('hex')}`;
    if (this.meta.expected !== '' && digest !== this.meta.expected) {
      await this.discard();
      throw failedPrecondition(`unexpected commit digest ${digest}, expected ${this.meta.expected}`);
    }
    const ns = this.meta.ns;
    const o = this.owner;
    // The lease first: from the rename on, the blob is protected.
    o.leases.protectNow(ns, lease, { type: 'content', id: digest });
    await this.fh.sync();
    await this.fh.close();
    this.closed = true;
    o.committing.set(digest, (o.committing.get(digest) ?? 0) + 1);
    try {
      await moveIntoStore(o.blobs.blobPath(digest), join(this.dir, 'data'));
      const existed = o.md.tx((db) => {
        const had = o.content.find(ns, digest) !== undefined;
        o.content.add(db, ns, digest, this.offset, labels);
        return had;
      });
      await rm(this.dir, { recursive: true, force: true });
      return { digest, existed };
    } finally {
      const n = (o.committing.get(digest) ?? 1) - 1;
      if (n <= 0) o.committing.delete(digest);
      else o.committing.set(digest, n);
      o.release(this.key);
    }
  }

  /** Keeps the partial data for a resume and unlocks the ref. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh.sync().catch(() => undefined);
    await this.fh.close().catch(() => undefined);
    this.owner.release(this.key);
  }

  private async discard(): Promise<void> {
    this.closed = true;
    await this.fh.close().catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true });
    this.owner.release(this.key);
  }
}
