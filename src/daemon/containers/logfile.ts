// The json-file log driver: one JSON object per line of output
// ({"log":"...\n","stream":"stdout","time":"<RFC 3339, nanoseconds>"}), the
// format dockerd writes and `docker logs` reads, so a log written by berthd
// reads the same everywhere. Lines longer than 16 KiB are cut into pieces as
// dockerd cuts them. Writes are appended in order through one file handle;
// followers (`logs -f`) get each entry after it is on disk, with its offset,
// so a reader that read the file up to an offset misses nothing and sees
// nothing twice.

import { open, type FileHandle } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { StreamNo } from './io.js';

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

export class JsonLog {
  private fh: Promise<FileHandle>;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly partial = new Map<StreamNo, Buffer>();
  private written = 0;
  private readonly followers = new Set<(e: LogEntry, offset: number) => void>();

  constructor(readonly path: string) {
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
      const f = await this.fh;
      await f.write(bytes);
      const offset = this.written;
      this.written += bytes.length;
      for (const fn of this.followers) fn(e, offset);
    });
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
