import type { Command } from '../command.js';
import { bool, requireId } from '../args.js';

export const kill: Command = {
  name: 'kill',
  summary: 'send a signal (default SIGTERM) to the container process, or with --all to every process',
  usage: 'kill [--all] <container-id> [signal]',
  flags: { all: { kind: 'bool', alias: 'a' } },
  async run(ctx, { flags, args: rest }) {
    const id = requireId(rest, 'kill');
    await ctx.runtime().kill(id, rest[1] ?? 'SIGTERM', bool(flags, 'all'));
    return 0;
  },
};
