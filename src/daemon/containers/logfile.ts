// The json-file log driver: one JSON object per line of output
// ({"log":"...\n","stream":"stdout","time":"<RFC 3339, nanoseconds>"}), the
// format dockerd writes and `docker logs` reads, so a log written by berthd
// reads the same everywhere. Lines longer than 16 KiB are cut into pieces as
// dockerd cuts them. Writes are appended in order through one file handle;
// followers (`logs -f`) get each entry after it is on disk, with its offset,
// so a reader that read the file up to an offset misses nothing and sees
// nothing twice.

import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

/** 1 stdout, 2 stderr: Docker's stream numbers. */
export type StreamNo = 1 | 2;

const MAX_LINE = 16 * 1024;

export interface LogEntry {
  log: string;
  stream: 'stdout' | 'stderr';
  time: string;
}

/** RFC 3339 with nanoseconds, as Go's time.RFC3339Nano prints it (trailing zeros kept at 9 digits). */
export function nanoTime(): string {
  const ns = process.hrtime.bigint() % 1_000_000n;
  const iso = new Date().toISOString(); // 2024-01-01T00:00:00.123Z
  return `${iso.slice(0, 23)}${ns.toString().padStart(6, '0')}Z`;
}

export interface Rotation {
  /** Bytes per file before it is rotated; 0 for never. */
  maxSize: number;
  /** Files kept, the current one included (dockerd's max-file). */
  maxFile: number;
}

/** berthd rotates by default (the "rotation on by default"), with the `local` driver's sizes. */
export const DEFAULT_ROTATION: Rotation = { maxSize: 20 * 1024 * 1024, maxFile: 5 };

/** LogConfig.Config of the json-file driver: max-size ("10m", "512k", "1g", bytes), max-file; other known opts pass. */
export function parseLogOpts(opts: Record<string, string>): Rotation {
  const r = { ...DEFAULT_ROTATION };
  for (const [k, v] of Object.entries(opts)) {
    if (k === 'max-size') {
      const m = /^(\d+)([kmg]?)b?$/i.exec(v.trim());
      if (!m) throw new Error(`invalid max-size "${v}" for the json-file log driver`);
      r.maxSize =
        Number(m[1]) * ({ '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as Record<string, number>)[m[2]!.toLowerCase()]!;
    } else if (k === 'max-file') {
      if (!/^\d+$/.test(v) || Number(v) < 1)
        throw new Error(`invalid max-file "${v}" for the json-file log driver (a number of at least 1)`);
      r.maxFile = Number(v);
    } else if (
      !['compress', 'labels', 'labels-regex', 'env', 'env-regex', 'tag', 'mode', 'max-buffer-size'].includes(k)
    ) {
      throw new Error(`unknown log opt '${k}' for json-file log driver`);
    }
  }
  return r;
}

/** The files of a log, oldest first: <path>.N ... <path>.1, <path>. */
export function logFiles(path: string, maxFile: number): string[] {
  const out: string[] = [];
  for (let i = maxFile - 1; i >= 1; i--) out.push(`${path}.${i}`);
  out.push(path);
  return out;
}

export class JsonLog {
  private fh: Promise<FileHandle>;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly partial = new Map<StreamNo, Buffer>();
  private written = 0;
  private readonly followers = new Set<(e: LogEntry, offset: number) => void>();

  constructor(
    readonly path: string,
    private readonly rotation: Rotation = DEFAULT_ROTATION,
  ) {
    this.fh = open(path, 'a', 0o640);
    this.chain = this.fh.then(async (f) => (this.written = (await f.stat()).size));
  }

  write(stream: StreamNo, data: Buffer): void {
    let buf = this.partial.has(stream) ? Buffer.concat([this.partial.get(stream)!, data]) : data;
    this.partial.delete(stream);
    for (;;) {
      const nl = buf.indexOf(10);
      if (nl < 0 || nl >= MAX_LINE) {
        if (buf.length < MAX_LINE) break;
        this.append(stream, buf.subarray(0, MAX_LINE));
        buf = buf.subarray(MAX_LINE);
        continue;
      }
      this.append(stream, buf.subarray(0, nl + 1));
      buf = buf.subarray(nl + 1);
    }
    if (buf.length) this.partial.set(stream, Buffer.from(buf));
  }

  /** The stream ended: what is left of its last line is an entry of its own. */
  flush(stream: StreamNo): void {
    const rest = this.partial.get(stream);
    this.partial.delete(stream);
    if (rest?.length) this.append(stream, rest);
  }

  private append(stream: StreamNo, line: Buffer): void {
    const e: LogEntry = { log: line.toString('utf8'), stream: stream === 1 ? 'stdout' : 'stderr', time: nanoTime() };
    const bytes = Buffer.from(JSON.stringify(e) + '\n');
    this.chain = this.chain.then(async () => {
      if (this.rotation.maxSize > 0 && this.written > 0 && this.written + bytes.length > this.rotation.maxSize)
        await this.rotate();
      const f = await this.fh;
      await f.write(bytes);
      const offset = this.written;
      this.written += bytes.length;
      for (const fn of this.followers) fn(e, offset);
    });
  }

  /** <path> → <path>.1 → ... → <path>.(max-file - 1), the oldest dropped; a new <path>. */
  private async rotate(): Promise<void> {
    await (await this.fh).close();
    const n = this.rotation.maxFile;
    await rm(n > 1 ? `${this.path}.${n - 1}` : this.path, { force: true });
    for (let i = n - 2; i >= 1; i--) await rename(`${this.path}.${i}`, `${this.path}.${i + 1}`).catch(() => undefined);
    if (n > 1) await rename(this.path, `${this.path}.1`);
    this.fh = open(this.path, 'a', 0o640);
    this.written = 0;
  }

  /** Bytes on disk now, and a subscription to what comes after. */
  async follow(fn: (e: LogEntry, offset: number) => void): Promise<{ offset: number; stop: () => void }> {
    await this.chain;
    this.followers.add(fn);
    return { offset: this.written, stop: () => this.followers.delete(fn) };
  }

  /** Resolves once everything written so far is on disk (and with followers). */
  async drain(): Promise<void> {
    await this.chain.catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.chain.catch(() => undefined);
    this.followers.clear();
    await (await this.fh).close();
  }
}

/** Entries of a json-file log, up to `end` bytes (all when undefined). Corrupt lines (a torn last write) are skipped. */
export async function* readEntries(path: string, end?: number): AsyncGenerator<LogEntry> {
  if (end === 0) return;
  const rs = createReadStream(path, end === undefined ? {} : { end: end - 1 });
  rs.on('error', () => undefined);
  const rl = createInterface({ input: rs, crlfDelay: Infinity });
  try {
    for await (const line of rl) {
      if (!line) continue;
      try {
        yield JSON.parse(line) as LogEntry;
      } catch {
        /* torn line from a crash: skipped, as dockerd skips it */
      }
    }
  } catch (e) {
    if ((e as { code?: string }).code !== 'ENOENT') throw e;
  }
}
