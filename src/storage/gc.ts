// Garbage collection, mark and sweep (containerd's design in miniature):
// above the image layer and the snapshotter, as it spans both.
//
// Roots: every image record's target, every resource of a lease that has not
// expired, and every active or view snapshot (a container's rootfs: the engine
// owns those). Marking walks the content graph from the roots (index →
// manifests → config and layers; also digests named by
// "containerd.io/gc.ref.content.*" / "berth.io/gc.ref.content.*" labels) and
// marks the chain ids of each image's layers, and the parents of every kept
// snapshot. The sweep removes unmarked blobs, committed snapshots no one
// keeps (children before parents), and interrupted ingests that no live
// process holds and no lease protects.

import { BerthError, messageOf } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import {
  readParsed,
  chainIds,
  childrenOf,
  parseImageConfig,
  parseManifest,
  MAX_MANIFEST_SIZE,
  isIndexType,
  isManifestType,
  isConfigType,
  type Digest,
  type LocalContentStore,
  type ImageStore,
  type LeaseManager,
  type Parsed,
} from '../image/index.js';
import type { Snapshotter } from '../snapshot/index.js';

export interface GcContext {
  content: LocalContentStore;
  images: ImageStore;
  leases: LeaseManager;
  snapshotter?: Snapshotter;
  log?: Logger;
}

export interface GcOptions {
  /** Report what would be removed, remove nothing. */
  dryRun?: boolean;
  /** Keep interrupted ingests younger than this (default: keep none that are unprotected). */
  ingestMinAgeMs?: number;
}

export interface GcResult {
  removedBlobs: { digest: Digest; size: number }[];
  removedIngests: string[];
  removedSnapshots: string[];
  expiredLeases: string[];
  bytesFreed: number;
  keptBlobs: number;
}

const REF_LABEL = /^(containerd\.io|berth\.io)\/gc\.ref\.content(\.|$)/;

async function tryParse(content: LocalContentStore, digest: Digest, mediaType?: string): Promise<Parsed | undefined> {
  try {
    if (mediaType && (isIndexType(mediaType) || isManifestType(mediaType))) {
      return await readParsed(content, { mediaType, digest, size: 0 });
    }
    if (mediaType) return undefined;
    // A lease names a digest without a type: sniff small JSON blobs.
    const info = await content.info(digest);
    if (info.size > MAX_MANIFEST_SIZE) return undefined;
    const data = await content.readBytes(digest);
    if (data[0] !== 0x7b) return undefined;
    return parseManifest(data, { what: `content ${digest}` });
  } catch {
    return undefined;
  }
}

