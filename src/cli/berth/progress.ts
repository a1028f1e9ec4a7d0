// docker's jsonmessage display: the stream of {status, id, progress...}
// objects from pull, push, load and import. On a terminal each layer keeps
// its own line, redrawn in place with a progress bar; otherwise progress
// updates are dropped and every other message is a plain line.

import { jsonLines } from './client.js';
import { CliError } from './errors.js';
import { humanSize } from './units.js';

export interface JSONMessage {
  status?: string;
  id?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number; start?: number; units?: string; hidecounts?: boolean };
  stream?: string;
  error?: string;
  errorDetail?: { message?: string; code?: number };
  aux?: unknown;
  from?: string;
}

function goDuration(sec: number): string {
  if (sec <= 0) return '0s';
  const h = Math.floor(sec / 3600);
  const m = Math.floor((sec % 3600) / 60);
  const s = sec % 60;
  return (h ? `${h}h` : '') + (h || m ? `${m}m` : '') + `${s}s`;
}

/** JSONProgress.String(): "[====>    ]  1.2MB/4.5MB 3s". */
export function progressString(p: NonNullable<JSONMessage['progressDetail']>, width: number, now = Date.now()): string {
  const current = p.current ?? 0;
  const total = p.total ?? 0;
  if (current <= 0 && total <= 0) return '';
  if (total <= 0) return p.units ? `${current} ${p.units}` : humanSize(current).padStart(8);
  let pct = Math.floor(Math.floor((current / total) * 100) / 2);
  if (pct > 50) pct = 50;
  let bar = '';
  if (width > 110) bar = `[${'='.repeat(pct)}>${' '.repeat(Math.max(0, 50 - pct))}] `;
  let numbers = '';
  if (!p.hidecounts) {
    if (!p.units) {
      numbers =
        current > total ? humanSize(current).padStart(8) : `${humanSize(current).padStart(8)}/${humanSize(total)}`;
    } else numbers = current > total ? `${current} ${p.units}` : `${current}/${total} ${p.units}`;
  }
  let left = '';
  if (current > 0 && p.start && pct < 50 && width > 50) {
    const fromStart = now / 1000 - p.start;
    left = ' ' + goDuration(Math.floor(((total - current) * fromStart) / current));
  }
  return bar + numbers + left;
}

/** Show a message stream; the first error message ends it as a CliError. */
export async function displayStream(
  body: NodeJS.ReadableStream,
  out: NodeJS.WriteStream | { write(s: string): unknown; isTTY?: boolean; columns?: number },
  onAux?: (aux: unknown) => void,
): Promise<void> {
  const tty = Boolean((out as NodeJS.WriteStream).isTTY);
  const width = (out as NodeJS.WriteStream).columns ?? 80;
  const ids = new Map<string, number>();
  for await (const m of jsonLines<JSONMessage>(body)) {
    if (m.aux !== undefined) {
      onAux?.(m.aux);
      continue;
    }
    const hasProgress = m.progressDetail !== undefined;
    let diff = 0;
    if (m.id && (hasProgress || m.progress)) {
      let line = ids.get(m.id);
      if (line === undefined) {
        line = ids.size;
        ids.set(m.id, line);
        if (tty) out.write('\n');
      }
      diff = ids.size - line;
      if (tty) out.write(`\x1b[${diff}A`);
    } else ids.clear();
    if (m.error || m.errorDetail) throw new CliError(m.errorDetail?.message ?? m.error ?? '', 1);
    let endl = '';
    const pstr = hasProgress ? progressString(m.progressDetail!, width) : '';
    if (tty && !m.stream && hasProgress) {
      out.write('\x1b[2K\r');
      endl = '\r';
    } else if (hasProgress && pstr !== '') {
      continue;
    }
    let s = '';
    if (m.id) s += `${m.id}: `;
    if (m.from) s += `(from ${m.from}) `;
    if (hasProgress && tty) s += `${m.status ?? ''} ${pstr}${endl}`;
    else if (m.progress) s += `${m.status ?? ''} ${m.progress}${endl}`;
    else if (m.stream) s += `${m.stream}${endl}`;
    else s += `${m.status ?? ''}${endl}\n`;
    out.write(s);
    if (tty && diff > 0) out.write(`\x1b[${diff}B`);
  }
}
