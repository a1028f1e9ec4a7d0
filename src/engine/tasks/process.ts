// One process of a task as the engine tracks it: the init or an exec, its
// stdio, its pid once it runs, and its exit once the shim reports it.

import type { Process } from '../../runtime/spec/types.js';
import type { ProcessIO } from '../../shim/container.js';

export interface ExitInfo {
  status: number;
  at: { seconds: number; nanos: number };
}

export type ProcStatus = 'CREATED' | 'RUNNING' | 'STOPPED' | 'PAUSED';

/** containerd's shim words for a pause or resume the task's state refuses (ctr shows them as they are). */
export const STATE_WORDS: Record<'pause' | 'resume', Record<ProcStatus, string>> = {
  pause: {
    CREATED: 'cannot pause task in created state',
    RUNNING: '',
    PAUSED: 'cannot pause a paused container',
    STOPPED: 'cannot pause a stopped container',
  },
  resume: {
    CREATED: 'cannot resume task in created state',
    RUNNING: 'cannot resume a running process',
    PAUSED: '',
    STOPPED: 'cannot resume a stopped container',
  },
};

export class TaskProcess {
  pid = 0;
  started = false;
  exit?: ExitInfo;
  /**
   * CloseIO came before the exec's start (ctr closes a short stdin as soon as
   * it has copied it, often before Start): the shim learns of it once the
   * process exists.
   */
  stdinClosePending = false;
  /** Why the process is stopped when it is not its own exit (the shim died). */
  reason?: string;
  /** Events held while a start is in flight (see afterStart). */
  private held?: (() => void)[];
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

  /** A start is in flight: what afterStart is given waits for releaseEvents. */
  holdEvents(): void {
    this.held = [];
  }

  /**
   * Runs `publish` now, or once the start in flight has published its own
   * event: a process that exits before its start answered (a fast container)
   * still shows start before exit, as containerd's shim holds such exits.
   */
  afterStart(publish: () => void): void {
    if (this.held) this.held.push(publish);
    else publish();
  }

  /** The start answered (or failed): what was held is published, in order. */
  releaseEvents(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const publish of held) publish();
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
