// The content store's contract, shared by the registry client (which writes
// blobs as it downloads them), the image service, import/export and the
// snapshotter (which reads layers). Implemented by ./store.ts.

import type { Readable } from 'node:stream';

/** "sha256:<64 hex>" or "sha512:<128 hex>", validated where it enters. */
export type Digest = string;

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform;
  artifactType?: string;
}

export interface Platform {
  architecture: string;
  os: string;
  'os.version'?: string;
  'os.features'?: string[];
  variant?: string;
}

export interface BlobInfo {
  digest: Digest;
  size: number;
  createdAt: Date;
  labels: Record<string, string>;
}

/**
 * An ingest in progress: bytes are appended to a partial file named by `ref`;
 * `offset` says how much a previous, interrupted ingest already holds, so a
 * download can resume with an HTTP Range request. `commit` verifies size and
 * digest, fsyncs and renames atomically; a mismatch removes the partial data
 * and throws a BerthError with code 'digest-mismatch'.
 */
export interface IngestWriter {
  readonly ref: string;
  readonly offset: number;
  write(chunk: Uint8Array): Promise<void>;
  commit(labels?: Record<string, string>): Promise<BlobInfo>;
  /** Keep the partial data for a later resume, release the lock. */
  close(): Promise<void>;
  /** Drop the partial data. */
  abort(): Promise<void>;
}

export interface ContentStore {
  has(digest: Digest): Promise<boolean>;
  info(digest: Digest): Promise<BlobInfo>;
  /** Absolute path of a committed blob, for readers that want a file. */
  blobPath(digest: Digest): string;
  readStream(digest: Digest): Readable;
  readBytes(digest: Digest, maxSize?: number): Promise<Buffer>;
  /**
   * Start or resume an ingest. When another ingest for the same `ref` is in
   * progress (same or another process), waits for it and then returns a
   * writer whose `commit` is a no-op if the blob already exists
   * (`alreadyExists` true), so concurrent pulls download each blob once.
   */
  ingest(ref: string, expected: { digest: Digest; size: number }): Promise<IngestWriter & { alreadyExists: boolean }>;
  /** Write a whole blob from memory (manifests, configs). */
  put(data: Uint8Array, expected?: { digest?: Digest; mediaType?: string }): Promise<BlobInfo>;
  setLabels(digest: Digest, labels: Record<string, string | null>): Promise<void>;
  /**
   * Several blobs' labels at once: one transaction (one fsync) in a local
   * store. Optional: callers fall back to setLabels per blob.
   */
  setLabelsMany?(updates: { digest: Digest; labels: Record<string, string | null> }[]): Promise<void>;
  /**
   * Announces ingests about to start (ref and blob), so a leased view can
   * lease them all in one transaction instead of one per ingest. Optional,
   * and only a hint: ingest() leases whatever was not announced.
   */
  expect?(ingests: { ref: string; digest: Digest }[]): void;
  list(): Promise<BlobInfo[]>;
  delete(digest: Digest): Promise<void>;
}
