// From an image to snapshots: each layer unpacked once into a committed
// snapshot named by its chain id (prepare → apply → commit), then a
// container's rootfs as an active snapshot on top of the image's top layer.
//
// Concurrency: within a process, unpacks of the same chain id share one
// promise. Across processes both may do the work; the first commit wins and
// the loser removes its copy and reuses the winner's (containerd does the
// same), so the store never holds two snapshots for one chain id.

import type { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import { BerthError, isBerthError } from '../../common/errors.js';
import { nullLogger, type Logger } from '../../common/log.js';
import { isIdentityAlive, selfIdentity } from '../../common/proc.js';
import { chainIds } from '../chainid.js';
import type { Mount, Snapshotter } from '../types.js';
import { applyLayer, type ApplyResult, type UnpackLimits } from './apply.js';
import { checkLayerMediaType } from './decompress.js';
import { unpackBudget } from './budget.js';

/** Label on snapshots still being unpacked (so a GC can tell leftovers of a crash). */
export const EXTRACT_LABEL = 'berth.io/snapshot.unpacking';
/** Label on committed layer snapshots: the uncompressed digest they came from. */
export const DIFF_ID_LABEL = 'berth.io/snapshot.diff-id';

export interface UnpackLayerOptions {
  snapshotter: Snapshotter;
  /** Chain id of the layers below, or undefined for the bottom layer. */
  parent?: string;
  /** The name to commit as: the chain id of this layer on `parent`. */
  chainId: string;
  diffId: string;
  /** Opens the layer blob (compressed or not). Called only when the layer must be unpacked. */
  open: () => Readable | Promise<Readable>;
  mediaType?: string;
  limits?: Partial<UnpackLimits>;
  logger?: Logger;
}

export interface UnpackLayerResult {
  chainId: string;
  /** 'exists': already unpacked (here or by a concurrent unpack), nothing done. */
  status: 'unpacked' | 'exists';
  applied?: ApplyResult;
}

const inflight = new Map<string, Promise<UnpackLayerResult>>();

export function unpackLayer(o: UnpackLayerOptions): Promise<UnpackLayerResult> {
  const id = `${o.snapshotter.dir}\0${o.chainId}`;
  const running = inflight.get(id);
  if (running) return running.then((r) => ({ chainId: r.chainId, status: 'exists' as const }));
  const p = unpackLayerOnce(o).finally(() => inflight.delete(id));
  inflight.set(id, p);
  return p;
}

async function unpackLayerOnce(o: UnpackLayerOptions): Promise<UnpackLayerResult> {
  const sn = o.snapshotter;
  const log = o.logger ?? nullLogger;
  const existing = await sn.find(o.chainId);
  if (existing) {
    if (existing.kind !== 'committed') {
      throw new BerthError(
        'snapshot',
        'failed-precondition',
        `snapshot ${o.chainId} exists but is ${existing.kind}, not a committed layer`,
      );
    }
    return { chainId: o.chainId, status: 'exists' };
  }
  checkLayerMediaType(o.mediaType);
  const key = `extract-${Date.now()}-${randomBytes(4).toString('hex')} ${o.chainId}`;
  // The label names this process (pid and start time), so a later run can
  // tell an unpack that a kill -9 abandoned, even once its pid is reused,
  // from one still in progress elsewhere.
  await sn.prepare(key, o.parent, { labels: { [EXTRACT_LABEL]: selfIdentity() } });
  let stream: Readable | undefined;
  try {
    const target = await sn.extractionTarget(key);
    stream = await o.open();
    const applied = await applyLayer({
      target,
      stream,
      expectedDiffId: o.diffId,
      mediaType: o.mediaType,
      limits: o.limits,
      logger: log,
    });
    try {
      await sn.commit(o.chainId, key, { labels: { [DIFF_ID_LABEL]: o.diffId } });
    } catch (e) {
      if (isBerthError(e) && e.code === 'already-exists') {
        log.info('layer unpacked concurrently elsewhere; reusing it', { chainId: o.chainId });
        await sn.remove(key);
        return { chainId: o.chainId, status: 'exists' };
      }
      throw e;
    }
    log.debug('layer unpacked', { chainId: o.chainId, entries: applied.entries, bytes: applied.size });
    return { chainId: o.chainId, status: 'unpacked', applied };
  } catch (e) {
    stream?.destroy();
    if (await sn.find(key)) {
      await sn.remove(key).catch((re: unknown) => log.error('removing a failed unpack', { key, error: String(re) }));
    }
    throw e;
  }
}

/**
 * Remove the active snapshots of unpacks whose process is gone (a kill -9
 * mid-layer leaves one). Unpacks of live processes are left alone. Returns
 * the keys removed.
 */
export async function removeAbandonedUnpacks(sn: Snapshotter): Promise<string[]> {
  const removed: string[] = [];
  for (const s of await sn.list()) {
    const owner = s.labels[EXTRACT_LABEL];
    if (s.kind !== 'active' || owner === undefined) continue;
    if (isIdentityAlive(owner)) continue;
    try {
      await sn.remove(s.key);
      removed.push(s.key);
    } catch (e) {
      if (!(isBerthError(e) && e.code === 'not-found')) throw e;
    }
  }
  return removed;
}

/**
 * Where layer blobs come from: a content store (the image layer's, or any
 * other). Declared here so that the snapshot layer does not depend on the
 * image layer; src/storage/ hands it the image layer's content store.
 */
export interface BlobSource {
  has(digest: string): Promise<boolean>;
  readStream(digest: string): Readable | Promise<Readable>;
}

/** A layer as a manifest names it. */
export interface LayerDescriptor {
  mediaType: string;
  digest: string;
  /** Compressed size (named in errors). */
  size: number;
}

/** The parts of an image manifest and config that unpacking reads. */
export interface ManifestLike {
  layers: LayerDescriptor[];
}
export interface ImageConfigLike {
  rootfs: { type: string; diff_ids: string[] };
}

export interface LayerProgress {
  index: number;
  digest: string;
  chainId: string;
  status: 'exists' | 'unpacking' | 'unpacked';
}

export interface UnpackImageOptions {
  store: BlobSource;
  snapshotter: Snapshotter;
  manifest: ManifestLike;
  config: ImageConfigLike;
  limits?: Partial<UnpackLimits>;
  logger?: Logger;
  onProgress?: (p: LayerProgress) => void;
}

export interface UnpackImageResult {
  /** The chain id of the whole image (its top layer's snapshot); undefined for an image with no layers. */
  chainId: string | undefined;
  layers: UnpackLayerResult[];
}

export async function unpackImage(o: UnpackImageOptions): Promise<UnpackImageResult> {
  const { manifest, config } = o;
  if (config.rootfs?.type !== 'layers') {
    throw new BerthError(
      'snapshot',
      'invalid-argument',
      `image config rootfs.type is ${JSON.stringify(config.rootfs?.type)}, expected "layers"`,
    );
  }
  const diffIds = config.rootfs.diff_ids;
  if (!Array.isArray(diffIds) || !Array.isArray(manifest.layers) || diffIds.length !== manifest.layers.length) {
    throw new BerthError(
      'snapshot',
      'invalid-argument',
      `image has ${manifest.layers?.length ?? 0} layers but its config lists ${diffIds?.length ?? 0} diff ids`,
    );
  }
  const chains = chainIds(diffIds);
  await removeAbandonedUnpacks(o.snapshotter);
  const budget = unpackBudget(o.snapshotter.dir, o.limits);
  let used = 0;
  const layers: UnpackLayerResult[] = [];
  try {
    await unpackLayers();
  } catch (e) {
    // Nothing of a refused image stays: the layers this call committed go
    // (one that another image uses meanwhile has children and stays).
    for (const l of [...layers].reverse()) {
      if (l.status !== 'unpacked') continue;
      await o.snapshotter.remove(l.chainId).catch(() => undefined);
    }
    throw e;
  }
  return { chainId: chains[chains.length - 1], layers };

  async function unpackLayers(): Promise<void> {
    for (const [i, layer] of manifest.layers.entries()) {
      const chainId = chains[i]!;
      const progress = (status: LayerProgress['status']): void =>
        o.onProgress?.({ index: i, digest: layer.digest, chainId, status });
      if (await o.snapshotter.find(chainId)) {
        progress('exists');
        layers.push({ chainId, status: 'exists' });
        continue;
      }
      if (!(await o.store.has(layer.digest))) {
        throw new BerthError('snapshot', 'not-found', `layer ${i} (${layer.digest}) is not in the content store`);
      }
      progress('unpacking');
      const max = Math.min(budget.layer, budget.image - used);
      let r: UnpackLayerResult;
      try {
        r = await unpackLayer({
          snapshotter: o.snapshotter,
          parent: i === 0 ? undefined : chains[i - 1],
          chainId,
          diffId: diffIds[i]!,
          open: () => o.store.readStream(layer.digest),
          mediaType: layer.mediaType,
          limits: { ...o.limits, maxBytes: max },
          logger: o.logger,
        });
      } catch (e) {
        if (isBerthError(e) && /larger than the (layer )?limit of/.test(e.message)) {
          const which =
            max < budget.layer
              ? `what is left of the image's ${budget.image} bytes`
              : `the per-layer limit of ${budget.layer} bytes`;
          throw new BerthError(
            'snapshot',
            'invalid-argument',
            `layer ${i} (${layer.digest}, ${layer.size} bytes compressed) expands beyond ${max} bytes, ${which} (${budget.source}): ${e.message}`,
            { cause: e },
          );
        }
        throw e;
      }
      used += r.applied?.size ?? 0;
      progress(r.status === 'exists' ? 'exists' : 'unpacked');
      layers.push(r);
    }
  }
}

/**
 * A container's root filesystem: an active snapshot `id` on top of the
 * image's committed top layer (or a read-only view), returning its mounts.
 */
export function prepareContainerRootfs(
  snapshotter: Snapshotter,
  id: string,
  imageChainId: string | undefined,
  opts: { readonly?: boolean; labels?: Record<string, string> } = {},
): Promise<Mount[]> {
  return opts.readonly
    ? snapshotter.view(id, imageChainId, { labels: opts.labels })
    : snapshotter.prepare(id, imageChainId, { labels: opts.labels });
}
