// What every unpack into a containerd shares (a client-side pull, ctr's
// images unpack, berthd's load, import and commit): each layer bottom-up into
// the snapshot of its chain id with snapshots Prepare + diff Apply + snapshots
// Commit, the applied digest checked against the config's diff id, all under
// the caller's lease; and the gc labels that tie an image's content together.

import { randomBytes } from 'node:crypto';
import { BerthError } from '../common/errors.js';
import { chainIds, parseManifest, type Descriptor } from '../image/storeless.js';
import type { ContainerdClient } from './client.js';
import type { RemoteContentStore } from './content-store.js';
import { isAlreadyExists, isNotFound } from './errors.js';

const SNAPSHOT_REF = 'containerd.io/snapshot.ref';
const UNCOMPRESSED = 'containerd.io/uncompressed';

/** A layer's progress: looked at (`start`), being unpacked (`extract`: it was not there), its snapshot there (`done`). */
export interface UnpackStep {
  layer: Descriptor;
  index: number;
  stage: 'start' | 'extract' | 'done';
}

export interface UnpackOptions {
  snapshotter: string;
  /** The lease that holds every snapshot and label made, and the snapshots found already made. */
  lease: string;
  layers: Descriptor[];
  diffIds: string[];
  /** What is unpacked, as errors begin ("docker.io/library/busybox:latest"). */
  what?: string;
}

async function exists(f: () => Promise<unknown>): Promise<boolean> {
  try {
    await f();
    return true;
  } catch (e) {
    if (isNotFound(e)) return false;
    throw e;
  }
}

/** Unpacks the layers bottom-up; answers the top chain id ('' for no layers). */
export async function unpackLayers(
  client: ContainerdClient,
  store: RemoteContentStore,
  opts: UnpackOptions,
  progress: (s: UnpackStep) => void = () => undefined,
): Promise<string> {
  const { snapshotter, lease, layers, diffIds } = opts;
  const where = opts.what ? `${opts.what}: ` : '';
  if (layers.length !== diffIds.length)
    throw new BerthError(
      'berthd',
      'invalid-argument',
      `${where}${layers.length} layers but ${diffIds.length} diff ids in the config`,
    );
  const chains = chainIds(diffIds);
  const snaps = client.snapshots(snapshotter);
  let parent = '';
  for (const [index, layer] of layers.entries()) {
    const chain = chains[index]!;
    const diffId = diffIds[index]!;
    progress({ layer, index, stage: 'start' });
    if (await exists(() => snaps.stat(chain))) {
      // Made before: held by the lease too, so gc cannot take it before the image record names it.
      await client.leases.addResource(lease, { id: chain, type: `snapshots/${snapshotter}` });
    } else {
      progress({ layer, index, stage: 'extract' });
      const key = `extract-${randomBytes(6).toString('hex')} ${chain}`;
      const labels = { [SNAPSHOT_REF]: chain };
      const mounts = await snaps.prepare(key, parent, labels, { lease });
      try {
        const applied = await client.diff.apply(
          { media_type: layer.mediaType, digest: layer.digest, size: layer.size },
          mounts,
          { lease },
        );
        if (applied.digest !== diffId)
          throw new BerthError(
            'berthd',
            'digest-mismatch',
            `${where}layer ${layer.digest}: its content unpacks to ${applied.digest}, the config says ${diffId}`,
          );
        await snaps.commit(chain, key, labels, { lease });
      } catch (e) {
        await snaps.remove(key).catch(() => undefined);
        if (!isAlreadyExists(e)) throw e; // another unpack committed the same chain first
      }
    }
    await store.setLabels(layer.digest, { [UNCOMPRESSED]: diffId });
    progress({ layer, index, stage: 'done' });
    parent = chain;
  }
  return parent;
}

/**
 * The gc labels containerd follows from an image's target down to every
 * blob: an index's to its manifests, the manifest's to its config and
 * layers, and (`snapshot`) the config's to its top snapshot.
 */
export async function labelImage(
  store: RemoteContentStore,
  image: { target: Descriptor; manifest: string; config: string; layers: string[] },
  snapshot?: { snapshotter: string; chain: string },
): Promise<void> {
  if (image.target.digest !== image.manifest) {
    const parsed = parseManifest(await store.readBytes(image.target.digest), { mediaType: image.target.mediaType });
    if (parsed.kind === 'index') {
      const labels: Record<string, string> = {};
      parsed.index.manifests.forEach((m, i) => (labels[`containerd.io/gc.ref.content.m.${i}`] = m.digest));
      await store.setLabels(image.target.digest, labels);
    }
  }
  const labels: Record<string, string> = { 'containerd.io/gc.ref.content.config': image.config };
  image.layers.forEach((l, i) => (labels[`containerd.io/gc.ref.content.l.${i}`] = l));
  await store.setLabels(image.manifest, labels);
  if (snapshot?.chain)
    await store.setLabels(image.config, { [`containerd.io/gc.ref.snapshot.${snapshot.snapshotter}`]: snapshot.chain });
}
