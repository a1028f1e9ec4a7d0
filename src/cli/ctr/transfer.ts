// What berth-ctr's images pull and push do the same daemonless or through an
// engine: their flags, the registry options and progress those give, and the
// whole of push (a local image, a content store to read it from, a registry).
// Store-free, as the registry client it calls.

import { parseDockerRef, pushImage, type ContentStore, type Descriptor } from '../../image/storeless.js';
import { bool, need, parseArgs, str, usageError, type Parsed } from './args.js';
import { Progress } from './progress.js';
import { concurrencyFlag, credentialsFlag, hostFlags, registryOptions } from './registry.js';
import type { Output } from './verbs.js';

/** The flags pull and push share: the registry's, --user, --concurrency and --quiet. */
const TRANSFER_FLAGS = {
  concurrency: { kind: 'string' },
  user: { kind: 'string', alias: 'u' },
  quiet: { kind: 'bool', alias: 'q' },
  ...hostFlags,
} as const;

/** Registry options for `host` from the host flags and --user. */
function optionsFor(p: Parsed, host: string): ReturnType<typeof registryOptions> {
  const opts = registryOptions(p, host);
  const credentials = credentialsFlag(p);
  if (credentials) opts.credentials = credentials;
  return opts;
}

/** images pull's command line: what to pull, how, and the progress to show (none with --quiet). */
export function pullArgs(io: Output, argv: string[]) {
  const p = parseArgs(argv, {
    platform: { kind: 'string' },
    'no-unpack': { kind: 'bool' },
    ...TRANSFER_FLAGS,
  });
  need(p, 1, 'berth-ctr images pull [--platform P] [--plain-http] [--no-unpack] NAME');
  const ref = parseDockerRef(p.args[0]!);
  const quiet = bool(p.flags, 'quiet');
  return {
    name: p.args[0]!,
    ref,
    platform: str(p.flags, 'platform'),
    unpack: !bool(p.flags, 'no-unpack'),
    concurrency: concurrencyFlag(p),
    registryOptions: optionsFor(p, ref.domain),
    quiet,
    progress: quiet ? undefined : new Progress((s) => io.out(s), io.tty),
  };
}

/** What pull prints once done: the snapshot unpacked to (unless quiet), the digest and the name. */
export function pullDone(
  io: Output,
  a: { quiet: boolean; progress?: Progress },
  r: { name: string; digest: string; unpackedTo?: string },
): void {
  a.progress?.done();
  if (r.unpackedTo !== undefined && !a.quiet) io.out(`unpacked to snapshot ${r.unpackedTo}\n`);
  io.out(`Digest: ${r.digest}\n`);
  io.out(`${r.name}\n`);
}

/** The image push reads: its name, target and the content store that holds it. */
export interface PushSource {
  name: string;
  target: Descriptor;
  store: ContentStore;
}

/** images push, for a context in which `find` looks an image up by name. */
export function pushVerb<C extends { io: Output }>(find: (ctx: C, name: string) => Promise<PushSource>) {
  return async (ctx: C, argv: string[]): Promise<number> => {
    const p = parseArgs(argv, {
      'chunk-size': { kind: 'string' },
      ...TRANSFER_FLAGS,
    });
    need(p, 1, 'berth-ctr images push [--plain-http] NAME [REMOTE]');
    const local = await find(ctx, p.args[0]!);
    const remote = parseDockerRef(p.args[1] ?? local.name);
    let chunkSize: number | undefined;
    if (str(p.flags, 'chunk-size') !== undefined) {
      chunkSize = Number(str(p.flags, 'chunk-size'));
      if (!Number.isInteger(chunkSize) || chunkSize < 1)
        throw usageError('--chunk-size must be a positive number of bytes');
    }
    const progress = new Progress((s) => ctx.io.out(s), ctx.io.tty);
    const r = await pushImage(remote, {
      store: local.store,
      target: local.target,
      concurrency: concurrencyFlag(p),
      chunkSize,
      registryOptions: optionsFor(p, remote.domain),
      progress: bool(p.flags, 'quiet') ? undefined : (e) => progress.update(e.digest, e.status, e.current, e.total),
    });
    progress.done();
    ctx.io.out(`${r.name}: digest: ${r.digest}\n`);
    return 0;
  };
}
