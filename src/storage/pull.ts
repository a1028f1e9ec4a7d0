// Pulling an image into a Storage: the registry pull (image/pull.ts) under a
// lease, with each layer unpacked into the snapshotter as soon as it and the
// layers below it are in the content store (downloading and unpacking
// overlap), then the image record, then the lease goes. The same call serves
// berth-ctr and the engine (containerd keeps this in core/unpack and its
// Transfer service; its ctr pull command is flags plus progress).
//
// GC safety: every blob is added to the lease before it is committed, every
// layer snapshot before it is unpacked, and the image record is written
// before the lease is deleted, so a concurrent gc never sees content that is
// neither leased nor named by an image.

import {
  withLease,
  leasedStore,
  resolveImage,
  chainIds,
  pullImage,
  parsePlatform,
  hostPlatform,
  type Descriptor,
  type Lease,
  type NormalPlatform,
  type Reference,
  type PullResult as RegistryPullResult,
} from '../image/index.js';
import type { RegistryClient, RegistryOptions } from '../image/registry/index.js';
import { unpackImage, unpackLayer, type Snapshotter } from '../snapshot/index.js';
import type { Storage } from './storage.js';

/**
 * What a pull reports per layer, in Docker's words: Waiting, Downloading
 * (with bytes), Verifying Checksum, Download complete, Extracting, Pull
 * complete (downloaded and, when unpacking, unpacked), Already exists, Retrying.
 */
export interface PullEvent {
  digest: string;
  status: string;
  current?: number;
  total?: number;
}

export interface PullOptions {
  /** "linux/arm64/v8" or a platform object; default the host's. */
  platform?: string | NormalPlatform;
  /** Refuse a single-platform image of another platform (docker pull --platform). */
  requirePlatform?: boolean;
  /** Unpack the layers into the snapshotter (default true). */
  unpack?: boolean;
  /** Layers downloaded at once; default 3. */
  concurrency?: number;
  registryOptions?: RegistryOptions;
  /** Reuse a client (and its tokens) across pulls of one registry. */
  client?: RegistryClient;
  /** Labels of the pull's lease. */
  leaseLabels?: Record<string, string>;
}

export interface PullResult extends RegistryPullResult {
  /** The snapshot of the image's top layer; undefined without unpack or for an image with no layers. */
  chainId?: string;
  /** The snapshotter driver it was unpacked with. */
  snapshotter?: string;
}

/** Unpacks layers in manifest order as their blobs arrive. */
class PipelinedUnpack {
  private readonly waiters = new Map<string, { promise: Promise<void>; resolve: () => void }>();
  private stopped = false;
  private running?: Promise<void>;
  error?: unknown;

  constructor(
    private readonly storage: Storage,
    private readonly lease: Lease,
    private readonly platform: NormalPlatform,
    private readonly progress: ((e: PullEvent) => void) | undefined,
  ) {}

