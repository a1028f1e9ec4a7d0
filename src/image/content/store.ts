// The local content store. Layout under <root>/content:
//
//   blobs/<alg>/<hex>          committed blobs, read-only, verified on commit
//   ingest/<h>/data            partial data of the ingest whose ref hashes to <h>
//   ingest/<h>/ref, expected   the ref and the {digest,size} it is meant to become
//   ingest/<h>.lock            the ingest's lock file (see ./lock.ts)
//   ingest/tmp-<pid>-<rand>    blobs of unknown digest being streamed in (putStream)
//
// A blob becomes visible only by rename(2) of a fully written, fsynced and
// verified file, so a kill -9 at any instant leaves either no blob or the
// whole blob. What a killed process leaves behind (temp files, stale locks)
// is cleaned when the store is next opened; partial ingests stay for resume.
// Labels live in the metadata database, keyed by digest.

import { createHash, randomBytes } from 'node:crypto';
import {
  createReadStream,
  existsSync,
  mkdirSync,
  readdirSync,
  rmSync,
  statSync,
  unlinkSync,
  constants,
  readFileSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import { open, readFile, rename, rm, stat, unlink, chmod, type FileHandle } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { BerthError, errnoOf } from '../../common/errors.js';
import { writeFileAtomic } from '../../common/atomic.js';
import { openMetadata, type Metadata } from '../../common/metadb.js';
import { validateDigest } from '../reference.js';
import type { BlobInfo, ContentStore, Digest, IngestWriter } from './types.js';
import { cleanLockDebris, isLocked, lock, tryLock, type LockHandle } from './lock.js';
import { isProcessAlive } from '../../common/proc.js';
import { IngestWriterImpl, hashFile } from './writer.js';

export const SUPPORTED_ALGORITHMS = ['sha256', 'sha512'] as const;
export type Algorithm = (typeof SUPPORTED_ALGORITHMS)[number];

export interface IngestStatus {
  ref: string;
  /** Bytes held by the partial file. */
  offset: number;
  expected?: { digest: Digest; size: number };
  /** A live process is writing it. */
  active: boolean;
  updatedAt: Date;
  /** The folder name under ingest/ (a hash of the ref). */
  key: string;
}

export interface ContentStoreOptions {
  /** Shares an open metadata handle; otherwise the store opens its own. */
  metadata?: Metadata;
  /** Called when an ingest waits for another holder of the same ref. */
  onWait?: (ref: string) => void;
}

const MIGRATIONS = [
  `CREATE TABLE content_labels (
     digest TEXT NOT NULL,
     key TEXT NOT NULL,
     value TEXT NOT NULL,
     PRIMARY KEY (digest, key)
   ) WITHOUT ROWID`,
];

function splitDigest(digest: Digest): { alg: Algorithm; hex: string } {
  validateDigest(digest);
  const i = digest.indexOf(':');
  return { alg: digest.slice(0, i) as Algorithm, hex: digest.slice(i + 1) };
}

export function digestOf(data: Uint8Array, alg: Algorithm = 'sha256'): Digest {
  return `${alg}:${createHash(alg).update(data).digest('hex')}`;
}

function checkSize(size: number, ref: string): void {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new BerthError('image', 'invalid-argument', `ingest ${ref}: invalid expected size ${size}`);
  }
}

function refKey(ref: string): string {
  return createHash('sha256').update(ref).digest('hex');
}

async function writeAll(fh: FileHandle, chunk: Uint8Array, position: number): Promise<void> {
  let off = 0;
  while (off < chunk.length) {
    const { bytesWritten } = await fh.write(chunk, off, chunk.length - off, position + off);
    off += bytesWritten;
  }
}

