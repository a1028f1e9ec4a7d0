// One process of a task as the engine tracks it: the init or an exec, its
// stdio, its pid once it runs, and its exit once the shim reports it.

import type { Process } from '../../runtime/spec/types.js';
import type { ProcessIO } from '../../shim/container.js';

export interface ExitInfo {
  status: number;
  at: { seconds: number; nanos: number };
}

export type ProcStatus = 'CREATED' | 'RUNNING' | 'STOPPED' | 'PAUSED';

export class TaskProcess {
  pid = 0;
  started = false;
  exit?: ExitInfo;
  /** Why the process is stopped when it is not its own exit (the shim died). */
  reason?: string;
  private readonly done: Promise<ExitInfo>;
  private resolveDone!: (e: ExitInfo) => void;

  constructor(
    /** The shim's name for it: "init" or "exec-<id>". */
    readonly name: string,
    /** '' for the init. */
    readonly execId: string,
    readonly io: Required<Pick<ProcessIO, 'stdin' | 'stdout' | 'stderr' | 'terminal'>>,
    readonly spec?: Process,
  ) {
    this.done = new Promise((r) => (this.resolveDone = r));
  }

  /** Records the exit once; returns false when it was already recorded. */
  exited(e: ExitInfo, reason?: string): boolean {
    if (this.exit) return false;
    this.exit = e;
    if (reason) this.reason = reason;
    this.resolveDone(e);
    return true;
  }

  wait(): Promise<ExitInfo> {
    return this.done;
  }

  status(paused: boolean): ProcStatus {
    if (this.exit) return 'STOPPED';
    if (!this.started) return 'CREATED';
    return paused ? 'PAUSED' : 'RUNNING';
  }
}

export function nowTimestamp(): { seconds: number; nanos: number } {
  const ms = Date.now();
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
}
