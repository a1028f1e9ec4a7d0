import type { Command } from '../command.js';
import { requireId } from '../args.js';

export const pause: Command = {
  name: 'pause',
  summary: 'freeze every process of a container',
  usage: 'pause <container-id>',
  flags: {},
  async run(ctx, { args: rest }) {
    await ctx.runtime().pause(requireId(rest, 'pause'));
    return 0;
  },
};

export const resume: Command = {
  name: 'resume',
  summary: 'thaw a paused container',
  usage: 'resume <container-id>',
  flags: {},
  async run(ctx, { args: rest }) {
    await ctx.runtime().resume(requireId(rest, 'resume'));
    return 0;
  },
};
