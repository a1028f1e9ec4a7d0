import { spawnSync } from 'node:child_process';
import type { Command } from '../command.js';
import { requireId, str } from '../args.js';
import { BerthError } from '../../../common/errors.js';

export const ps: Command = {
  name: 'ps',
  summary: 'list the processes of a container (ps(1) output, or --format json for the pids)',
  usage: 'ps [--format table|json] <container-id> [ps options]',
  flags: { format: { kind: 'string', alias: 'f' } },
  run(ctx, { flags, args: rest }) {
    const id = requireId(rest, 'ps');
    const pids = ctx.runtime().ps(id);
    const format = str(flags, 'format') ?? 'table';
    if (format === 'json') {
      ctx.out(JSON.stringify(pids) + '\n');
      return 0;
    }
    if (format !== 'table') throw new BerthError('berth-runc', 'invalid-argument', `invalid format option: ${format}`);
    const psArgs = rest.length > 1 ? rest.slice(1) : ['-ef'];
    const r = spawnSync('ps', psArgs, { encoding: 'utf8' });
    if (r.status !== 0) throw new BerthError('berth-runc', 'internal', `ps ${psArgs.join(' ')}: ${r.stderr.trim()}`);
    const lines = r.stdout.split('\n');
    const header = lines[0] ?? '';
    const pidCol = header.trim().split(/\s+/).indexOf('PID');
    if (pidCol < 0)
      throw new BerthError('berth-runc', 'invalid-argument', `ps ${psArgs.join(' ')}: output has no PID column`);
    const wanted = new Set(pids);
    ctx.out(
      [header, ...lines.slice(1).filter((l) => l && wanted.has(Number(l.trim().split(/\s+/)[pidCol])))].join('\n') +
        '\n',
    );
    return 0;
  },
};
