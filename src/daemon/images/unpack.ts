// What load, import and commit share once their blobs are in the content
// store, beside the unpack and gc labels every client shares
// (src/client/unpack.ts): the image record, made the way dockerd's
// containerd image store makes it: an image that loses its last name to a
// newer one stays listed as dangling (`moby-dangling@<digest>`), and a
// nameless image gets that name itself.

import { labelImage, RemoteContentStore, unpackLayers, type ContainerdClient } from '../../client/index.js';
import { isAlreadyExists } from '../../client/errors.js';
import type { Descriptor } from '../../image/storeless.js';
import type { ImageConfig } from '../../image/storeless.js';
import { MediaType, ociImageManifest } from '../../image/storeless.js';
import { putJson } from './ingest.js';

/** dockerd's name for an image record that has no name (its containerd image store does the same). */
export const DANGLING_REPO = 'moby-dangling';

export function danglingName(targetDigest: string): string {
  return `${DANGLING_REPO}@${targetDigest}`;
}

export function isDanglingName(name: string): boolean {
  return name.startsWith(`${DANGLING_REPO}@`);
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
  const m = await putJson(client, lease, ociImageManifest(cfg, layers), `${what}: manifest`);
  const store = new RemoteContentStore(client.conn, client.content, lease);
  const chain = await unpackLayers(client, store, { snapshotter, lease, layers, diffIds: config.rootfs.diff_ids });
  const target = { mediaType: MediaType.OciManifest, digest: m.digest, size: m.size };
  const refs = { manifest: m.digest, config: cfg.digest, layers: layers.map((l) => l.digest) };
  await labelImage(store, { target, ...refs }, { snapshotter, chain });
  await nameImage(client, name ?? danglingName(m.digest), target);
  return { id: cfg.digest, target: m.digest };
}
