import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from '../command.js';
import { bool, str } from '../args.js';
import { BerthError } from '../../../common/errors.js';
import { defaultSpec } from '../../../runtime/index.js';

export const spec: Command = {
  name: 'spec',
  summary: 'write a default config.json to the bundle directory',
  usage: 'spec [--bundle DIR] [--rootless]',
  flags: { bundle: { kind: 'string', alias: 'b' }, rootless: { kind: 'bool' } },
  run(_ctx, { flags }) {
    const dir = str(flags, 'bundle') ?? process.cwd();
    const file = join(dir, 'config.json');
    if (existsSync(file))
      throw new BerthError('berth-runc', 'already-exists', 'File config.json exists. Remove it first');
    writeFileSync(file, JSON.stringify(defaultSpec({ rootless: bool(flags, 'rootless') }), null, '\t'), {
      mode: 0o666,
    });
    return 0;
  },
};
