import type { Command } from '../command.js';
import { bool, str } from '../args.js';
import { BerthError } from '../../../common/errors.js';

/** Go's text/tabwriter as runc uses it: minwidth 12, padding 3, spaces. */
export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows)
    r.forEach((c, i) => {
      widths[i] = Math.max(widths[i] ?? 0, c.length + 3, 12);
    });
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('')).join('\n') + '\n';
}

export const list: Command = {
  name: 'list',
  summary: 'list the containers under --root',
  usage: 'list [--format table|json] [--quiet]',
  flags: { format: { kind: 'string', alias: 'f' }, quiet: { kind: 'bool', alias: 'q' } },
  run(ctx, { flags }) {
    const states = ctx.runtime().list();
    if (bool(flags, 'quiet')) {
      ctx.out(states.map((s) => s.id + '\n').join(''));
      return 0;
    }
    const format = str(flags, 'format') ?? 'table';
    if (format === 'json') {
      ctx.out(JSON.stringify(states) + '\n');
      return 0;
    }
    if (format !== 'table') throw new BerthError('berth-runc', 'invalid-argument', `invalid format option: ${format}`);
    ctx.out(
      table([
        ['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'],
        ...states.map((s) => [s.id, String(s.pid), s.status, s.bundle, s.created, s.owner || 'root']),
      ]),
    );
    return 0;
  },
};
