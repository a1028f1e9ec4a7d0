// Docker-style per-layer progress: on a terminal, one line per layer redrawn
// in place ("3f4e5d6c7b8a: Downloading [=====>      ]  1.2MiB/4.5MiB");
// otherwise a plain line each time a layer changes status, so logs stay readable.

import { humanSize } from './format.js';

interface Row {
  id: string;
  status: string;
  current?: number;
  total?: number;
}

const BAR = 40;

export class Progress {
  private readonly rows: Row[] = [];
  private readonly byId = new Map<string, Row>();
  private drawn = 0;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly write: (s: string) => void,
    private readonly tty: boolean,
  ) {}

  update(id: string, status: string, current?: number, total?: number): void {
    const short = id.replace(/^sha(256|512):/, '').slice(0, 12);
    let row = this.byId.get(short);
    const changed = !row || row.status !== status;
    if (!row) {
      row = { id: short, status };
      this.rows.push(row);
      this.byId.set(short, row);
    }
    row.status = status;
    row.current = current;
    row.total = total;
    if (this.tty) this.schedule();
    else if (changed)
      this.write(
        `${short}: ${status}${total !== undefined && /complete|Pushed/.test(status) ? ` (${humanSize(total)})` : ''}\n`,
      );
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.draw();
    }, 100);
  }

  private line(r: Row): string {
    let s = `${r.id}: ${r.status}`;
    if (r.total && r.current !== undefined && r.current < r.total) {
      const filled = Math.floor((r.current / r.total) * BAR);
      const bar = '='.repeat(Math.max(0, filled - 1)) + (filled > 0 ? '>' : '') + ' '.repeat(BAR - filled);
      s += ` [${bar}] ${humanSize(r.current)}/${humanSize(r.total)}`;
    }
    return s;
  }

  private draw(): void {
    let out = this.drawn ? `\x1b[${this.drawn}A` : '';
    for (const r of this.rows) out += `\x1b[2K${this.line(r)}\n`;
    this.drawn = this.rows.length;
    this.write(out);
  }

  /** Final redraw (terminal) and stop. */
  done(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.tty && this.rows.length) this.draw();
  }
}
