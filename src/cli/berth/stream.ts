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
/** Put stdin in raw mode for a tty session; restored at exit whatever happens. */
export function setRaw(): void {
  if (!process.stdin.isTTY || rawSet) return;
  process.stdin.setRawMode(true);
  rawSet = true;
  const restore = () => {
    if (rawSet && process.stdin.isTTY) process.stdin.setRawMode(false);
    rawSet = false;
  };
  process.on('exit', restore);
  for (const sig of ['SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      restore();
      process.exit(128 + (sig === 'SIGTERM' ? 15 : 1));
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