  private waiter(digest: string) {
    let w = this.waiters.get(digest);
    if (!w) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      w = { promise, resolve };
      this.waiters.set(digest, w);
    }
    return w;
  }

  /** A layer blob is in the store. */
  ready(digest: string): void {
    this.waiter(digest).resolve();
  }

  /** The target is known and its manifest and config are in the store: start. */
  start(targetDigest: string): void {
    this.running ??= this.run(targetDigest).catch((e: unknown) => {
      // Not fatal here: the pull's own unpack pass does what is left, and reports its error.
      this.error = e;
    });
  }

  /** Stop waiting (the pull failed) and let a running unpack finish its layer. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const w of this.waiters.values()) w.resolve();
    await this.running;
  }

  async finish(): Promise<void> {
    await this.running;
  }

  private async run(targetDigest: string): Promise<void> {
    const { storage } = this;
    // The same choice of manifest as the pull makes (same platform, same selection).
    const target: Descriptor = { mediaType: '', digest: targetDigest, size: 0 };
    const r = await resolveImage(storage.content, target, this.platform);
    const sn = await storage.snapshotter();
    const chains = chainIds(r.diffIds);
    for (const [i, layer] of r.layers.entries()) {
      await this.waiter(layer.digest).promise;
      if (this.stopped) return;
      // The lease keeps each committed layer snapshot from a concurrent gc until the image record exists.
      storage.leases.addResource(this.lease.id, { type: 'snapshot', key: chains[i]! });
      if ((await sn.find(chains[i]!))?.kind === 'committed') {
        this.progress?.({ digest: layer.digest, status: 'Already exists' });
        continue;
      }
      this.progress?.({ digest: layer.digest, status: 'Extracting' });
      const res = await unpackLayer({
        snapshotter: sn,
        parent: i === 0 ? undefined : chains[i - 1],
        chainId: chains[i]!,
        diffId: r.diffIds[i]!,
        mediaType: layer.mediaType,
        open: () => storage.content.readStream(layer.digest),
        logger: storage.log,
      });
      this.progress?.({ digest: layer.digest, status: res.status === 'exists' ? 'Already exists' : 'Pull complete' });
    }
  }
}

/**
 * Pulls `ref` into `storage`: content, image record, and (unless
 * `opts.unpack` is false) the layer snapshots. `progress` gets per-layer events.
 */
export async function pull(
  storage: Storage,
  ref: string | Reference,
  opts: PullOptions = {},
  progress?: (e: PullEvent) => void,
): Promise<PullResult> {
  const unpack = opts.unpack !== false;
  const platform = typeof opts.platform === 'string' ? parsePlatform(opts.platform) : (opts.platform ?? hostPlatform());
  const result = await withLease(
    storage.leases,
    async (lease) => {
      const pipeline = unpack ? new PipelinedUnpack(storage, lease, platform, progress) : undefined;
      let target: string | undefined;
      let r: RegistryPullResult;
      try {
        r = await pullImage(ref, {
          store: leasedStore(storage.content, storage.leases, lease.id),
          platform,
          requirePlatform: opts.requirePlatform,
          concurrency: opts.concurrency,
          registryOptions: opts.registryOptions,
          client: opts.client,
          deferLabels: true,
          progress: (e) => {
            if (e.status === 'Resolved' && e.digest) target = e.digest;
            if (e.kind !== 'layer' || !e.digest) return;
            // The first layer event comes after the manifest and config are stored.
            if (target) pipeline?.start(target);
            if (e.status === 'Already exists' || e.status === 'Pull complete') pipeline?.ready(e.digest);
            // The registry's "Pull complete" means downloaded; with unpack it is said once unpacked.
            const shown = e.status === 'Pull complete' && unpack ? 'Download complete' : e.status;
            if (!(unpack && e.status === 'Already exists'))
              progress?.({ digest: e.digest, status: shown, current: e.current, total: e.total });
          },
        });
      } catch (e) {
        await pipeline?.stop();
        throw e;
      }
      await pipeline?.finish();
      // The record is the reference that keeps the content once the lease
      // goes: the blobs' labels, the record and the lease's end in one commit
      // (one fsync on the event loop instead of three).
      storage.metadata.tx(() => {
        storage.content.setLabelsManySync(r.labels ?? []);
        storage.images.put(r.name, r.target);
        storage.leases.delete(lease.id);
      });
      return r;
    },
    { labels: { 'berth.io/operation': 'pull', ...opts.leaseLabels } },
  );
  if (!unpack) return result;
  // Whatever the pipeline did not do (or did before failing) is done here; a no-op otherwise.
  const sn: Snapshotter = await storage.snapshotter();
  const unpacked = await unpackImage({
    store: storage.content,
    snapshotter: sn,
    manifest: { layers: result.layers },
    config: result.imageConfig,
    logger: storage.log,
    onProgress: (e) => {
      if (e.status === 'unpacked') progress?.({ digest: e.digest, status: 'Pull complete' });
    },
  });
  return { ...result, chainId: unpacked.chainId, snapshotter: sn.driver };
}
