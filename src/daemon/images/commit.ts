// docker commit, as dockerd's containerd image store does it: the changes
// of the container's rootfs snapshot against its parent (the image's top
// snapshot) are taken by containerd's diff service (Diff.Diff between a
// read-only view of the parent and the container's own mounts), written as
// one gzip layer, and stacked on the image's layers; the config is the
// image's with the container's runtime config (then the request's config
// and `changes`) and one more history entry. The task is paused during the
// diff unless asked not to be, so the layer is one instant of the rootfs.
// The new layer is applied to a new snapshot keyed by its chain id, as a
// pull would have made it, so a container of the new image starts at once.

import { randomBytes } from 'node:crypto';
import type { ContainerdClient } from '../../client/index.js';
import { temporaryLease } from '../../client/pull.js';
import type { MountSpec } from '../../client/services.js';
import { BerthError, isBerthError } from '../../common/errors.js';
import { applyChanges } from '../../image/storeless.js';
import type { Descriptor } from '../../image/storeless.js';
import type { ContainerConfig, ImageConfig } from '../../image/storeless.js';
import { MediaType } from '../../image/storeless.js';
import type { ContainerRecord } from '../containers/record.js';
import type { ImageView } from './service.js';
import { storeImage } from './unpack.js';

const UNCOMPRESSED = 'containerd.io/uncompressed';
const DIFF_SERVICE = 'containerd.services.diff.v1.Diff';

/** Docker media types of layers, as their OCI twins (same bytes) in the new OCI manifest. */
const OCI_LAYER: Record<string, string> = {
  [MediaType.DockerLayer]: MediaType.OciLayer,
  [MediaType.DockerLayerGzip]: MediaType.OciLayerGzip,
  [MediaType.DockerLayerZstd]: MediaType.OciLayerZstd,
};

export interface CommitOptions {
  client: ContainerdClient;
  snapshotter: string;
  container: ContainerRecord;
  image: ImageView;
  /** Pause a running container during the diff (dockerd's default). */
  pause: boolean;
  changes: string[];
  /** The request body: runtime config that replaces the container's where given. */
  config?: ContainerConfig;
  author?: string;
  comment?: string;
  /** Full name with tag; none for a dangling image. */
  name?: string;
}

/** The runtime config Docker keeps in an image, from a container's (merged) create body. */
function runtimeConfig(r: ContainerRecord): ContainerConfig {
  const c = r.Config;
  const out: ContainerConfig = {};
  if (c.User) out.User = c.User;
  if (c.Env?.length) out.Env = c.Env;
  if (c.Cmd?.length) out.Cmd = c.Cmd;
  if (c.Entrypoint?.length) out.Entrypoint = c.Entrypoint;
  if (c.WorkingDir) out.WorkingDir = c.WorkingDir;
  if (c.Labels && Object.keys(c.Labels).length) out.Labels = c.Labels;
  if (c.ExposedPorts && Object.keys(c.ExposedPorts).length) out.ExposedPorts = c.ExposedPorts;
  if (c.Volumes && Object.keys(c.Volumes).length) out.Volumes = c.Volumes;
  if (c.StopSignal) out.StopSignal = c.StopSignal;
  return out;
}

async function diffMounts(
  client: ContainerdClient,
  lease: string,
  lower: MountSpec[],
  upper: MountSpec[],
): Promise<Descriptor> {
  const res = await client.conn.unary<object, { diff: { media_type: string; digest: string; size: number } | null }>(
    DIFF_SERVICE,
    'Diff',
    {
      left: lower,
      right: upper,
      media_type: MediaType.OciLayerGzip,
      ref: `berthd-commit-${randomBytes(6).toString('hex')}`,
      labels: {},
    },
    { lease, timeoutMs: 600_000 },
  );
  if (!res.diff) throw new BerthError('berthd', 'internal', 'Diff.Diff answered no descriptor');
  return {
    mediaType: res.diff.media_type || MediaType.OciLayerGzip,
    digest: res.diff.digest,
    size: Number(res.diff.size),
  };
}

export async function commitContainer(opts: CommitOptions): Promise<{ id: string; target: string }> {
  const { client, snapshotter, container: r, image } = opts;
  let runtime: ContainerConfig = { ...runtimeConfig(r), ...(opts.config ?? {}) };
  runtime = applyChanges(runtime, opts.changes);
  const lease = await temporaryLease(client, 'berthd-commit', 3600_000);
  const snaps = client.snapshots(snapshotter);
  let done = false;
  try {
    const lowerKey = `berthd-commit-${randomBytes(6).toString('hex')}`;
    const lower = await snaps.view(lowerKey, r.ParentChain, {}, { lease });
    let layer: Descriptor;
    // A container whose process has just ended still reads as running until its exit is handled;
    // its task is gone or stopped then, and there is nothing left to pause (dockerd commits it).
    const pause = opts.pause && r.State.Status === 'running' && (await pauseIfAlive(client, r.Id));
    try {
      layer = await diffMounts(client, lease, lower, await snaps.mounts(r.Id));
    } finally {
      if (pause) await client.tasks.resume(r.Id);
      await snaps.remove(lowerKey).catch(() => undefined);
    }
    const diffId = (await client.content.info(layer.digest)).labels?.[UNCOMPRESSED];
    if (!diffId)
      throw new BerthError('berthd', 'internal', `commit: the diff ${layer.digest} carries no ${UNCOMPRESSED} label`);

    const base = image.resolved;
    const created = new Date().toISOString();
    const cmd = [...(r.Config.Entrypoint ?? []), ...(r.Config.Cmd ?? [])].join(' ');
    const config: ImageConfig = {
      ...base.config,
      created,
      ...(opts.author ? { author: opts.author } : {}),
      config: runtime,
      // The image committed from, as Docker's own image configs carry it (inspect's Parent).
      parent: image.id,
      rootfs: { type: 'layers', diff_ids: [...base.diffIds, diffId] },
      history: [
        ...(base.config.history ?? []),
        {
          created,
          ...(opts.author ? { author: opts.author } : {}),
          created_by: cmd,
          ...(opts.comment ? { comment: opts.comment } : {}),
        },
      ],
    };
    const layers: Descriptor[] = [
      ...base.layers.map((l) => ({ mediaType: OCI_LAYER[l.mediaType] ?? l.mediaType, digest: l.digest, size: l.size })),
      layer,
    ];
    const made = await storeImage(client, lease, snapshotter, config, layers, opts.name, 'commit');
    done = true;
    return made;
  } finally {
    await client.leases.delete(lease, !done).catch(() => undefined);
  }
}

/** Pause a task; false when it has already exited (not found, or stopped). */
async function pauseIfAlive(client: ContainerdClient, id: string): Promise<boolean> {
  try {
    await client.tasks.pause(id);
    return true;
  } catch (e) {
    if (isBerthError(e) && (e.code === 'not-found' || e.code === 'failed-precondition')) return false;
    throw e;
  }
}
