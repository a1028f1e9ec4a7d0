// berth-ctr: the daemonless command line over the image and snapshot
// libraries, working directly on a store under --root (ctr's counterpart,
// without the daemon). Each verb is argument handling plus library calls;
// errors print as "berth-ctr: <message>" with a non-zero exit status.

import { exitCodeOf, messageOf } from '../../common/errors.js';
import { parseArgs, usageError, bool, str } from './args.js';
import { Context, DEFAULT_ROOT, type Output } from './context.js';
import { imageVerbs, noSuchVerb } from './images.js';
import { contentVerbs, gc } from './content.js';
import { snapshotVerbs } from './snapshots.js';
import { leaseVerbs } from './leases.js';
import { loginCmd, logoutCmd, pushCmd } from './registry.js';
import { pullCmd } from './pull.js';

const VERSION = '0.1.0';

const USAGE = `berth-ctr: the Berth image and snapshot tool (daemonless)

USAGE:
   berth-ctr [--root DIR] COMMAND [ARGS...]

COMMANDS:
   images pull [--platform P] [--plain-http] [--no-unpack] NAME
   images push [--plain-http] NAME [REMOTE]
   images ls [-q] [--json]
   images rm NAME...
   images tag SOURCE TARGET...
   images inspect [--platform P] NAME
   images import [--base-name REPO] [--name NAME] FILE|DIR|-       OCI layout (dir or tar), docker save tar
   images import --rootfs [-c 'CMD ["/bin/sh"]']... FILE NAME       a root filesystem tarball, as docker import
   images export [--format oci|oci-dir|docker] [--platform P] OUT NAME...
   images unpack [--platform P] NAME
   content ls [-q] | get [-o FILE] DIGEST | rm DIGEST... | label DIGEST K=V|K... | ingests
   snapshots ls | prepare KEY [PARENT] | view KEY PARENT | mount TARGET KEY | commit NAME KEY | rm KEY... | usage [KEY]
   leases ls | create [--id ID] [--expires 24h|0] [--label K=V] | rm ID...
   login [-u USER] [-p PASSWORD | --password-stdin] SERVER
   logout SERVER
   gc [--dry-run] [-v]

GLOBAL OPTIONS:
   --root DIR          store directory (default: ${DEFAULT_ROOT}, or $BERTH_ROOT)
   --snapshotter NAME  overlayfs or native (default: overlayfs when it works)
   --version
`;

type Verb = (ctx: Context, argv: string[]) => Promise<number>;

function group(name: string, verbs: Record<string, Verb>, extra: Record<string, Verb> = {}): Verb {
  const all = { ...verbs, ...extra };
  return (ctx, argv) => {
    const [verb, ...rest] = argv;
    const f = verb === undefined ? undefined : all[verb];
    if (!f) throw noSuchVerb(name, verb, Object.keys(all));
    return f(ctx, rest);
  };
}

const commands: Record<string, Verb> = {
  images: group('images', imageVerbs, { pull: pullCmd, push: pushCmd }),
  image: group('images', imageVerbs, { pull: pullCmd, push: pushCmd }),
  i: group('images', imageVerbs, { pull: pullCmd, push: pushCmd }),
  content: group('content', contentVerbs),
  snapshots: group('snapshots', snapshotVerbs),
  snapshot: group('snapshots', snapshotVerbs),
  leases: group('leases', leaseVerbs),
  pull: pullCmd,
  push: pushCmd,
  login: loginCmd,
  logout: logoutCmd,
  gc,
};

export async function main(argv: string[], io: Output): Promise<number> {
  let ctx: Context | undefined;
  try {
    const g = parseArgs(
      argv,
      {
        root: { kind: 'string' },
        snapshotter: { kind: 'string' },
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
    const f = commands[cmd];
    if (!f) throw usageError(`unknown command "${cmd}" (see berth-ctr --help)`);
    const driver = str(g.flags, 'snapshotter');
    if (driver !== undefined && driver !== 'overlayfs' && driver !== 'native')
      throw usageError('--snapshotter must be overlayfs or native');
    ctx = new Context(str(g.flags, 'root') ?? process.env.BERTH_ROOT ?? DEFAULT_ROOT, io, driver);
    return await f(ctx, rest);
  } catch (e) {
    io.err(`berth-ctr: ${messageOf(e)}\n`);
    return exitCodeOf(e);
  } finally {
    ctx?.close();
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
