// Reading a container's log as berth-logger writes it: json-file lines
// ({"log":"...\n","stream":"stdout","time":"<RFC 3339, ns>"}) or the local
// driver's frames (u32 BE size, protobuf LogEntry, u32 BE size), across the
// rotated files (<path>.N ... <path>.1, gzip'ed as <path>.N.gz when
// compressed), and following the current file through rotations for
// `logs -f`. A torn record at the end of a file (a crash mid-write) is
// skipped, as dockerd skips it.

import { createReadStream } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
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

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

/** The rotated files, oldest first (the current file is not among them). */
async function rotatedFiles(path: string, maxFile: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = maxFile - 1; i >= 1; i--) {
    // while gzip runs both exist: the plain one is complete, the .gz not yet
    if (await exists(`${path}.${i}`)) out.push(`${path}.${i}`);
    else if (await exists(`${path}.${i}.gz`)) out.push(`${path}.${i}.gz`);
  }
  return out;
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
  try {
    for (;;) {
      if (fh) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
        if (bytesRead > 0) {
          pos += bytesRead;
          const all = rest.length ? Buffer.concat([rest, buf.subarray(0, bytesRead)]) : buf.subarray(0, bytesRead);
          const { entries, used } = parse(all);
          rest = Buffer.from(all.subarray(used));
          yield* entries;
          continue;
        }
      }
      // at the end of what the handle has: rotated meanwhile?
      const [now, mine] = await Promise.all([stat(path).catch(() => undefined), fh?.stat()]);
      if (now && (!mine || now.ino !== mine.ino || now.dev !== mine.dev)) {
        await fh?.close();
        fh = await open(path, 'r').catch(() => undefined);
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
