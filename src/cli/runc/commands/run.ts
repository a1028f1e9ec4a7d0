import type { Command } from '../command.js';
import { bool, int, requireId, str } from '../args.js';
import { createFlags } from './create.js';

export const run: Command = {
  name: 'run',
  summary: 'create and start a container, and by default wait for it',
  usage:
    'run [--bundle DIR] [--detach] [--console-socket PATH] [--pid-file PATH] [--no-pivot] [--no-new-keyring] [--preserve-fds N] <container-id>',
  flags: { ...createFlags, detach: { kind: 'bool', alias: 'd' }, keep: { kind: 'bool' } },
  async run(ctx, { flags, args: rest }) {
    const id = requireId(rest, 'run');
    return await ctx.runtime().run(id, {
      bundle: str(flags, 'bundle') ?? process.cwd(),
      consoleSocket: str(flags, 'console-socket'),
      pidFile: str(flags, 'pid-file'),
      noPivot: bool(flags, 'no-pivot'),
      noNewKeyring: bool(flags, 'no-new-keyring'),
      preserveFds: int(flags, 'preserve-fds', 'run') ?? 0,
      detach: bool(flags, 'detach'),
    });
  },
};
