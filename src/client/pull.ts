// Pull into a containerd, done on the client side as containerd's own client
// library does it: the registry work is src/image's (resolve, platform
// choice, verified downloads), the blobs go into containerd's content store
// under a lease, gc labels tie index → manifests → config + layers and config
// → top snapshot, each layer is unpacked with snapshots Prepare + diff Apply
// + snapshots Commit keyed by its chain id, and the image record is written
// last; only then is the lease dropped. A pull that fails half-way leaves
// blobs and snapshots that the lease's expiry hands to containerd's gc.

import { randomBytes } from 'node:crypto';
import { BerthError } from '../common/errors.js';
import {
  pullImage,
  resolveImage,
  shortId,
  type Descriptor,
  type NormalPlatform,
  type PullProgress,
  type PullResult,
  type RegistryOptions,
} from '../image/storeless.js';
import type { ContainerdClient } from './client.js';
import { RemoteContentStore } from './content-store.js';
import { isAlreadyExists } from './errors.js';
import { labelImage, unpackLayers, type UnpackStep } from './unpack.js';

export const GC_EXPIRE = 'containerd.io/gc.expire';

export type UnpackStatus = 'Extracting' | 'Pull complete';
export type ClientPullProgress = PullProgress | { id: string; status: UnpackStatus; digest: string; kind: 'layer' };

export interface ClientPullOptions {
  snapshotter: string;
  platform?: string;
  registryOptions?: RegistryOptions;
  progress?: (e: ClientPullProgress) => void;
  /** Extra labels on the image record. */
  labels?: Record<string, string>;
  /** false: content and image record only, no snapshots (ctr's `content fetch`, `berth-ctr pull --no-unpack`). */
  unpack?: boolean;
  /** Layers downloaded at once (src/image's default when unset). */
  concurrency?: number;
  /** Refuse a single-platform image of another platform, as an explicit `--platform` does. */
  requirePlatform?: boolean;
}

export interface ClientPullResult extends PullResult {
  /** The chain id of the top layer: the parent of a container's snapshot ('' when not unpacked). */
  topChainId: string;
  /** True when the image record already pointed at this target. */
  upToDate: boolean;
}

/** A lease that expires on its own, so a pull killed half-way is collected by containerd's gc. */
export async function temporaryLease(
  client: ContainerdClient,
  purpose: string,
  ttlMs = 24 * 3600_000,
): Promise<string> {
  const id = `${purpose}-${Date.now()}-${randomBytes(4).toString('hex')}`;
  return client.leases.create(id, { [GC_EXPIRE]: new Date(Date.now() + ttlMs).toISOString() });
}

export async function pullIntoContainerd(
  client: ContainerdClient,
  ref: string,
  opts: ClientPullOptions,
): Promise<ClientPullResult> {
  const lease = await temporaryLease(client, 'berth-pull');
  try {
    const store = new RemoteContentStore(client.conn, client.content, lease);
    const emit = opts.progress ?? (() => undefined);
    const result = await pullImage(ref, {
      store,
      platform: opts.platform,
      requirePlatform: opts.requirePlatform,
      concurrency: opts.concurrency,
      registryOptions: opts.registryOptions,
      // "Pull complete" comes after the layer is unpacked, not when it is downloaded.
      progress: (e) => {
        if (e.status !== 'Pull complete' || opts.unpack === false) emit(e);
      },
    });
    let topChainId = '';
    if (opts.unpack !== false) {
      const diffIds = result.imageConfig.rootfs?.diff_ids ?? [];
      const unpackOpts = { snapshotter: opts.snapshotter, lease, layers: result.layers, diffIds, what: result.name };
      topChainId = await unpackLayers(client, store, unpackOpts, layerProgress(emit));
    }
    const refs = {
      manifest: result.manifest.digest,
      config: result.config.digest,
      layers: result.layers.map(digestOf),
    };
    await labelImage(store, { target: result.target, ...refs }, { snapshotter: opts.snapshotter, chain: topChainId });
    const upToDate = await writeImageRecord(client, result.name, result.target, opts.labels ?? {});
    return { ...result, topChainId, upToDate };
  } finally {
    await client.leases.delete(lease).catch(() => undefined);
  }
}

function digestOf(d: Descriptor): string {
  return d.digest;
}

/** A layer's unpack steps as the pull's Docker-style progress. */
function layerProgress(emit: (e: ClientPullProgress) => void): (s: UnpackStep) => void {
  return ({ layer, stage }) => {
    const status = stage === 'extract' ? 'Extracting' : stage === 'done' ? 'Pull complete' : undefined;
    if (status) emit({ id: shortId(layer.digest), status, digest: layer.digest, kind: 'layer' });
  };
}

/**
 * Unpack an image already in containerd's content store into `snapshotter`
 * (ctr's `images unpack`, berth-ctr --address images unpack): the same steps
 * as a pull's unpack, under a lease of its own. Answers the top chain id.
 */
export async function unpackInContainerd(
  client: ContainerdClient,
  name: string,
  opts: { snapshotter: string; platform?: NormalPlatform; progress?: (e: ClientPullProgress) => void },
): Promise<string> {
  const image = await client.images.get(name);
  if (!image.target) throw new BerthError('berthd', 'internal', `image "${name}": the record has no target`);
  const target = { mediaType: image.target.media_type, digest: image.target.digest, size: image.target.size };
  const lease = await temporaryLease(client, 'berth-unpack');
  try {
    const store = new RemoteContentStore(client.conn, client.content, lease);
    const r = await resolveImage(store, target, opts.platform);
    const emit = opts.progress ?? (() => undefined);
    const unpackOpts = { snapshotter: opts.snapshotter, lease, layers: r.layers, diffIds: r.diffIds, what: image.name };
    const top = await unpackLayers(client, store, unpackOpts, layerProgress(emit));
    if (top)
      await store.setLabels(r.manifest.config.digest, { [`containerd.io/gc.ref.snapshot.${opts.snapshotter}`]: top });
    return top;
  } finally {
    await client.leases.delete(lease).catch(() => undefined);
  }
}

/** Create the image record, or point it at the new target; true when nothing changed. */
async function writeImageRecord(
  client: ContainerdClient,
  name: string,
  target: Descriptor,
  labels: Record<string, string>,
): Promise<boolean> {
  const t = { media_type: target.mediaType, digest: target.digest, size: target.size };
  try {
    await client.images.create({ name, target: t, labels });
    return false;
  } catch (e) {
    if (!isAlreadyExists(e)) throw e;
  }
  const old = await client.images.get(name);
  if (old.target?.digest === target.digest) return true;
  await client.images.update({ name, target: t, labels: { ...old.labels, ...labels } }, [
    'target',
    ...Object.keys(labels).map((k) => `labels.${k}`),
  ]);
  return false;
}
