// What load, import and commit share once their blobs are in the content
// store: unpacking the layers into the snapshotter (as a pull does: one
// snapshot per chain id, Prepare + Diff.Apply + Commit, the applied digest
// checked against the config's diff id), the gc labels that tie target →
// manifests → config + layers and config → top snapshot, and the image
// record, made the way dockerd's containerd image store makes it: an image
// that loses its last name to a newer one stays listed as dangling
// (`moby-dangling@<digest>`), and a nameless image gets that name itself.

import { randomBytes } from 'node:crypto';
import type { ContainerdClient } from '../../client/index.js';
import { isAlreadyExists, isNotFound } from '../../client/errors.js';
import { BerthError } from '../../common/errors.js';
import type { Descriptor } from '../../image/storeless.js';
import { chainIds } from '../../image/storeless.js';
import type { ImageConfig, ImageManifest } from '../../image/storeless.js';
import { MediaType } from '../../image/storeless.js';
import { label, putJson } from './ingest.js';

const SNAPSHOT_REF = 'containerd.io/snapshot.ref';
const UNCOMPRESSED = 'containerd.io/uncompressed';
/** dockerd's name for an image record that has no name (its containerd image store does the same). */
export const DANGLING_REPO = 'moby-dangling';

export function danglingName(targetDigest: string): string {
  return `${DANGLING_REPO}@${targetDigest}`;
}

export function isDanglingName(name: string): boolean {
  return name.startsWith(`${DANGLING_REPO}@`);
}

export interface UnpackStep {
  layer: Descriptor;
  index: number;
  /** True once the snapshot exists (made now or found made). */
  done: boolean;
}

async function statOk(f: () => Promise<unknown>): Promise<boolean> {
  try {
    await f();
    return true;
  } catch (e) {
    if (isNotFound(e)) return false;
    throw e;
  }
}

/** Unpacks `layers` bottom-up under `lease`; answers the top chain id. */
export async function unpackLayers(
  client: ContainerdClient,
  snapshotter: string,
  lease: string,
  layers: Descriptor[],
  diffIds: string[],
  progress: (s: UnpackStep) => void = () => undefined,
): Promise<string> {
  if (layers.length !== diffIds.length)
    throw new BerthError(
      'berthd',
      'invalid-argument',
      `${layers.length} layers but ${diffIds.length} diff ids in the config`,
    );
  const chains = chainIds(diffIds);
  const snaps = client.snapshots(snapshotter);
  let parent = '';
  for (const [i, layer] of layers.entries()) {
    const chain = chains[i]!;
    progress({ layer, index: i, done: false });
    if (!(await statOk(() => snaps.stat(chain)))) {
      const key = `extract-${randomBytes(6).toString('hex')} ${chain}`;
      const labels = { [SNAPSHOT_REF]: chain };
      const mounts = await snaps.prepare(key, parent, labels, { lease });
      try {
        const applied = await client.diff.apply(
          { media_type: layer.mediaType, digest: layer.digest, size: layer.size },
          mounts,
          { lease },
        );
        if (applied.digest !== diffIds[i]) {
          throw new BerthError(
            'berthd',
            'digest-mismatch',
            `layer ${layer.digest}: its content unpacks to ${applied.digest}, the config says ${diffIds[i]}`,
          );
        }
        await snaps.commit(chain, key, labels, { lease });
      } catch (e) {
        await snaps.remove(key).catch(() => undefined);
        if (!isAlreadyExists(e)) throw e;
      }
    } else {
      await client.leases.addResource(lease, { id: chain, type: `snapshots/${snapshotter}` });
    }
    await label(client, lease, layer.digest, { [UNCOMPRESSED]: diffIds[i]! });
    progress({ layer, index: i, done: true });
    parent = chain;
  }
  return parent;
}

/** gc labels: manifest → config and layers; config → its top snapshot. */
export async function labelImage(
  client: ContainerdClient,
  lease: string,
  snapshotter: string,
  manifest: { digest: string; config: string; layers: string[] },
  topChain: string,
): Promise<void> {
  const labels: Record<string, string> = { 'containerd.io/gc.ref.content.config': manifest.config };
  manifest.layers.forEach((l, i) => (labels[`containerd.io/gc.ref.content.l.${i}`] = l));
  await label(client, lease, manifest.digest, labels);
  if (topChain)
    await label(client, lease, manifest.config, { [`containerd.io/gc.ref.snapshot.${snapshotter}`]: topChain });
}

/**
 * Points `name` at `target` (creating the record, or moving it); an image
 * left without any name keeps a dangling record, as dockerd does.
 */
export async function nameImage(
  client: ContainerdClient,
  name: string,
  target: Descriptor,
  labels: Record<string, string> = {},
): Promise<void> {
  const t = { media_type: target.mediaType, digest: target.digest, size: target.size };
  // A nameless image that some name already points at is not dangling.
  if (isDanglingName(name) && (await client.images.list()).some((r) => r.target?.digest === target.digest)) return;
  try {
    await client.images.create({ name, target: t, labels });
  } catch (e) {
    if (!isAlreadyExists(e)) throw e;
    const rec = await client.images.get(name);
    const old = rec.target;
    if (old?.digest === target.digest) return;
    // The old target gets its dangling record BEFORE the name leaves it: containerd's gc runs on its own
    // soon after any deletion (a snapshot, a lease, another image, by anyone), and in a window where no
    // record points at the old manifest it collects that manifest, its config and its snapshots; the
    // image then stayed listed (from the view cache) with its blobs gone.
    let kept: string | undefined;
    if (old?.digest && !(await client.images.list()).some((r) => r.target?.digest === old.digest && r.name !== name)) {
      const dangling = danglingName(old.digest);
      kept = await client.images.create({ name: dangling, target: old, labels: {} }).then(
        () => dangling,
        (err: unknown) => {
          if (!isAlreadyExists(err)) throw err;
          return undefined;
        },
      );
    }
    try {
      await client.images.update({ name, target: t, labels: { ...rec.labels, ...labels } }, [
        'target',
        ...Object.keys(labels).map((k) => `labels.${k}`),
      ]);
    } catch (err) {
      // The name still points at the old image: it is not dangling after all.
      if (kept) await client.images.delete(kept).catch(() => undefined);
      throw err;
    }
  }
  // A named image needs no dangling record of its own any more.
  if (!isDanglingName(name)) await client.images.delete(danglingName(target.digest)).catch(() => undefined);
}

/**
 * A new image from a config and layers already in the store (import,
 * commit): config and OCI manifest written, layers unpacked, gc labels set,
 * the image named (or left dangling). Answers the image id and target.
 */
export async function storeImage(
  client: ContainerdClient,
  lease: string,
  snapshotter: string,
  config: ImageConfig,
  layers: Descriptor[],
  name: string | undefined,
  what: string,
): Promise<{ id: string; target: string }> {
  const cfg = await putJson(client, lease, config, `${what}: config`);
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: cfg.digest, size: cfg.size },
    layers,
  };
  const m = await putJson(client, lease, manifest, `${what}: manifest`);
  const top = await unpackLayers(client, snapshotter, lease, layers, config.rootfs.diff_ids);
  const refs = { digest: m.digest, config: cfg.digest, layers: layers.map((l) => l.digest) };
  await labelImage(client, lease, snapshotter, refs, top);
  await nameImage(client, name ?? danglingName(m.digest), {
    mediaType: MediaType.OciManifest,
    digest: m.digest,
    size: m.size,
  });
  return { id: cfg.digest, target: m.digest };
}
