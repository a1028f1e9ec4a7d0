// berth-ctr --address SOCKET: every command through the engine's containerd
// API (src/client), as containerd's ctr does; the local store is never
// opened. A command that API does not carry fails saying so (./context.ts'
// notServed), and an engine that cannot be reached is an error naming the
// address, never a reason to fall back to a daemonless store.

import { BerthError, messageOf } from '../../../common/errors.js';
import { ContainerdClient, isUnreachable } from '../../../client/index.js';
import { parseArgs, usageError } from '../args.js';
import { loginCmd, logoutCmd } from '../registry.js';
import { clientVersion } from '../version.js';
import { group, type Output, type Verb } from '../verbs.js';
import { remoteContentVerbs, remoteGc } from './content.js';
import type { RemoteContext } from './context.js';
import { remoteImageVerbs } from './images.js';
import { remoteLeaseVerbs } from './leases.js';
import { namespaceVerbs } from './namespaces.js';
import { remoteSnapshotVerbs } from './snapshots.js';

async function version(ctx: RemoteContext, argv: string[]): Promise<number> {
  parseArgs(argv, {});
  // The client's block first, as ctr prints it even when the server then fails.
  ctx.io.out(clientVersion());
  const v = await ctx.client.version.version();
  const { uuid } = await ctx.client.introspection.server();
  ctx.io.out(`\nServer:\n  Version:  ${v.version}\n  Revision: ${v.revision}\n  UUID: ${uuid}\n`);
  return 0;
}

const images = group<RemoteContext>('images', remoteImageVerbs);
const snapshots = group<RemoteContext>('snapshots', remoteSnapshotVerbs);
const namespaces = group<RemoteContext>('namespaces', namespaceVerbs);

const commands: Record<string, Verb<RemoteContext>> = {
  version,
  images,
  image: images,
  i: images,
  content: group('content', remoteContentVerbs),
  snapshots,
  snapshot: snapshots,
  leases: group('leases', remoteLeaseVerbs),
  namespaces,
  namespace: namespaces,
  ns: namespaces,
  pull: remoteImageVerbs.pull!,
  push: remoteImageVerbs.push!,
  // Registry credentials are the client's own files, as with ctr: no engine involved.
  login: loginCmd,
  logout: logoutCmd,
  gc: remoteGc,
};

export async function runRemote(
  opts: { address: string; namespace: string; snapshotter: string; io: Output },
  cmd: string,
  argv: string[],
): Promise<number> {
  const f = commands[cmd];
  if (!f) throw usageError(`unknown command "${cmd}" (see berth-ctr --help)`);
  const client = new ContainerdClient(opts.address, { namespace: opts.namespace, layer: 'berth-ctr' });
  try {
    return await f({ client, address: opts.address, snapshotter: opts.snapshotter, io: opts.io }, argv);
  } catch (e) {
    if (isUnreachable(e)) {
      // grpc-js words it "No connection established. Last error: Error: connect ENOENT /x.sock. Resolution note: ".
      const why = /Last error: (?:Error: )?(.*?)\.? Resolution note/.exec(messageOf(e))?.[1] ?? messageOf(e);
      throw new BerthError(
        'berth-ctr',
        'unavailable',
        `no engine answers at ${opts.address} (${why}); without --address and BERTH_ADDRESS, berth-ctr works daemonless on --root`,
        { cause: e },
      );
    }
    throw e;
  } finally {
    client.close();
  }
}
