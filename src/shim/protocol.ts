// berth-shim's control protocol (native/README.md, "Control protocol"):
// requests in the plan's record format without the op word, answers as one
// JSON line each.

import { BerthError, errnoName, kindOfErrno } from '../common/errors.js';

/** The shim's name for the container's first process. */
export const INIT = 'init';

/** A process the shim runs, as `state`, `wait` and `register` describe it. */
export interface ShimProcess {
  name: string;
  /** The program the shim ran: berth-init's first process, or `runc create`. */
  spawned: number;
  /** Its exit status; -1 while it runs. */
  spawnStatus: number;
  /** The container process, once registered; 0 before. */
  pid: number;
  exited: boolean;
  /** 0-255, 128+N for signal N; only once exited. */
  status?: number;
  sec?: number;
  nsec?: number;
  terminal: boolean;
  stdinOpen: boolean;
  outputDone: boolean;
}

export interface ShimState {
  pid: number;
  procs: ShimProcess[];
}

/** An exit file, `<state-dir>/<name>.exit`. */
export interface ExitRecord {
  pid: number;
  status: number;
  sec: number;
  nsec: number;
}

export function encodeRequest(args: (string | number)[]): Buffer {
  const parts = args.map((a) => Buffer.from(String(a), 'utf8'));
  for (const [i, p] of parts.entries()) {
    if (p.includes(0))
      throw new BerthError('berth-engine', 'invalid-argument', `shim request operand ${i} contains a NUL byte`);
  }
  const size = 4 + parts.reduce((n, p) => n + 4 + p.length, 0);
  const buf = Buffer.allocUnsafe(size);
  buf.writeUInt32LE(parts.length, 0);
  let off = 4;
  for (const p of parts) {
    buf.writeUInt32LE(p.length, off);
    p.copy(buf, off + 4);
    off += 4 + p.length;
  }
  return buf;
}

/** The shim's answer; an `{"error"}` answer becomes a BerthError with its words and errno. */
export function parseAnswer<T>(verb: string, line: string): T {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new BerthError(
      'berth-engine',
      'internal',
      `berth-shim sent an unreadable answer to ${verb}: ${line.slice(0, 200)}`,
    );
  }
  if (v && typeof v === 'object' && 'error' in v) {
    const e = v as { error: string; errno?: number };
    throw new ShimRequestError(verb, e.error, e.errno ?? 0);
  }
  return v as T;
}

export class ShimRequestError extends BerthError {
  constructor(
    readonly verb: string,
    words: string,
    /** The shim's errno number (0 when the failure was not a system call's). */
    readonly errnoNumber: number,
  ) {
    const errno = errnoNumber ? errnoName(errnoNumber) : undefined;
    super('berth-engine', errno ? kindOfErrno(errno) : 'internal', `berth-shim: ${words}`, { errno, step: verb });
  }
}
