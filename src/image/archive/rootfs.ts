// A plain root filesystem tarball as a new single-layer image, as
// `docker import` makes one: the tar (gzip or zstd compressed or not) becomes
// one gzip layer whose diff id is the sha256 of the plain tar, under a fresh
// OCI config for the host platform.

import { createReadStream } from 'node:fs';
import { PassThrough, Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { BerthError } from '../../common/errors.js';
import type { Descriptor } from '../content/types.js';
import type { LocalContentStore } from '../content/store.js';
import type { ContainerConfig, ImageConfig, ImageManifest } from '../manifest.js';
import { MediaType } from '../media.js';
import { hostPlatform, type NormalPlatform } from '../platform.js';
import { autoDecompress, Hasher } from './stream.js';

export interface RootfsImportOptions {
  platform?: NormalPlatform;
  /** Runtime defaults for the image (Cmd, Env, WorkingDir...). */
  config?: ContainerConfig;
  /** Layer compression; gzip by default. */
  compress?: 'gzip' | 'none';
  /** History comment, like `docker import --message`. */
  message?: string;
  created?: Date;
  /** Called with each blob's digest just before it is committed (lease protection). */
  protect?: (digest: string) => void;
}

/** Refuses input that is not a tar: the first header must checksum correctly. */
class TarCheck extends Transform {
  private head: Buffer[] = [];
  private got = 0;
  private checked = false;

  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    if (!this.checked) {
      this.head.push(chunk);
      this.got += chunk.length;
      if (this.got >= 512) {
        const err = this.check(Buffer.concat(this.head));
        if (err) return cb(err);
        this.checked = true;
        this.head = [];
      }
    }
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    if (!this.checked && this.got > 0) return cb(this.check(Buffer.concat(this.head)) ?? undefined);
    if (this.got === 0) return cb(new BerthError('image', 'invalid-argument', 'root filesystem tarball is empty'));
    cb();
  }

  private check(h: Buffer): BerthError | undefined {
    if (h.length < 512)
      return new BerthError('image', 'invalid-argument', 'root filesystem tarball: shorter than one tar header');
    const stored = parseInt(h.subarray(148, 156).toString('latin1').replace(/\0.*$/, '').trim(), 8);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
    if (!Number.isFinite(stored) || stored !== sum) {
      return new BerthError(
        'image',
        'invalid-argument',
        'root filesystem tarball: not a tar archive (bad header checksum)',
      );
    }
    return undefined;
  }
}

export interface RootfsImported {
  target: Descriptor;
  config: Descriptor;
  layer: Descriptor;
  diffId: string;
}

export async function importRootfs(
  store: LocalContentStore,
  input: string | Readable,
  opts: RootfsImportOptions = {},
): Promise<RootfsImported> {
  const raw = typeof input === 'string' ? createReadStream(input) : input;
  const { stream } = await autoDecompress(raw);
  const check = new TarCheck();
  const diff = new Hasher();
  const sink = new PassThrough();
  const stages: NodeJS.ReadWriteStream[] = [check, diff];
  if (opts.compress !== 'none') stages.push(createGzip());
  // pipeline destroys every stage (and so the sink putStream reads) on the first error.
  const flowing = pipeline([stream, ...stages, sink] as unknown as [Readable, PassThrough]);
  const [layerInfo] = await Promise.all([store.putStream(sink, { beforeCommit: opts.protect }), flowing]);
  const diffId = diff.digest();
  const platform = opts.platform ?? hostPlatform();
  const created = (opts.created ?? new Date()).toISOString();
  const config: ImageConfig = {
    created,
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: opts.config ?? {},
    rootfs: { type: 'layers', diff_ids: [diffId] },
    history: [
      { created, created_by: 'berth-ctr images import --rootfs', ...(opts.message ? { comment: opts.message } : {}) },
    ],
  };
  const cfgInfo = await store.put(Buffer.from(JSON.stringify(config)), { beforeCommit: opts.protect });
  const layer: Descriptor = {
    mediaType: opts.compress !== 'none' ? MediaType.OciLayerGzip : MediaType.OciLayer,
    digest: layerInfo.digest,
    size: layerInfo.size,
  };
  const cfgDesc: Descriptor = { mediaType: MediaType.OciConfig, digest: cfgInfo.digest, size: cfgInfo.size };
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: cfgDesc,
    layers: [layer],
  };
  const mInfo = await store.put(Buffer.from(JSON.stringify(manifest)), { beforeCommit: opts.protect });
  return {
    target: { mediaType: MediaType.OciManifest, digest: mInfo.digest, size: mInfo.size },
    config: cfgDesc,
    layer,
    diffId,
  };
}
