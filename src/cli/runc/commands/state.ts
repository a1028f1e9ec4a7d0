import type { Command } from '../command.js';
import { requireId } from '../args.js';

export const state: Command = {
  name: 'state',
  summary: 'print the state of a container as JSON',
  usage: 'state <container-id>',
  flags: {},
  run(ctx, { args: rest }) {
    ctx.out(JSON.stringify(ctx.runtime().state(requireId(rest, 'state')), null, 2) + '\n');
    return 0;
  },
};
