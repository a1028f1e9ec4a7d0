// berth-ctr images pull: flags, one call to the storage layer's pull (lease,
// fetch, pipelined unpack, image record), and Docker-style progress.

import { parseDockerRef } from '../../image/storeless.js';
import { pull } from '../../storage/index.js';
import { bool, need, parseArgs, str } from './args.js';
import type { Context } from './context.js';
import { platformFlag } from './describe.js';
import { Progress } from './progress.js';
import { concurrencyFlag, credentialsFlag, hostFlags, registryOptions } from './registry.js';

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
  const quiet = bool(p.flags, 'quiet');
  const progress = quiet ? undefined : new Progress((s) => ctx.io.out(s), ctx.io.tty);

  const result = await pull(
    ctx.storage,
    ref,
    {
      platform: platformFlag(str(p.flags, 'platform')),
      // An explicit --platform must match even a single-platform image, as docker pull --platform insists.
      requirePlatform: str(p.flags, 'platform') !== undefined,
      unpack: !bool(p.flags, 'no-unpack'),
      concurrency: concurrencyFlag(p),
      registryOptions: opts,
    },
    (e) => progress?.update(e.digest, e.status, e.current, e.total),
  );
  progress?.done();
  if (result.snapshotter && !quiet)
    ctx.io.out(`unpacked to snapshot ${result.chainId ?? '(no layers)'} (${result.snapshotter})\n`);
  ctx.io.out(`Digest: ${result.target.digest}\n`);
  ctx.io.out(`${result.name}\n`);
  return 0;
}
