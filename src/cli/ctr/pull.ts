// berth-ctr images pull: the registry pull (src/image/pull.ts) under a lease,
// with each layer unpacked into the snapshotter as soon as it and the layers
// below it are in the content store, so downloading and unpacking overlap.
// Then the image record, and Docker-style progress throughout.

import type { Descriptor } from '../../image/content/types.js';
import { pullImage, type PullProgress } from '../../image/pull.js';
import { withLease, leasedStore, type Lease } from '../../image/leases.js';
import { resolveImage, chainIds } from '../../image/images.js';
import { parseDockerRef } from '../../image/reference.js';
import type { NormalPlatform } from '../../image/platform.js';
import { unpackImage, unpackLayer } from '../../snapshot/index.js';
import { bool, need, parseArgs, str } from './args.js';
import type { Context } from './context.js';
import { platformFlag } from './images.js';
import { Progress } from './progress.js';
import { concurrencyFlag, credentialsFlag, hostFlags, registryOptions } from './registry.js';

/** Unpacks layers in manifest order as their blobs arrive. */
class PipelinedUnpack {
  private readonly waiters = new Map<string, { promise: Promise<void>; resolve: () => void }>();
  private stopped = false;
  private running?: Promise<void>;
  error?: unknown;

  constructor(
    private readonly ctx: Context,
    private readonly lease: Lease,
    private readonly platform: NormalPlatform,
    private readonly progress: Progress | undefined,
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
    this.running ??= this.run(targetDigest).catch((e) => {
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
    const { ctx } = this;
    // The same choice of manifest as the pull makes (same platform, same selection).
    const r = await resolveImage(ctx.content, { mediaType: '', digest: targetDigest, size: 0 } as Descriptor, this.platform);
    const sn = await ctx.snapshotter();
    const chains = chainIds(r.diffIds);
    for (const [i, layer] of r.layers.entries()) {
      await this.waiter(layer.digest).promise;
      if (this.stopped) return;
      // The lease keeps each committed layer snapshot from a concurrent gc until the image record exists.
      ctx.leases.addResource(this.lease.id, { type: 'snapshot', key: chains[i]! });
      this.progress?.update(layer.digest, 'Extracting');
      const res = await unpackLayer({
        snapshotter: sn,
        parent: i === 0 ? undefined : chains[i - 1],
        chainId: chains[i]!,
        diffId: r.diffIds[i]!,
        mediaType: layer.mediaType,
        open: () => ctx.content.readStream(layer.digest),
      });
      this.progress?.update(layer.digest, res.status === 'exists' ? 'Already exists' : 'Pull complete');
    }
  }
}

export async function pullCmd(ctx: Context, argv: string[]): Promise<number> {
  const p = parseArgs(argv, {
    platform: { kind: 'string' },
    'no-unpack': { kind: 'bool' },
    concurrency: { kind: 'string' },
    user: { kind: 'string', alias: 'u' },
    quiet: { kind: 'bool', alias: 'q' },
    ...hostFlags,
  });
  need(p, 1, 'berth-ctr images pull [--platform P] [--plain-http] [--no-unpack] NAME');
  const ref = parseDockerRef(p.args[0]!);
  const opts = registryOptions(p, ref.domain);
  const credentials = credentialsFlag(p);
  if (credentials) opts.credentials = credentials;
  const platform = platformFlag(str(p, 'platform'));
  const quiet = bool(p, 'quiet');
  const progress = quiet ? undefined : new Progress((s) => ctx.io.out(s), ctx.io.tty);
  const unpack = !bool(p, 'no-unpack');

  const result = await withLease(ctx.leases, async (lease) => {
    const pipeline = unpack ? new PipelinedUnpack(ctx, lease, platform, progress) : undefined;
    let target: string | undefined;
    const onEvent = (e: PullProgress) => {
      if (e.status === 'Resolved' && e.digest) target = e.digest;
      if (e.kind !== 'layer' || !e.digest) return;
      // The first layer event comes after the manifest and config are stored.
      if (target) pipeline?.start(target);
      if (e.status === 'Already exists' || e.status === 'Pull complete') pipeline?.ready(e.digest);
      // The registry's "Pull complete" means downloaded; here it is said once unpacked.
      const shown = e.status === 'Pull complete' ? (unpack ? 'Download complete' : 'Pull complete') : e.status;
      if (!(unpack && e.status === 'Already exists')) progress?.update(e.digest, shown, e.current, e.total);
    };
    let r;
    try {
      r = await pullImage(ref, {
        store: leasedStore(ctx.content, ctx.leases, lease.id),
        platform,
        // An explicit --platform must match even a single-platform image, as docker pull --platform insists.
        requirePlatform: str(p, 'platform') !== undefined,
        concurrency: concurrencyFlag(p),
        registryOptions: opts,
        progress: onEvent,
      });
    } catch (e) {
      await pipeline?.stop();
      throw e;
    }
    await pipeline?.finish();
    // The record is the reference that keeps the content once the lease goes.
    ctx.images.put(r.name, r.target);
    return r;
  }, { labels: { 'berth.io/operation': 'pull' } });
  progress?.done();

  if (unpack) {
    // Whatever the pipeline did not do (or did before failing) is done here; a no-op otherwise.
    const sn = await ctx.snapshotter();
    const unpacked = await unpackImage({
      store: ctx.content,
      snapshotter: sn,
      manifest: { layers: result.layers },
      config: result.imageConfig,
      onProgress: (e) => {
        if (e.status === 'unpacked') progress?.update(e.digest, 'Pull complete');
      },
    });
    progress?.done();
    if (!quiet) ctx.io.out(`unpacked to snapshot ${unpacked.chainId ?? '(no layers)'} (${sn.driver})\n`);
  }
  ctx.io.out(`Digest: ${result.target.digest}\n`);
  ctx.io.out(`${result.name}\n`);
  return 0;
}
