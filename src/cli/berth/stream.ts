// The raw streams of attach, exec and logs: the multiplexed framing the
// daemon uses when there is no tty (8-byte header: stream, 3 zero bytes,
// big-endian length), stdin pumped into a hijacked connection, and the
// terminal put in raw mode for a tty and restored on every way out.

import type { Socket } from 'node:net';
import type { Ctx } from './command.js';
import { CliError } from './errors.js';

/** Splits the multiplexed stream into stdout (1) and stderr (2) writes. */
export class Demuxer {
  private buf: Buffer = Buffer.alloc(0);
  constructor(private onFrame: (stream: number, data: Buffer) => void) {}
  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.buf.length >= 8) {
      const size = this.buf.readUInt32BE(4);
      if (this.buf.length < 8 + size) break;
      this.onFrame(this.buf[0]!, this.buf.subarray(8, 8 + size));
      this.buf = this.buf.subarray(8 + size);
    }
  }
}

let rawSet = false;
let guarded = false;

/**
 * Put stdin in raw mode for a tty session. Every way out gives the terminal
 * back: the session's end (attachStreams' finally), process exit (also after
 * an uncaught error), and the signals that end us while raw (with a tty there
 * is no sig-proxy, so they are ours: restored, then the status a shell shows
 * for that signal).
 */
export function setRaw(): void {
  if (!process.stdin.isTTY || rawSet) return;
  process.stdin.setRawMode(true);
  rawSet = true;
  if (guarded) return;
  guarded = true;
  process.on('exit', restoreTerminal);
  for (const [sig, n] of [
    ['SIGTERM', 15],
    ['SIGHUP', 1],
    ['SIGINT', 2],
    ['SIGQUIT', 3],
  ] as const) {
    process.on(sig, () => {
      if (!rawSet) return;
      restoreTerminal();
      process.exit(128 + n);
    });
  }
}

export function restoreTerminal(): void {
  if (rawSet && process.stdin.isTTY) process.stdin.setRawMode(false);
  rawSet = false;
}

/** Copy output from a hijacked socket; resolves when the daemon closes it. */
export function pumpOutput(sock: Socket, tty: boolean): Promise<void> {
  return new Promise((resolve) => {
    const demux = new Demuxer((s, d) => (s === 2 ? process.stderr : process.stdout).write(d));
    sock.on('data', (c: Buffer) => (tty ? process.stdout.write(c) : demux.push(c)));
    sock.on('end', () => resolve());
    sock.on('close', () => resolve());
    sock.on('error', () => resolve());
  });
}

/** docker's --detach-keys ("ctrl-p,ctrl-q" by default) as bytes. */
export function parseDetachKeys(spec: string): number[] {
  return (spec || 'ctrl-p,ctrl-q').split(',').map((k) => {
    const m = /^ctrl-(.)$/.exec(k);
    if (m) {
      const c = m[1]!;
      if (/[a-z]/.test(c)) return c.charCodeAt(0) - 96;
      const special = '@[\\]^_'.indexOf(c);
      if (special >= 0) return [0, 27, 28, 29, 30, 31][special]!;
    }
    if (k.length === 1) return k.charCodeAt(0);
    throw new CliError(`Invalid detach keys (${k}) provided`, 1);
  });
}

/**
 * Send our stdin to the socket; half-close when stdin ends (not for a tty).
 * On a tty, the detach sequence is held back and, once complete, calls
 * `onDetach` instead of reaching the container.
 */
export function pumpInput(sock: Socket, tty: boolean, detach?: { keys: number[]; onDetach: () => void }): void {
  let matched = 0;
  process.stdin.on('data', (c: Buffer) => {
    if (!tty || !detach) {
      sock.write(c);
      return;
    }
    const out: number[] = [];
    for (const b of c) {
      if (b === detach.keys[matched]) {
        matched++;
        if (matched === detach.keys.length) {
          detach.onDetach();
          return;
        }
        continue;
      }
      // Not the sequence after all: what was held back goes through.
      out.push(...detach.keys.slice(0, matched), b);
      matched = 0;
    }
    if (out.length) sock.write(Buffer.from(out));
  });
  process.stdin.on('end', () => {
    if (!tty) sock.end();
  });
  process.stdin.resume();
}

/** Keep the container's tty the size of ours. */
export function followResize(ctx: Ctx, path: string): void {
  if (!process.stdout.isTTY) return;
  const send = () => {
    const { columns, rows } = process.stdout;
    void ctx.client.request('POST', `${path}/resize`, { query: { h: rows, w: columns } }).then(
      (r) => r.body.resume(),
      () => undefined,
    );
  };
  send();
  process.stdout.on('resize', send);
}

export interface Session {
  /** The hijacked connection of attach or exec start. */
  sock: Socket;
  tty: boolean;
  /** Our stdin goes to the container (-i, or attach to a container with OpenStdin). */
  stdin: boolean;
  /** docker's --detach-keys ('' for ctrl-p,ctrl-q); they act only on a tty. */
  detachKeys: string;
  /** The object whose `/resize` follows our terminal: /containers/ID or /exec/ID. */
  resizePath: string;
  /** Called once the streams are wired, before the tty is sized (run and start -a start the container here). */
  started?: () => Promise<void>;
}

/**
 * One attached session (run, start -a, attach, exec): output copied from
 * the moment of the call, stdin pumped with the detach sequence held back,
 * the terminal raw for a tty and sized like ours. Ends when the daemon closes
 * the stream or the user detaches; the terminal is restored on every path,
 * errors from `started` included.
 */
export async function attachStreams(ctx: Ctx, s: Session): Promise<'ended' | 'detached'> {
  const keys = parseDetachKeys(s.detachKeys);
  const output = pumpOutput(s.sock, s.tty);
  try {
    if (s.tty && s.stdin) setRaw();
    const detached = new Promise<'detached'>((resolve) => {
      if (s.stdin)
        pumpInput(s.sock, s.tty, {
          keys,
          onDetach: () => {
            s.sock.destroy();
            resolve('detached');
          },
        });
    });
    if (s.started) await s.started();
    if (s.tty) followResize(ctx, s.resizePath);
    return await Promise.race([output.then(() => 'ended' as const), detached]);
  } finally {
    restoreTerminal();
    process.stdin.pause();
    process.stdin.unref?.();
    process.stdout.removeAllListeners('resize');
  }
}
