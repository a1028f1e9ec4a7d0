import type { Command } from '../command.js';
import { requireId } from '../args.js';

export const start: Command = {
  name: 'start',
  summary: 'start a created container',
  usage: 'start <container-id>',
  flags: {},
  async run(ctx, { args: rest }) {
    await ctx.runtime().start(requireId(rest, 'start'));
    return 0;
  },
};
