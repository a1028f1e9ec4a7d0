// The two ways output leaves a container: attach (a hijacked connection that
// carries the live stream, and stdin the other way) and logs (the log
// berth-logger writes, optionally followed). Without a tty both are stdcopy
// frames; with one, the raw bytes.

import type { Writable } from 'node:stream';
import { boolParam, type Ctx } from '../http/router.js';
import { badRequest, HttpError } from '../http/errors.js';
import { frames, MULTIPLEXED, RAW } from '../http/stdcopy.js';
import type { ContainerRecord } from './record.js';
import type { Runtime } from './runtime.js';
import { readLog, type LogEntry } from './logfile.js';
import { logSettings, type LogSettings } from './logdriver.js';
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
  const settings = settingsOf(r);
  // with `none` there is nothing to replay (dockerd refuses to read it)
  if (boolParam(q, 'logs') && settings.driver !== 'none') {
    for await (const e of readLog(settings, r.LogPath)) write(e.stream === 'stdout' ? 1 : 2, e.log);
  }
  if (!boolParam(q, 'stream')) {
    hij.end();
    return;
  }
  // dockerd's attach event (docker run without -d shows it before the start)
  rt.m.s.events.emit('container', 'attach', r.Id, { image: r.ImageRef, name: r.Name.slice(1) });
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

function settingsOf(r: ContainerRecord): LogSettings {
  return logSettings(r.HostConfig.LogConfig?.Type, r.HostConfig.LogConfig?.Config ?? {});
}

export async function logs(ctx: Ctx, r: ContainerRecord, rt: Runtime): Promise<void> {
  const q = ctx.query;
  const want = { stdout: boolParam(q, 'stdout'), stderr: boolParam(q, 'stderr') };
  if (!want.stdout && !want.stderr) throw badRequest('Bad parameters: you must choose at least one stream');
  const settings = settingsOf(r);
  if (settings.driver === 'none') throw new HttpError(501, 'configured logging driver does not support reading');
  const since = timeParam(q.get('since'), 'since');
  const until = timeParam(q.get('until'), 'until');
  const tailRaw = q.get('tail') ?? 'all';
  // as dockerd: anything but a count of lines (all, x, -1) is the whole log
  const tail = /^\d+$/.test(tailRaw) ? Number(tailRaw) : Infinity;
  const timestamps = boolParam(q, 'timestamps');
  const details = boolParam(q, 'details');
  const follow = boolParam(q, 'follow');
  const tty = r.Config.Tty ?? false;
  const out = ctx.stream(200, tty ? RAW : MULTIPLEXED);
  const write = writer(out, tty, want);
  const keep = (e: LogEntry) =>
    (since === undefined || e.ms >= since) &&
    (until === undefined || e.ms <= until) &&
    (e.stream === 'stdout' ? want.stdout : want.stderr);
  // dockerd: the line's attributes (none are kept here) and a space with --details, then the time with -t
  const emit = (e: LogEntry) => {
    const line = details ? Buffer.concat([Buffer.from(' '), e.log]) : e.log;
    write(e.stream === 'stdout' ? 1 : 2, timestamps ? Buffer.concat([Buffer.from(`${e.time} `), line]) : line);
  };

  const io = rt.liveOf(r.Id).io;
  const following = follow && rt.running(r) && io && !io.done;
  // -f ends with the container (its exit is handled once berth-logger is gone: the file is
  // complete), the client, or `until`
  const stop = following
    ? Promise.race([
        rt.nextExit(r).then(() => undefined),
        new Promise<void>((res) => ctx.req.socket.once('close', () => res())),
        ...(until === undefined ? [] : [new Promise<void>((res) => setTimeout(res, Math.max(0, until - Date.now())))]),
      ])
    : undefined;
  const ring: LogEntry[] = [];
  let caughtUp = tail === Infinity;
  const catchUp = () => {
    if (caughtUp) return;
    caughtUp = true;
    ring.splice(0).forEach(emit);
  };
  for await (const e of readLog(settings, r.LogPath, stop && { stop, caughtUp: catchUp })) {
    if (!keep(e)) continue;
    if (caughtUp) emit(e);
    else {
      ring.push(e);
      if (ring.length > tail) ring.shift();
    }
  }
  catchUp();
  out.end();
}