/** fsyncDir off the event loop: a pull's other downloads keep flowing while the disk answers. */
async function fsyncDirAsync(dir: string): Promise<void> {
  const fh = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export class LocalContentStore implements ContentStore {
  readonly root: string;
  readonly dir: string;
  readonly blobsDir: string;
  readonly ingestDir: string;
  readonly metadata: Metadata;
  private readonly ownsMetadata: boolean;
  private readonly onWait?: (ref: string) => void;

  constructor(root: string, opts: ContentStoreOptions = {}) {
    this.metadata = opts.metadata ?? openMetadata(root);
    this.ownsMetadata = opts.metadata === undefined;
    this.root = this.metadata.root;
    this.dir = join(this.root, 'content');
    this.blobsDir = join(this.dir, 'blobs');
    this.ingestDir = join(this.dir, 'ingest');
    this.onWait = opts.onWait;
    for (const alg of SUPPORTED_ALGORITHMS) mkdirSync(join(this.blobsDir, alg), { recursive: true, mode: 0o755 });
    mkdirSync(this.ingestDir, { recursive: true, mode: 0o700 });
    this.metadata.migrate('content', MIGRATIONS);
    this.recover();
  }

  static open(root: string, opts: ContentStoreOptions = {}): LocalContentStore {
    return new LocalContentStore(root, opts);
  }

  close(): void {
    if (this.ownsMetadata) this.metadata.close();
  }

  /** Removes what dead processes left: temp files in blobs/, lock debris, putStream temps. */
  private recover(): void {
    for (const alg of SUPPORTED_ALGORITHMS) {
      const d = join(this.blobsDir, alg);
      for (const name of readdirSync(d)) {
        if (!name.startsWith('.')) continue;
        // writeFileAtomic's temp files: .<name>.<pid>.<rand>.tmp
        const m = /\.(\d+)\.[0-9a-f]+\.tmp$/.exec(name);
        if (m && isProcessAlive(Number(m[1]))) continue;
        try {
          unlinkSync(join(d, name));
        } catch {
          /* gone */
        }
      }
    }
    cleanLockDebris(this.ingestDir);
    for (const name of readdirSync(this.ingestDir)) {
      // putStream's temp files and new ingests' folders (tmp-<pid>-<rand>)
      const m = /^tmp-(\d+)-[0-9a-f]+$/.exec(name);
      if (m && !isProcessAlive(Number(m[1]))) rmSync(join(this.ingestDir, name), { recursive: true, force: true });
    }
  }

  blobPath(digest: Digest): string {
    const { alg, hex } = splitDigest(digest);
    return join(this.blobsDir, alg, hex);
  }

  async has(digest: Digest): Promise<boolean> {
    return existsSync(this.blobPath(digest));
  }

  hasSync(digest: Digest): boolean {
    return existsSync(this.blobPath(digest));
  }

  private labelsOf(digest: Digest): Record<string, string> {
    const rows = this.metadata.db.prepare('SELECT key, value FROM content_labels WHERE digest = ?').all(digest) as {
      key: string;
      value: string;
    }[];
    const out: Record<string, string> = {};
    for (const r of rows) out[r.key] = r.value;
    return out;
  }

  /** The blob's path and stat; not-found when it is absent. */
  private async statBlob(digest: Digest): Promise<{ path: string; st: Stats }> {
    const path = this.blobPath(digest);
    try {
      return { path, st: await stat(path) };
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') throw new BerthError('image', 'not-found', `content ${digest}: not found`);
      throw e;
    }
  }

  async info(digest: Digest): Promise<BlobInfo> {
    const { st } = await this.statBlob(digest);
    return { digest, size: st.size, createdAt: st.mtime, labels: this.labelsOf(digest) };
  }

  readStream(digest: Digest): Readable {
    const path = this.blobPath(digest);
    if (!existsSync(path)) throw new BerthError('image', 'not-found', `content ${digest}: not found`);
    // 1 MiB reads, not the default 64 KiB: one thread-pool round trip per read, and a layer is read whole.
    return createReadStream(path, { highWaterMark: 1 << 20 });
  }

  async readBytes(digest: Digest, maxSize?: number): Promise<Buffer> {
    const { path, st } = await this.statBlob(digest);
    if (maxSize !== undefined && st.size > maxSize) {
      throw new BerthError(
        'image',
        'invalid-argument',
        `content ${digest}: ${st.size} bytes is over the limit of ${maxSize}`,
      );
    }
    const data = await readFile(path);
    const { alg } = splitDigest(digest);
    if (digestOf(data, alg) !== digest) {
      throw new BerthError(
        'image',
        'digest-mismatch',
        `content ${digest}: stored blob is corrupt (digest does not match); remove it with "content rm" and fetch it again`,
      );
    }
    return data;
  }

  /**
   * `beforeCommit` (here and in putStream) is called with the verified digest
   * just before the blob becomes visible: the place to add it to a lease.
   */
  async put(
    data: Uint8Array,
    expected: { digest?: Digest; mediaType?: string; beforeCommit?: (digest: Digest) => void } = {},
  ): Promise<BlobInfo> {
    const alg: Algorithm = expected.digest ? splitDigest(expected.digest).alg : 'sha256';
    const digest = digestOf(data, alg);
    if (expected.digest !== undefined && expected.digest !== digest) {
      throw new BerthError('image', 'digest-mismatch', `content: expected ${expected.digest}, got ${digest}`);
    }
    expected.beforeCommit?.(digest);
    const path = this.blobPath(digest);
    if (!existsSync(path)) await writeFileAtomic(path, data, 0o444);
    return this.info(digest);
  }

  /**
   * Streams a blob whose digest may be unknown (docker-save layers, rootfs
   * imports) into the store: hashed while written, verified against
   * `expected` when given, committed by rename.
   */
  async putStream(
    stream: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    expected: { digest?: Digest; size?: number; algorithm?: Algorithm; beforeCommit?: (digest: Digest) => void } = {},
  ): Promise<BlobInfo> {
    const alg: Algorithm = expected.digest ? splitDigest(expected.digest).alg : (expected.algorithm ?? 'sha256');
    const tmp = join(this.ingestDir, `tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
    const fh = await open(tmp, 'wx', 0o444);
    const hash = createHash(alg);
    let size = 0;
    try {
      for await (const chunk of stream) {
        await writeAll(fh, chunk, size);
        hash.update(chunk);
        size += chunk.length;
        if (expected.size !== undefined && size > expected.size) {
          throw new BerthError('image', 'digest-mismatch', `content: more than the expected ${expected.size} bytes`);
        }
      }
      const digest = `${alg}:${hash.digest('hex')}`;
      if (expected.size !== undefined && size !== expected.size) {
        throw new BerthError(
          'image',
          'digest-mismatch',
          `content ${expected.digest ?? digest}: expected ${expected.size} bytes, got ${size}`,
        );
      }
      if (expected.digest !== undefined && expected.digest !== digest) {
        throw new BerthError('image', 'digest-mismatch', `content: expected ${expected.digest}, got ${digest}`);
      }
      await fh.sync();
      await fh.close();
      expected.beforeCommit?.(digest);
      const path = this.blobPath(digest);
      if (existsSync(path)) {
        await unlink(tmp);
      } else {
        await rename(tmp, path);
        await fsyncDirAsync(join(this.blobsDir, alg));
      }
      return await this.info(digest);
    } catch (e) {
      await fh.close().catch(() => undefined);
      await unlink(tmp).catch(() => undefined);
      throw e;
    }
  }

  async setLabels(digest: Digest, labels: Record<string, string | null>): Promise<void> {
    if (!existsSync(this.blobPath(digest))) throw new BerthError('image', 'not-found', `content ${digest}: not found`);
    this.writeLabels(digest, labels);
  }

  /** One transaction for all: a pull labels each of its blobs, and every commit is an fsync on the event loop. */
  async setLabelsMany(updates: { digest: Digest; labels: Record<string, string | null> }[]): Promise<void> {
    this.setLabelsManySync(updates);
  }

  /** setLabelsMany inside a caller's transaction (metadata.tx): one commit for the labels and what goes with them. */
  setLabelsManySync(updates: { digest: Digest; labels: Record<string, string | null> }[]): void {
    for (const u of updates) {
      if (!existsSync(this.blobPath(u.digest)))
        throw new BerthError('image', 'not-found', `content ${u.digest}: not found`);
    }
    this.writeLabelsMany(updates);
  }

  private writeLabels(digest: Digest, labels: Record<string, string | null>): void {
    this.writeLabelsMany([{ digest, labels }]);
  }

  private writeLabelsMany(updates: { digest: Digest; labels: Record<string, string | null> }[]): void {
    if (!updates.some((u) => Object.keys(u.labels).length > 0)) return;
    this.metadata.tx((db) => {
      const del = db.prepare('DELETE FROM content_labels WHERE digest = ? AND key = ?');
      const up = db.prepare(
        'INSERT INTO content_labels(digest, key, value) VALUES (?, ?, ?) ON CONFLICT(digest, key) DO UPDATE SET value = excluded.value',
      );
      for (const { digest, labels } of updates) {
        for (const [k, v] of Object.entries(labels)) {
          if (v === null) del.run(digest, k);
          else up.run(digest, k, v);
        }
      }
    });
  }

  async list(): Promise<BlobInfo[]> {
    const out: BlobInfo[] = [];
    const labels = new Map<string, Record<string, string>>();
    for (const r of this.metadata.db.prepare('SELECT digest, key, value FROM content_labels').all() as {
      digest: string;
      key: string;
      value: string;
    }[]) {
      let l = labels.get(r.digest);
      if (!l) labels.set(r.digest, (l = {}));
      l[r.key] = r.value;
    }
    for (const alg of SUPPORTED_ALGORITHMS) {
      const d = join(this.blobsDir, alg);
      const len = alg === 'sha256' ? 64 : 128;
      for (const name of readdirSync(d)) {
        if (name.length !== len || !/^[a-f0-9]+$/.test(name)) continue;
        let st;
        try {
          st = statSync(join(d, name));
        } catch {
          continue; // deleted while listing
        }
        const digest = `${alg}:${name}`;
        out.push({ digest, size: st.size, createdAt: st.mtime, labels: labels.get(digest) ?? {} });
      }
    }
    return out;
  }

  async delete(digest: Digest): Promise<void> {
    try {
      await unlink(this.blobPath(digest));
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') throw new BerthError('image', 'not-found', `content ${digest}: not found`);
      throw e;
    }
    this.metadata.tx((db) => db.prepare('DELETE FROM content_labels WHERE digest = ?').run(digest));
  }

  // ---- ingests ----

  private ingestPaths(ref: string) {
    const key = refKey(ref);
    const dir = join(this.ingestDir, key);
    return {
      key,
      dir,
      lock: `${dir}.lock`,
      data: join(dir, 'data'),
      ref: join(dir, 'ref'),
      expected: join(dir, 'expected'),
    };
  }

  async ingest(
    ref: string,
    expected: { digest: Digest; size: number },
  ): Promise<IngestWriter & { alreadyExists: boolean }> {
    if (ref.length === 0) throw new BerthError('image', 'invalid-argument', 'ingest: empty ref');
    splitDigest(expected.digest);
    checkSize(expected.size, ref);
    const p = this.ingestPaths(ref);
    const blob = this.blobPath(expected.digest);
    const held = await lock(p.lock, {
      onWait: () => this.onWait?.(ref),
      // A blob committed by another ref's ingest needs no lock at all.
      until: () => existsSync(blob),
    });
    if (existsSync(blob)) {
      // An ingest of this ref for this very blob is stale once the blob is
      // committed: a writer killed between the commit's rename and its rm
      // leaves it, and nothing would ever resume it. Only the lock's holder
      // may take it away.
      if (held) await this.dropCommittedIngest(p, expected).finally(() => held.release());
      return this.existingWriter(ref, expected.digest);
    }
    try {
      return await this.openWriter(ref, expected, p, held!);
    } catch (e) {
      held!.release();
      throw e;
    }
  }

  private async dropCommittedIngest(
    p: { dir: string; expected: string },
    expected: { digest: Digest; size: number },
  ): Promise<void> {
    let prior: string;
    try {
      prior = await readFile(p.expected, 'utf8');
    } catch {
      return; // no ingest of this ref
    }
    if (prior === JSON.stringify({ digest: expected.digest, size: expected.size })) {
      await rm(p.dir, { recursive: true, force: true });
    }
  }

  private existingWriter(ref: string, digest: Digest): IngestWriter & { alreadyExists: boolean } {
    const info = () => this.info(digest);
    let size = 0;
    try {
      size = statSync(this.blobPath(digest)).size;
    } catch {
      /* raced with a delete */
    }
    return {
      ref,
      offset: size,
      alreadyExists: true,
      write: async () => undefined,
      commit: async (labels) => {
        if (labels) this.writeLabels(digest, labels);
        return info();
      },
      close: async () => undefined,
      abort: async () => undefined,
    };
  }

  private async openWriter(
    ref: string,
    expected: { digest: Digest; size: number },
    p: ReturnType<LocalContentStore['ingestPaths']>,
    held: LockHandle,
  ): Promise<IngestWriter & { alreadyExists: boolean }> {
    const want = JSON.stringify({ digest: expected.digest, size: expected.size });
    if (!existsSync(p.dir)) {
      // A new ingest appears whole or not at all: its folder is made under a
      // temporary name with its ref and expected blob in it, then renamed
      // into place (we hold the ref's lock, so nobody else makes it). A kill
      // before the rename leaves a tmp-<pid>-* folder that recover() removes,
      // never an ingest without a ref.
      // Neither file is fsynced, as containerd's ingests are not: a kill -9
      // leaves them whole (the page cache outlives the process); a power loss
      // can leave them empty, and then the ingest starts again from zero
      // below, as it does for partial data, which is never fsynced before its
      // commit and is verified there. The four fsyncs per blob these cost
      // came before every download's first byte. Four metadata calls of a few
      // microseconds each, made here rather than queued in the thread pool
      // behind the other downloads' writes and fsyncs.
      const tmp = join(this.ingestDir, `tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
      mkdirSync(tmp, { mode: 0o700 });
      writeFileSync(join(tmp, 'ref'), ref, { mode: 0o644 });
      writeFileSync(join(tmp, 'expected'), want, { mode: 0o644 });
      renameSync(tmp, p.dir);
    }
    let prior: string | undefined;
    try {
      prior = readFileSync(p.expected, 'utf8');
    } catch {
      /* new ingest */
    }
    if (prior !== want) {
      // A new ingest, or the ref now means another blob: start from zero.
      rmSync(p.data, { force: true });
      await writeFileAtomic(p.ref, ref);
      await writeFileAtomic(p.expected, want);
    }
    const fh = await open(p.data, constants.O_RDWR | constants.O_CREAT, 0o600);
    const { alg } = splitDigest(expected.digest);
    const hash = createHash(alg);
    let offset = (await fh.stat()).size;
    if (offset > expected.size) {
      await fh.truncate(0);
      offset = 0;
    }
    // Resume: the hash state is not saved, so recompute it from the partial data.
    if (offset > 0) await hashFile(fh, offset, hash);
    return new IngestWriterImpl(
      (d, path, labels) => this.finishCommit(d, path, labels),
      ref,
      expected,
      p,
      held,
      fh,
      hash,
      offset,
    );
  }

  /** @internal used by Writer.commit */
  async finishCommit(digest: Digest, dataPath: string, labels?: Record<string, string>): Promise<BlobInfo> {
    const path = this.blobPath(digest);
    await chmod(dataPath, 0o444);
    if (existsSync(path)) {
      await unlink(dataPath);
    } else {
      await rename(dataPath, path);
      await fsyncDirAsync(join(this.blobsDir, splitDigest(digest).alg));
    }
    if (labels) this.writeLabels(digest, labels);
    return this.info(digest);
  }

  /** Ingests in progress or interrupted. */
  async ingests(): Promise<IngestStatus[]> {
    const out: IngestStatus[] = [];
    for (const name of readdirSync(this.ingestDir)) {
      if (!/^[0-9a-f]{64}$/.test(name)) continue;
      const dir = join(this.ingestDir, name);
      let ref = '';
      let expected: IngestStatus['expected'];
      try {
        ref = readFileSync(join(dir, 'ref'), 'utf8');
      } catch {
        /* half made */
      }
      try {
        expected = JSON.parse(readFileSync(join(dir, 'expected'), 'utf8')) as IngestStatus['expected'];
      } catch {
        /* half made */
      }
      let offset = 0;
      let updatedAt: Date;
      try {
        const st = statSync(join(dir, 'data'));
        offset = st.size;
        updatedAt = st.mtime;
      } catch {
        try {
          updatedAt = statSync(dir).mtime;
        } catch {
          continue;
        }
      }
      out.push({ ref, offset, expected, active: isLocked(`${dir}.lock`), updatedAt, key: name });
    }
    return out;
  }

  /**
   * Removes an interrupted ingest (by ref or by its key). Refuses, with
   * 'failed-precondition', when a live process holds it.
   */
  async abortIngest(refOrKey: string, byKey = false): Promise<void> {
    const key = byKey ? refOrKey : refKey(refOrKey);
    const dir = join(this.ingestDir, key);
    const h = tryLock(`${dir}.lock`);
    if (!h) throw new BerthError('image', 'failed-precondition', `ingest ${refOrKey}: in use by another process`);
    try {
      await rm(dir, { recursive: true, force: true });
    } finally {
      h.release();
    }
  }
}

export function openContentStore(root: string, opts: ContentStoreOptions = {}): LocalContentStore {
  return new LocalContentStore(root, opts);
}
