import type { Command } from '../command.js';
import { featuresDocument } from '../../../runtime/index.js';
import { VERSION } from '../version.js';

export const features: Command = {
  name: 'features',
  summary: 'print the OCI features document: what this runtime supports',
  usage: 'features',
  flags: {},
  run(ctx) {
    ctx.out(JSON.stringify(featuresDocument({ version: VERSION }), null, '    ') + '\n');
    return 0;
  },
};
