// berth-ctr: ctr's counterpart. Daemonless by default, on a store under
// --root (./local.ts); with --address (or BERTH_ADDRESS) a client of an
// engine's containerd API (./remote/), the store left alone. Each verb is
// argument handling plus library or API calls; errors print as
// "berth-ctr: <message>" with a non-zero exit status. The two sides are
// loaded lazily: a client never loads the store's modules, and a daemonless
// command never loads gRPC.

import { exitCodeOf, messageOf } from '../../common/errors.js';
import { parseArgs, usageError, bool, str } from './args.js';
import type { Output } from './verbs.js';
import { VERSION, clientVersion } from './version.js';

const DEFAULT_ROOT = '/var/lib/berth';

const USAGE = `berth-ctr: the Berth image and snapshot tool

USAGE:
   berth-ctr [--root DIR] COMMAND [ARGS...]                       daemonless: the store under --root, directly
   berth-ctr --address SOCKET [--namespace NS] COMMAND [ARGS...]  a client of berth-engine (or containerd)

Without --address (and without $BERTH_ADDRESS) berth-ctr needs no daemon: it
opens the store under --root itself (do not point it at a root an engine
owns). With --address it runs every command through the engine's
containerd API instead; a command that API cannot serve fails with an error
saying so, never falling back to a local store.

COMMANDS:
   version                                                          client and server versions
   images pull [--platform P] [--plain-http] [--no-unpack] NAME
   images push [--plain-http] NAME [REMOTE]
   images ls [-q] [--json]
   images rm [--sync] NAME...
   images tag SOURCE TARGET...
   images inspect [--platform P] NAME
   images import [--base-name REPO] [--name NAME] FILE|DIR|-       OCI layout (dir or tar), docker save tar (daemonless)
   images import --rootfs [-c 'CMD ["/bin/sh"]']... FILE NAME       a root filesystem tarball, as docker import (daemonless)
   images export [--format oci|oci-dir|docker] [--platform P] OUT NAME...   (daemonless)
   images unpack [--platform P] NAME
   content ls [-q] | get [-o FILE] DIGEST | rm DIGEST... | label DIGEST K=V|K... | ingests
   snapshots ls | prepare KEY [PARENT] | view KEY PARENT | mount TARGET KEY | commit NAME KEY | rm KEY... | usage [KEY]
   leases ls | create [--id ID] [--expires 24h|0] [--label K=V] | rm ID...
   namespaces ls [-q] | create NAME [K=V...] | label NAME [K=V...] | rm NAME...   (with --address)
   login [-u USER] [-p PASSWORD | --password-stdin] SERVER
   logout SERVER
   gc [--dry-run] [-v]                                              (daemonless; an engine collects by itself)

--plain-http talks plain HTTP to the registry straight away, as ctr's flag
does; -k/--skip-verify is HTTPS without certificate verification.

GLOBAL OPTIONS:
   --root DIR            store directory (default: ${DEFAULT_ROOT}, or $BERTH_ROOT); daemonless only
   --snapshotter NAME    overlayfs or native (default: overlayfs when it works; with --address: overlayfs)
   -a, --address SOCKET  the engine's socket (or $BERTH_ADDRESS): run the command through its API
   -n, --namespace NS    the engine namespace (default: $CONTAINERD_NAMESPACE, else "default"); with --address only
   -v, --version
`;

export async function main(argv: string[], io: Output): Promise<number> {
  try {
    const g = parseArgs(
      argv,
      {
        root: { kind: 'string' },
        snapshotter: { kind: 'string' },
        address: { kind: 'string', alias: 'a' },
        namespace: { kind: 'string', alias: 'n' },
        help: { kind: 'bool', alias: 'h' },
        version: { kind: 'bool', alias: 'v' },
      },
      true,
    );
    if (bool(g.flags, 'version')) {
      io.out(`berth-ctr version ${VERSION}\n`);
      return 0;
    }
    const [cmd, ...rest] = g.args;
    if (bool(g.flags, 'help') || cmd === undefined || cmd === 'help') {
      io.out(USAGE);
      return cmd === undefined && !bool(g.flags, 'help') ? 2 : 0;
    }
    const address = str(g.flags, 'address') ?? (process.env.BERTH_ADDRESS || undefined);
    const driver = str(g.flags, 'snapshotter');
    if (address !== undefined) {
      if (address === '') throw usageError('--address must name a socket');
      if (str(g.flags, 'root') !== undefined)
        throw usageError('--root and --address exclude each other: with --address the engine owns its store');
      const { runRemote } = await import('./remote/commands.js');
      return await runRemote(
        {
          address,
          namespace: str(g.flags, 'namespace') ?? (process.env.CONTAINERD_NAMESPACE || 'default'),
          snapshotter: driver ?? 'overlayfs',
          io,
        },
        cmd,
        rest,
      );
    }
    if (cmd === 'version') {
      parseArgs(rest, {});
      io.out(clientVersion());
      io.out('\nServer: none (daemonless: the store under --root; give --address or BERTH_ADDRESS for an engine)\n');
      return 0;
    }
    if (str(g.flags, 'namespace') !== undefined)
      throw usageError('--namespace needs --address: a daemonless store has no namespaces');
    if (driver !== undefined && driver !== 'overlayfs' && driver !== 'native')
      throw usageError('--snapshotter must be overlayfs or native');
    const { runLocal } = await import('./local.js');
    return await runLocal(
      { root: str(g.flags, 'root') ?? process.env.BERTH_ROOT ?? DEFAULT_ROOT, io, snapshotter: driver },
      cmd,
      rest,
    );
  } catch (e) {
    io.err(`berth-ctr: ${messageOf(e)}\n`);
    return exitCodeOf(e);
  }
}

// Run when this file is the program (the bundle, or tsx), not when imported by tests.
const self = process.argv[1] ?? '';
if (/berth-ctr(\.m?js)?$|cli\/ctr\/main\.ts$/.test(self)) {
  const io: Output = {
    out: (s) => process.stdout.write(s),
    err: (s) => process.stderr.write(s),
    tty: process.stdout.isTTY === true,
  };
  main(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`berth-ctr: ${messageOf(e)}\n`);
      process.exitCode = 1;
    },
  );
}
