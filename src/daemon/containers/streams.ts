// The two ways output leaves a container: attach (a hijacked connection that
// carries the live stream, and stdin the other way) and logs (the json-file
// log, optionally followed). Without a tty both are stdcopy frames; with one,
// the raw bytes.

import type { Writable } from 'node:stream';
import { boolParam, type Ctx } from '../http/router.js';
import { badRequest } from '../http/errors.js';
import { frames, MULTIPLEXED, RAW } from '../http/stdcopy.js';
import type { ContainerRecord } from './record.js';
import type { Runtime } from './runtime.js';
import { logFiles, parseLogOpts, readEntries, type LogEntry } from './logfile.js';
import type { ProcessIO, StreamNo } from './io.js';

function writer(out: Writable, tty: boolean, want: { stdout: boolean; stderr: boolean }) {
  return (stream: StreamNo, data: Buffer) => {
    if ((stream === 1 && !want.stdout) || (stream === 2 && !want.stderr)) return;
    if (out.destroyed || out.writableEnded) return;
    if (tty) out.write(data);
    else for (const f of frames(stream, data)) out.write(f);
  };
}

export async function attach(ctx: Ctx, r: ContainerRecord, rt: Runtime): Promise<void> {
  const q = ctx.query;
  const tty = r.Config.Tty ?? false;
  const want = { stdout: boolParam(q, 'stdout'), stderr: boolParam(q, 'stderr') };
  const wantStdin = boolParam(q, 'stdin');
  const hij = ctx.hijack(tty ? RAW : MULTIPLEXED);
  const write = writer(hij.output, tty, want);
  if (boolParam(q, 'logs')) {
    for await (const e of readEntries(r.LogPath)) write(e.stream === 'stdout' ? 1 : 2, Buffer.from(e.log));
  }
  if (!boolParam(q, 'stream')) {
    hij.end();
    return;
  }
  const io = await rt.outputFor(r, hij.closed);
  if (!io) return;
  const unsubscribe = io.subscribe(write);
  if (wantStdin && r.Config.OpenStdin) pipeStdin(hij.input, io, r, rt);
  await Promise.race([io.whenDone(), hij.closed]);
  unsubscribe();
  hij.end();
}

function pipeStdin(input: NodeJS.ReadableStream, io: ProcessIO, r: ContainerRecord, rt: Runtime): void {
  const sink = io.stdin();
  if (!sink) return;
  sink.on('error', () => undefined);
  input.on('data', (d: Buffer) => sink.write(d));
  input.on('end', () => {
    // The client's end of input is the container's EOF only with --attach
    // stdin once (docker run -i), and never with a tty (dockerd's rule): a
    // client that detached (ctrl-p ctrl-q) leaves the stdin for the next attach.
    if (!r.Config.StdinOnce || r.Config.Tty) return;
    // Our writers close first, then the shim's stdin (dockerd's order): a
    // CloseIO that overtakes bytes still in the FIFO would drop them.
    sink.end(() => {
      io.closeStdin();
      rt.m.s.client.tasks.closeStdin(r.Id).catch(() => undefined);
    });
  });
}

/** Docker's `since`/`until`: seconds since the epoch, with an optional fraction. */
function timeParam(v: string | null, name: string): number | undefined {
  if (!v || v === '0') return undefined;
  if (!/^\d+(\.\d+)?$/.test(v)) throw badRequest(`invalid value for "${name}": ${v}`, name);
  return Number(v) * 1000;
}

export async function logs(ctx: Ctx, r: ContainerRecord, rt: Runtime): Promise<void> {
  const q = ctx.query;
  const want = { stdout: boolParam(q, 'stdout'), stderr: boolParam(q, 'stderr') };
  if (!want.stdout && !want.stderr) throw badRequest('Bad parameters: you must choose at least one stream');
  const since = timeParam(q.get('since'), 'since');
  const until = timeParam(q.get('until'), 'until');
  const tailRaw = q.get('tail') ?? 'all';
  const tail = tailRaw === 'all' || tailRaw === '' ? Infinity : Number(tailRaw);
  if (!Number.isFinite(tail) && tail !== Infinity) throw badRequest(`invalid value for "tail": ${tailRaw}`, 'tail');
  const timestamps = boolParam(q, 'timestamps');
  const follow = boolParam(q, 'follow');
  const tty = r.Config.Tty ?? false;
  const out = ctx.stream(200, tty ? RAW : MULTIPLEXED);
  const write = writer(out, tty, want);
  const keep = (e: LogEntry) => {
    const t = Date.parse(e.time);
    return (
      (since === undefined || t >= since) &&
      (until === undefined || t <= until) &&
      (e.stream === 'stdout' ? want.stdout : want.stderr)
    );
  };
  const emit = (e: LogEntry) =>
    write(e.stream === 'stdout' ? 1 : 2, Buffer.from(timestamps ? `${e.time} ${e.log}` : e.log));

  const live = rt.liveOf(r.Id);
  const following = follow && rt.running(r) && live.logs && live.io && !live.io.done;
  const buffered: LogEntry[] = [];
  let sub: { offset: number; stop: () => void } | undefined;
  let flowing = false;
  if (following) sub = await live.logs!.follow((e) => (flowing ? keep(e) && emit(e) : buffered.push(e)));
  const ring: LogEntry[] = [];
  const files = logFiles(r.LogPath, parseLogOpts(r.HostConfig.LogConfig?.Config ?? {}).maxFile);
  for (const file of files)
    for await (const e of readEntries(file, file === r.LogPath ? sub?.offset : undefined)) {
      if (!keep(e)) continue;
      if (tail === Infinity) emit(e);
      else {
        ring.push(e);
        if (ring.length > tail) ring.shift();
      }
    }
  ring.forEach(emit);
  if (sub && live.io) {
    buffered.filter(keep).forEach(emit);
    flowing = true;
    const closed = new Promise<void>((res) => ctx.req.socket.once('close', () => res()));
    const untilDone =
      until === undefined
        ? new Promise<void>(() => undefined)
        : new Promise<void>((res) => setTimeout(res, Math.max(0, until - Date.now())));
    await Promise.race([live.io.whenDone().then(() => live.logs?.drain()), closed, untilDone]);
    sub.stop();
  }
  out.end();
}
