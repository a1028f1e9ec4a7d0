// A process's stdio as berthd sees it. An exec process's output comes
// through FIFOs containerd's shim writes into (under --exec-root); a
// container's own output goes to berth-logger (the shim starts it for the
// task's `binary://` stdout), which writes the log and hands the same bytes
// to berthd on its attach socket as stdcopy frames. stdin (`-i`) is a FIFO.
//
// The open order matters. The shim opens its ends during task Create and
// blocks until a reader exists, so berthd first opens each FIFO read-write
// (an open that never blocks), and once Create returns — the shim's write
// end is open — reopens it read-only and drops the read-write fd: from then
// on the shim's close is our EOF. After a restart of berthd with the task
// still running, the read-only open is enough (the shim still writes).

import { execFile } from 'node:child_process';
import { closeSync, constants as C, openSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { fifoWriter, readFifo } from '../../common/fifo.js';
import type { StreamNo } from './logfile.js';

export type { StreamNo };

const run = promisify(execFile);

export type Listener = (stream: StreamNo, data: Buffer) => void;

export interface FifoPaths {
  stdin: string;
  stdout: string;
  stderr: string;
}

export function fifoPaths(dir: string, process: string): FifoPaths {
  return {
    stdin: join(dir, `${process}-stdin`),
    stdout: join(dir, `${process}-stdout`),
    stderr: join(dir, `${process}-stderr`),
  };
}

export async function makeFifos(dir: string, paths: string[]): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  for (const p of paths) await rm(p, { force: true });
  if (paths.length) await run('mkfifo', ['-m', '600', ...paths]);
}

/** One process's output streams, fanned out to a log and to attached clients. */
export class ProcessIO {
  private readonly listeners = new Set<Listener>();
  private rw: number[] = [];
  private stdinFd: number | undefined;
  private open = 0;
  private finished = false;
  private readonly doneWaiters: (() => void)[] = [];

  constructor(
    readonly paths: FifoPaths,
    /** Which FIFOs exist: stderr is absent with a tty, stdin unless -i, no output FIFO with a logger. */
    readonly has: { stdin: boolean; stderr: boolean; stdout?: boolean },
  ) {}

  /** Before task Create/Exec: hold every FIFO open so the shim's opens do not block. */
  holdOpen(): void {
    for (const p of this.outputs()) this.rw.push(openSync(p, C.O_RDWR | C.O_NONBLOCK));
    if (this.has.stdin) this.stdinFd = openSync(this.paths.stdin, C.O_RDWR | C.O_NONBLOCK);
  }

  private outputs(): string[] {
    return [...(this.has.stdout === false ? [] : [this.paths.stdout]), ...(this.has.stderr ? [this.paths.stderr] : [])];
  }

  /**
   * The container's output from berth-logger's attach socket: stdcopy
   * frames until the logger ends (everything is in the log by then). A
   * logger already gone (a refused or missing socket) is an ended output.
   */
  connectLogger(path: string): Promise<void> {
    const sock = createConnection(path);
    const connected = new Promise<void>((res) => {
      sock.once('connect', res);
      sock.once('close', () => res());
    });
    let rest = Buffer.alloc(0);
    this.open++;
    sock.on('data', (d: Buffer) => {
      let buf = rest.length ? Buffer.concat([rest, d]) : d;
      while (buf.length >= 8) {
        const len = buf.readUInt32BE(4);
        if (buf.length < 8 + len) break;
        this.emit(buf[0] === 2 ? 2 : 1, buf.subarray(8, 8 + len));
        buf = buf.subarray(8 + len);
      }
      rest = Buffer.from(buf);
    });
    sock.on('error', () => sock.destroy());
    sock.on('close', () => {
      if (--this.open === 0) this.finish();
    });
    return connected;
  }

  /** After Create (or on restore): read until the shim closes its ends. */
  startReading(): void {
    const outs = this.outputs();
    outs.forEach((p, i) => {
      const fd = openSync(p, C.O_RDONLY | C.O_NONBLOCK);
      const stream = (i + 1) as StreamNo;
      this.open++;
      readFifo(
        fd,
        (d) => this.emit(stream, d),
        () => {
          if (--this.open === 0) this.finish();
        },
      );
    });
    for (const fd of this.rw.splice(0)) closeSync(fd);
  }

  /** Drop the read-write holds without reading (a Create that failed). */
  release(): void {
    for (const fd of this.rw.splice(0)) closeSync(fd);
    this.closeStdin();
    if (this.open === 0) this.finish();
  }

  private emit(stream: StreamNo, d: Buffer): void {
    for (const l of this.listeners) l(stream, d);
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.listeners.clear();
    for (const w of this.doneWaiters.splice(0)) w();
  }

  get done(): boolean {
    return this.finished;
  }

  /** Resolves once every output stream has ended (all output delivered). */
  whenDone(): Promise<void> {
    if (this.finished) return Promise.resolve();
    return new Promise((r) => this.doneWaiters.push(r));
  }

  subscribe(l: Listener): () => void {
    if (this.finished) return () => undefined;
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** A writer into the process's stdin (undefined without -i). */
  stdin(): Writable | undefined {
    if (this.stdinFd === undefined) return undefined;
    return fifoWriter(openSync(this.paths.stdin, C.O_WRONLY | C.O_NONBLOCK));
  }

  closeStdin(): void {
    if (this.stdinFd !== undefined) closeSync(this.stdinFd);
    this.stdinFd = undefined;
  }
}
