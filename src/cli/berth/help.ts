// Help and usage texts in docker's layout: "Usage:  berth ps [OPTIONS]",
// the short description, aliases, sub-commands, and the options table with
// pflag's column and word wrapping.

import type { Command } from './command.js';
import type { FlagSpec } from './flags.js';

export function useLine(path: string, c: Command): string {
  return c.use ? `${path} ${c.use}` : path;
}

function typeWord(f: FlagSpec): string {
  if (f.type === 'bool') return '';
  return (
    f.typeName ??
    (f.type === 'list' ? 'list' : f.type === 'duration' ? 'duration' : f.type === 'bytes' ? 'bytes' : f.type)
  );
}

/** pflag's wrapN: split at the last blank before `i`, or at an earlier newline; all of it when it fits within slop. */
function wrapN(i: number, slop: number, s: string): [string, string] {
  if (i + slop > s.length) return [s, ''];
  const head = s.slice(0, i);
  const w = Math.max(head.lastIndexOf(' '), head.lastIndexOf('\t'), head.lastIndexOf('\n'));
  if (w <= 0) return [s, ''];
  const nl = head.lastIndexOf('\n');
  if (nl > 0 && nl < w) return [s.slice(0, nl), s.slice(nl + 1)];
  return [s.slice(0, w), s.slice(w + 1)];
}

/** pflag's wrap: the usage text wrapped to `cols`, continuation lines indented by `indent`. */
function wrap(indent: number, cols: number, s: string): string {
  const width = cols - indent;
  const pad = '\n' + ' '.repeat(indent);
  let [line, rest] = wrapN(width, 5, s);
  let out = line.replace(/\n/g, pad);
  while (rest) {
    [line, rest] = wrapN(width, 5, rest);
    out += pad + line.replace(/\n/g, pad);
  }
  return out;
}

export function flagUsages(flags: FlagSpec[]): string {
  const rows = flags
    .filter((f) => !f.hidden)
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((f) => {
      let left = f.short ? `  -${f.short}, --${f.name}` : `      --${f.name}`;
      const t = typeWord(f);
      if (t) left += ` ${t}`;
      let usage = f.usage;
      const d = f.default;
      if (d !== undefined && d !== '' && d !== false)
        usage += f.type === 'string' ? ` (default "${d}")` : ` (default ${d})`;
      return { left, usage };
    });
  const maxlen = Math.max(0, ...rows.map((r) => r.left.length));
  // Observed docker 28 layout: usage at column maxlen+3, wrapped at 74 columns.
  return rows.map((r) => `${r.left.padEnd(maxlen)}   ${wrap(maxlen + 3, 74, r.usage)}`).join('\n');
}

export function commandHelp(path: string, c: Command, aliases: string[]): string {
  const parts: string[] = [`Usage:  ${c.sub ? `${path} COMMAND` : useLine(path, c)}`, c.long ?? c.short];
  if (aliases.length > 1) parts.push(`Aliases:\n  ${aliases.join(', ')}`);
  if (c.sub) {
    const subs = c.sub.filter((s) => s.run || s.sub).sort((a, b) => a.name.localeCompare(b.name));
    parts.push(`Commands:\n${subs.map((s) => `  ${s.name.padEnd(11)} ${s.short}`).join('\n')}`);
  }
  const flags = c.flags ?? [];
  if (flags.length) parts.push(`Options:\n${flagUsages(flags)}`);
  let text = parts.join('\n\n') + '\n';
  if (c.sub) text += `\nRun '${path} COMMAND --help' for more information on a command.\n`;
  return text;
}
