// Unpacking an image already in the store (berth-ctr images unpack, the
// engine before it creates a container's rootfs): resolve the record for a
// platform, unpack each layer not yet a committed snapshot. No lease is
// needed: the image record already keeps the blobs, and gc keeps the layer
// snapshots its config names and every snapshot not yet committed.

import { resolveImage, hostPlatform, parsePlatform, type NormalPlatform } from '../image/index.js';
import { unpackImage, type LayerProgress } from '../snapshot/index.js';
import type { Storage } from './storage.js';

export interface UnpackResult {
  /** The snapshot of the image's top layer; undefined for an image with no layers. */
  chainId: string | undefined;
  snapshotter: string;
}

export async function unpack(
  storage: Storage,
  name: string,
  opts: { platform?: string | NormalPlatform } = {},
  progress?: (e: LayerProgress) => void,
): Promise<UnpackResult> {
  const platform = typeof opts.platform === 'string' ? parsePlatform(opts.platform) : (opts.platform ?? hostPlatform());
  const rec = storage.images.get(name);
  const r = await resolveImage(storage.content, rec.target, platform);
  const sn = await storage.snapshotter();
  const res = await unpackImage({
    store: storage.content,
    snapshotter: sn,
    manifest: r.manifest,
    config: r.config,
    logger: storage.log,
    onProgress: progress,
  });
  return { chainId: res.chainId, snapshotter: sn.driver };
}
