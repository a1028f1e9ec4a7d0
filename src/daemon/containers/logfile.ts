// Reading a container's log as berth-logger writes it: json-file lines
// ({"log":"...\n","stream":"stdout","time":"<RFC 3339, ns>"}) or the local
// driver's frames (u32 BE size, protobuf LogEntry, u32 BE size), across the
// rotated files (<path>.N ... <path>.1, gzip'ed as <path>.N.gz when
// compressed), and following the current file through rotations for
// `logs -f`. A torn record at the end of a file (a crash mid-write) is
// skipped, as dockerd skips it.

import { createReadStream } from 'node:fs';
import { open, readdir, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { errnoOf } from '../../common/errors.js';
import type { DriverName, LogSettings } from './logdriver.js';

/** 1 stdout, 2 stderr: Docker's stream numbers. */
export type StreamNo = 1 | 2;

export interface LogEntry {
  log: Buffer;
  stream: 'stdout' | 'stderr';
  /** RFC 3339 with 9 digits of nanoseconds, as `docker logs -t` prints it. */
  time: string;
  /** Milliseconds since the epoch, for since/until. */
  ms: number;
}

/** Complete records of `buf` from its start, and how many bytes they took. */
type Parser = (buf: Buffer) => { entries: LogEntry[]; used: number };

function fromNanos(ns: bigint): { time: string; ms: number } {
  const ms = Number(ns / 1_000_000n);
  const iso = new Date(ms).toISOString().slice(0, 19);
  return { time: `${iso}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}Z`, ms };
}

const parseJson: Parser = (buf) => {
  const entries: LogEntry[] = [];
  let start = 0;
  for (let nl = buf.indexOf(10, start); nl >= 0; nl = buf.indexOf(10, start)) {
    const line = buf.subarray(start, nl);
    start = nl + 1;
    try {
      const j = JSON.parse(line.toString('utf8')) as { log: string; stream: string; time: string };
      entries.push({
        log: Buffer.from(j.log, 'utf8'),
        stream: j.stream === 'stderr' ? 'stderr' : 'stdout',
        time: j.time,
        ms: Date.parse(j.time),
      });
    } catch {
      /* a torn or foreign line: skipped */
    }
  }
  return { entries, used: start };
};

function varint(b: Buffer, at: number): [bigint, number] {
  let v = 0n;
  let shift = 0n;
  for (;;) {
    if (at >= b.length) throw new RangeError('truncated varint');
    const c = b[at++]!;
    v |= BigInt(c & 0x7f) << shift;
    if (c < 0x80) return [v, at];
    shift += 7n;
  }
}

/** One protobuf LogEntry (dockerd's logdriver.LogEntry fields 1-4; others skipped). */
function decodeEntry(m: Buffer): LogEntry {
  let source = 'stdout';
  let nanos = 0n;
  let line: Buffer = Buffer.alloc(0);
  let at = 0;
  while (at < m.length) {
    const [key, a1] = varint(m, at);
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    at = a1;
    if (wire === 0) {
      const [v, a2] = varint(m, at);
      at = a2;
      if (field === 2) nanos = v;
    } else if (wire === 2) {
      const [len, a2] = varint(m, at);
      const end = a2 + Number(len);
      if (end > m.length) throw new RangeError('truncated field');
      if (field === 1) source = m.toString('utf8', a2, end);
      if (field === 3) line = m.subarray(a2, end);
      at = end;
    } else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else throw new RangeError(`wire type ${wire}`);
  }
  return { log: Buffer.from(line), stream: source === 'stderr' ? 'stderr' : 'stdout', ...fromNanos(nanos) };
}

const parseLocal: Parser = (buf) => {
  const entries: LogEntry[] = [];
  let at = 0;
  while (at + 4 <= buf.length) {
    const size = buf.readUInt32BE(at);
    if (at + 8 + size > buf.length) break;
    try {
      entries.push(decodeEntry(buf.subarray(at + 4, at + 4 + size)));
    } catch {
      /* a damaged record: skipped, its framing still holds */
    }
    at += 8 + size;
  }
  return { entries, used: at };
};

function parserOf(driver: DriverName): Parser {
  return driver === 'local' ? parseLocal : parseJson;
}

async function* entriesOf(chunks: AsyncIterable<Buffer>, parse: Parser): AsyncGenerator<LogEntry> {
  let rest = Buffer.alloc(0);
  for await (const c of chunks) {
    const buf = rest.length ? Buffer.concat([rest, c]) : c;
    const { entries, used } = parse(buf);
    yield* entries;
    rest = Buffer.from(buf.subarray(used));
  }
}

/**
 * The rotated files, oldest first (the current file is not among them), from
 * one look at the directory: the logger renames them one by one when it
 * rotates, and one readdir sees fewer of its steps than a stat per name.
 */
async function rotatedFiles(path: string, maxFile: number): Promise<string[]> {
  const base = basename(path);
  const names = await readdir(dirname(path)).catch(() => [] as string[]);
  const byN = new Map<number, string>();
  for (const name of names) {
    if (!name.startsWith(`${base}.`)) continue;
    const m = /^(\d+)(\.gz)?$/.exec(name.slice(base.length + 1));
    const n = Number(m?.[1]);
    if (!m || n < 1 || n >= maxFile) continue;
    // while gzip runs both exist: the plain one is complete, the .gz not yet
    if (!m[2] || !byN.has(n)) byN.set(n, join(dirname(path), name));
  }
  return [...byN.entries()].sort((x, y) => y[0] - x[0]).map(([, f]) => f);
}

function fileChunks(file: string): AsyncIterable<Buffer> {
  const rs = createReadStream(file, { highWaterMark: 256 * 1024 });
  return file.endsWith('.gz') ? rs.pipe(createGunzip()) : rs;
}

/** Every entry of a rotated file; a file that went away meanwhile (rotated out) gives none. */
async function* rotatedEntries(file: string, parse: Parser): AsyncGenerator<LogEntry> {
  try {
    yield* entriesOf(fileChunks(file), parse);
  } catch (e) {
    if (errnoOf(e) !== 'ENOENT' && (e as { code?: string }).code !== 'Z_BUF_ERROR') throw e;
  }
}

const POLL_MS = 100;

/**
 * The rotated files written after the file with inode `from` and before the
 * one with inode `to`, oldest first, opened at once and checked by inode: a
 * name may be another file a moment later, when the logger rotates again.
 */
async function between(path: string, maxFile: number, from: number, to: number): Promise<FileHandle[]> {
  const files = await rotatedFiles(path, maxFile);
  const handles = await Promise.all(files.map((f) => open(f, 'r').catch(() => undefined)));
  const inos = await Promise.all(handles.map(async (h) => (h ? (await h.stat()).ino : -1)));
  const start = inos.indexOf(from);
  const end = start < 0 ? -1 : inos.indexOf(to, start + 1);
  // ours compressed or dropped meanwhile: nothing to place the others by
  const keep = start < 0 ? [] : handles.slice(start + 1, end < 0 ? undefined : end);
  for (const h of handles) if (h && !keep.includes(h)) await h.close();
  return keep.filter((h): h is FileHandle => !!h);
}

/** Every entry of an open rotated file (gzip'ed or not, by its magic bytes); the handle is closed. */
async function* handleEntries(h: FileHandle, parse: Parser): AsyncGenerator<LogEntry> {
  try {
    const magic = Buffer.alloc(2);
    await h.read(magic, 0, 2, 0);
    const rs = h.createReadStream({ start: 0, autoClose: false });
    yield* entriesOf(magic[0] === 0x1f && magic[1] === 0x8b ? rs.pipe(createGunzip()) : rs, parse);
  } catch (e) {
    if ((e as { code?: string }).code !== 'Z_BUF_ERROR') throw e;
  } finally {
    await h.close();
  }
}

/**
 * The whole log, oldest first; with `follow`, then what is written to it
 * until `stop` resolves (and the file read to its end once more). The
 * current file is read through one handle: a rotation is seen when the
 * path names another file, and the old handle is read to its end first.
 */
export async function* readLog(
  s: LogSettings,
  path: string,
  follow?: { stop: Promise<void>; caughtUp?: () => void },
): AsyncGenerator<LogEntry> {
  const parse = parserOf(s.driver);
  for (const f of await rotatedFiles(path, s.maxFile)) yield* rotatedEntries(f, parse);
  let fh: FileHandle | undefined = await open(path, 'r').catch((e: unknown) => {
    if (errnoOf(e) === 'ENOENT') return undefined;
    throw e;
  });
  let stopped = false;
  follow?.stop.then(
    () => (stopped = true),
    () => (stopped = true),
  );
  const buf = Buffer.alloc(256 * 1024);
  let rest = Buffer.alloc(0);
  let pos = 0;
  /** What the handle has from `pos` to its end now. */
  async function* drain(): AsyncGenerator<LogEntry> {
    for (;;) {
      const { bytesRead } = fh ? await fh.read(buf, 0, buf.length, pos) : { bytesRead: 0 };
      if (bytesRead === 0) return;
      pos += bytesRead;
      const all = rest.length ? Buffer.concat([rest, buf.subarray(0, bytesRead)]) : buf.subarray(0, bytesRead);
      const { entries, used } = parse(all);
      rest = Buffer.from(all.subarray(used));
      yield* entries;
    }
  }
  try {
    for (;;) {
      yield* drain();
      // at the end of what the handle has: rotated meanwhile? (the path opened
      // first: a file between the look and the open would be lost otherwise)
      const next = await open(path, 'r').catch(() => undefined);
      const [now, mine] = await Promise.all([next?.stat(), fh?.stat()]);
      if (next && now && (!mine || now.ino !== mine.ino || now.dev !== mine.dev)) {
        // what was appended between our last read and the rename, then the files
        // of several rotations since the last look (oldest first), then the new one
        yield* drain();
        if (mine) for (const h of await between(path, s.maxFile, mine.ino, now.ino)) yield* handleEntries(h, parse);
        await fh?.close();
        fh = next;
        pos = 0;
        rest = Buffer.alloc(0);
        continue;
      }
      await next?.close();
      // max-file 1: the logger truncates the file in place instead of rotating it
      if (mine && mine.size < pos) {
        pos = 0;
        rest = Buffer.alloc(0);
        continue;
      }
      // the stop came before this pass read to the end: nothing is left
      if (!follow || stopped) return;
      follow.caughtUp?.();
      await Promise.race([new Promise((r) => setTimeout(r, POLL_MS)), follow.stop]);
    }
  } finally {
    await fh?.close();
  }
}
