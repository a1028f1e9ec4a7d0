// berth-ctr without an engine: every verb works on the Storage of one --root
// directly (the store is opened on first use, closed when the command ends).
// Loaded only when no --address is given, so a client of an engine never
// loads this store's modules (SQLite among them).

import { gc, contentVerbs } from './content.js';
import { Context } from './context.js';
import { imageVerbs } from './images.js';
import { leaseVerbs } from './leases.js';
import { pullCmd, pushCmd } from './pull.js';
import { loginCmd, logoutCmd } from './registry.js';
import { snapshotVerbs } from './snapshots.js';
import { group, type Output, type Verb } from './verbs.js';
import { usageError } from './args.js';

const images = group<Context>('images', imageVerbs, { pull: pullCmd, push: pushCmd });
const snapshots = group<Context>('snapshots', snapshotVerbs);

const commands: Record<string, Verb<Context>> = {
  images,
  image: images,
  i: images,
  content: group('content', contentVerbs),
  snapshots,
  snapshot: snapshots,
  leases: group('leases', leaseVerbs),
  pull: pullCmd,
  push: pushCmd,
  login: loginCmd,
  logout: logoutCmd,
  gc,
};

/** The engine-only commands, refused with a word on why rather than "unknown command". */
const ENGINE_ONLY = new Set(['namespaces', 'namespace', 'ns']);

export async function runLocal(
  opts: { root: string; io: Output; snapshotter?: 'overlayfs' | 'native' },
  cmd: string,
  argv: string[],
): Promise<number> {
  const f = commands[cmd];
  if (!f) {
    if (ENGINE_ONLY.has(cmd))
      throw usageError(`"${cmd}" needs an engine (--address or BERTH_ADDRESS): a daemonless store has no namespaces`);
    throw usageError(`unknown command "${cmd}" (see berth-ctr --help)`);
  }
  const ctx = new Context(opts.root, opts.io, opts.snapshotter);
  try {
    return await f(ctx, argv);
  } finally {
    ctx.close();
  }
}