export async function collectGarbage(ctx: GcContext, opts: GcOptions = {}): Promise<GcResult> {
  const { content, images, leases, snapshotter, log } = ctx;
  const result: GcResult = {
    removedBlobs: [],
    removedIngests: [],
    removedSnapshots: [],
    expiredLeases: [],
    bytesFreed: 0,
    keptBlobs: 0,
  };
  result.expiredLeases = opts.dryRun ? [] : leases.expire();

  // ---- mark ----
  // Order matters against concurrent pulls and imports in other processes:
  // list the blobs first, then read the leases, then the image records. A
  // writer adds a blob to its lease before committing it and deletes the lease
  // only after writing the image record, so every listed blob is either still
  // leased when the leases are read, or already named by an image when the
  // images are read.
  const now = Date.now();
  const markedBlobs = new Set<Digest>();
  const markedSnapshots = new Set<string>();
  const allBlobs = await content.list();
  const blobLabels = new Map(allBlobs.map((b) => [b.digest, b.labels] as const));
  const leased = leases.liveResources(now);
  const imageRecords = images.list();

  const queue: { digest: Digest; mediaType?: string }[] = [];
  for (const img of imageRecords) queue.push({ digest: img.target.digest, mediaType: img.target.mediaType });
  for (const r of leased) {
    if (r.type === 'content') queue.push({ digest: r.key });
    if (r.type === 'snapshot') markedSnapshots.add(r.key);
  }
  while (queue.length) {
    const { digest, mediaType } = queue.shift()!;
    if (markedBlobs.has(digest)) continue;
    const labels = blobLabels.get(digest);
    if (!labels) continue; // not present
    markedBlobs.add(digest);
    for (const [k, v] of Object.entries(labels)) {
      if (REF_LABEL.test(k)) queue.push({ digest: v });
    }
    const parsed = await tryParse(content, digest, mediaType);
    if (!parsed) continue;
    for (const child of childrenOf(parsed)) queue.push({ digest: child.digest, mediaType: child.mediaType });
    if (
      parsed.kind === 'manifest' &&
      isConfigType(parsed.manifest.config.mediaType) &&
      blobLabels.has(parsed.manifest.config.digest)
    ) {
      try {
        const cfg = parseImageConfig(await content.readBytes(parsed.manifest.config.digest));
        for (const c of chainIds(cfg.rootfs.diff_ids)) markedSnapshots.add(c);
      } catch (e) {
        log?.warn('gc: unreadable image config; its snapshots are not protected', {
          digest: parsed.manifest.config.digest,
          error: messageOf(e),
        });
      }
    }
  }

  // ---- sweep content ----
  for (const b of allBlobs) {
    if (markedBlobs.has(b.digest)) {
      result.keptBlobs++;
      continue;
    }
    if (!opts.dryRun) {
      try {
        await content.delete(b.digest);
      } catch (e) {
        if (!(e instanceof BerthError && e.code === 'not-found')) throw e;
        continue;
      }
    }
    result.removedBlobs.push({ digest: b.digest, size: b.size });
    result.bytesFreed += b.size;
  }

  // ---- sweep ingests ----
  const leasedIngests = new Set(leased.filter((r) => r.type === 'ingest').map((r) => r.key));
  for (const ing of await content.ingests()) {
    if (ing.active || leasedIngests.has(ing.ref)) continue;
    if (opts.ingestMinAgeMs !== undefined && now - ing.updatedAt.getTime() < opts.ingestMinAgeMs) continue;
    if (!opts.dryRun) {
      try {
        await content.abortIngest(ing.key, true);
      } catch (e) {
        if (e instanceof BerthError && e.code === 'failed-precondition') continue; // picked up meanwhile
        throw e;
      }
    }
    result.removedIngests.push(ing.ref || ing.key);
    result.bytesFreed += ing.offset;
  }

  // ---- sweep snapshots ----
  if (snapshotter) {
    const all = await snapshotter.list();
    const byKey = new Map(all.map((s) => [s.key, s] as const));
    const keep = new Set<string>();
    const keepWithParents = (key: string) => {
      for (let k: string | undefined = key; k !== undefined && !keep.has(k); k = byKey.get(k)?.parent) keep.add(k);
    };
    for (const s of all) {
      if (s.kind !== 'committed' || markedSnapshots.has(s.key)) keepWithParents(s.key);
    }
    // Children first: a snapshot with a remaining child cannot be removed.
    let doomed = all.filter((s) => !keep.has(s.key));
    while (doomed.length) {
      const parents = new Set(doomed.map((s) => s.parent).filter((p): p is string => p !== undefined));
      const leaves = doomed.filter((s) => !parents.has(s.key));
      if (leaves.length === 0) break;
      for (const s of leaves) {
        if (!opts.dryRun) {
          try {
            await snapshotter.remove(s.key);
          } catch (e) {
            log?.warn('gc: snapshot not removed', { key: s.key, error: messageOf(e) });
            continue;
          }
        }
        result.removedSnapshots.push(s.key);
      }
      const gone = new Set(leaves.map((s) => s.key));
      doomed = doomed.filter((s) => !gone.has(s.key));
    }
    if (!opts.dryRun) await snapshotter.cleanup();
  }
  return result;
}
