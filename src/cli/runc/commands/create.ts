import type { Command } from '../command.js';
import { bool, int, requireId, str } from '../args.js';

export const createFlags = {
  bundle: { kind: 'string', alias: 'b' },
  'console-socket': { kind: 'string' },
  'pid-file': { kind: 'string' },
  'no-pivot': { kind: 'bool' },
  'no-new-keyring': { kind: 'bool' },
  'preserve-fds': { kind: 'string' },
} as const;

export const create: Command = {
  name: 'create',
  summary: 'create a container',
  usage:
    'create [--bundle DIR] [--console-socket PATH] [--pid-file PATH] [--no-pivot] [--no-new-keyring] [--preserve-fds N] <container-id>',
  flags: createFlags,
  async run(ctx, { flags, args: rest }) {
    const id = requireId(rest, 'create');
    await ctx.runtime().create(id, {
      bundle: str(flags, 'bundle') ?? process.cwd(),
      consoleSocket: str(flags, 'console-socket'),
      pidFile: str(flags, 'pid-file'),
      noPivot: bool(flags, 'no-pivot'),
      noNewKeyring: bool(flags, 'no-new-keyring'),
      preserveFds: int(flags, 'preserve-fds', 'create') ?? 0,
    });
    return 0;
  },
};
