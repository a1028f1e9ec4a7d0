// Human output: aligned tables, sizes and ages the way ctr and docker print them.

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('   ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

export function humanSize(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(v >= 100 ? 0 : 1)} ${units[u]}`;
}

export function age(d: Date, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - d.getTime()) / 1000));
  if (s < 60) return `${s} seconds`;
  if (s < 3600) return `${Math.round(s / 60)} minutes`;
  if (s < 86400) return `${Math.round(s / 3600)} hours`;
  return `${Math.round(s / 86400)} days`;
}

export function labelsString(l: Record<string, string>): string {
  const e = Object.entries(l);
  return e.length ? e.map(([k, v]) => `${k}=${v}`).join(',') : '-';
}

/** The mount(8) command lines that mount `mounts` on `target`, as ctr prints them. */
export function mountCommands(mounts: { type: string; source: string; options: string[] }[], target: string): string {
  return mounts
    .map((m) => `mount -t ${m.type} ${m.source} ${target}${m.options.length ? ` -o ${m.options.join(',')}` : ''}\n`)
    .join('');
}

export function json(v: unknown): string {
  return JSON.stringify(v, null, 2) + '\n';
}

/**
 * What an `ls` verb prints: one key a line (--quiet), the objects as JSON
 * (--json), else a table of `header` with a row of `cells` each.
 */
export function listing<T>(
  items: T[],
  mode: { quiet: boolean; json: boolean },
  key: (t: T) => string,
  header: string[],
  cells: (t: T) => string[],
): string {
  if (mode.quiet) return items.map((t) => key(t) + '\n').join('');
  if (mode.json) return json(items);
  return table(header, items.map(cells));
}
