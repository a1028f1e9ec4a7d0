import type { Command } from '../command.js';
import { bool, requireId } from '../args.js';

export const del: Command = {
  name: 'delete',
  summary: 'delete a container and everything it holds (--force: even if running)',
  usage: 'delete [--force] <container-id>',
  flags: { force: { kind: 'bool', alias: 'f' } },
  async run(ctx, { flags, args: rest }) {
    await ctx.runtime().delete(requireId(rest, 'delete'), bool(flags, 'force'));
    return 0;
  },
};
