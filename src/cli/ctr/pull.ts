// berth-ctr images pull: flags (./transfer.ts), one call to the storage
// layer's pull (lease, fetch, pipelined unpack, image record), and
// Docker-style progress.

import { pull } from '../../storage/index.js';
import type { Context } from './context.js';
import { platformFlag } from './describe.js';
import { pullArgs, pullDone, pushVerb } from './transfer.js';

export async function pullCmd(ctx: Context, argv: string[]): Promise<number> {
  const a = pullArgs(ctx.io, argv);
  const result = await pull(
    ctx.storage,
    a.ref,
    {
      platform: platformFlag(a.platform),
      // An explicit --platform must match even a single-platform image, as docker pull --platform insists.
      requirePlatform: a.platform !== undefined,
      unpack: a.unpack,
      concurrency: a.concurrency,
      registryOptions: a.registryOptions,
    },
    (e) => a.progress?.update(e.digest, e.status, e.current, e.total),
  );
  pullDone(ctx.io, a, {
    name: result.name,
    digest: result.target.digest,
    unpackedTo: result.snapshotter ? `${result.chainId ?? '(no layers)'} (${result.snapshotter})` : undefined,
  });
  return 0;
}

export const pushCmd = pushVerb<Context>(async (ctx, name) => {
  const image = ctx.storage.images.get(name);
  return { name: image.name, target: image.target, store: ctx.storage.content };
});
