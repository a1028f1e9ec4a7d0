// Starting berth-init and talking to it: write phase 1, learn the pid, write
// phase 2, answer SYNC points, and turn its reports into results or errors
// that name the failing step.

import { BerthError, errnoName, isBerthError, kindOfErrno } from '../../common/errors.js';
import { nativeBinary } from '../../common/native.js';
import { encodeOp, encodePhase } from '../plan/encode.js';
import { Op, type PlanOp, type Report } from '../plan/ops.js';
import { spawnInit, spawnSpareInit, type InitChannel, type InitStdio } from './channel.js';

/** Where berth-init lives: $BERTH_INIT, or the nearest native/build/. */
export function initBinary(): string {
  return nativeBinary('berth-init', 'BERTH_INIT');
}

export interface LaunchOptions {
  parent: PlanOp[];
  child: (pid: number) => PlanOp[];
  /**
   * `child` does not use the pid: phase 2 is sent with phase 1, in one
   * write, so the container process starts it the moment it is released
   * instead of after a round trip through us (see init/wire.c: the bytes
   * behind phase 1 that the first process read ahead reach the container
   * process in its copy of the read buffer; the first process reads no more).
   */
  childWithoutPid?: boolean;
  /** Called with the container process's pid as soon as berth-init reports it. */
  onPid?: (pid: number) => void;
  /** stdio for the container: fds 0..2, then the preserved ones (3..). */
  stdio: InitStdio[];
  /** Answer a SYNC point; a throw aborts the container with that message. */
  onSync?: (tag: string, pid: number) => Promise<void> | void;
  /** Resolve at "ready" (create) instead of at the container's execve. */
  untilReady: boolean;
  onWarn?: (step: string, msg: string) => void;
  /** Where a berth-init started ahead of need may come from. */
  pool?: InitPool;
  /**
   * Start berth-init some other way than as our child (the engine has a
   * berth-shim start it, so that the shim is the container's parent); the
   * spawner sets up the container's stdio itself. No spare is used then.
   */
  spawn?: InitSpawner;
}

/** Starts `bin` with its plan socket at fd `stdio.length`, as spawnInit does. */
export type InitSpawner = (bin: string, stdio: InitStdio[]) => Promise<InitChannel>;

export interface Launched {
  pid: number;
  /** berth-init's first process's exit status: the container's in wait modes. */
  exited: Promise<number>;
}

/**
 * Keeps one berth-init started ahead of need, so that a create in a
 * long-lived process (an engine, the in-process library) does not wait for
 * the spawn, the exec, the dynamic loading and the sealed self-copy (~4 ms
 * here). The spare has /dev/null for stdio; TAKE_FD ops (pidfd_getfd) copy
 * the container's stdio into it from this process. A spare is only used
 * when there are no preserved fds (its plan socket is fd 3), and never again
 * once the kernel refuses pidfd_getfd (Yama ptrace_scope 3, say).
 */
export class InitPool {
  private spare?: InitChannel;
  private refilling = false;

  constructor(private enabled: boolean) {}

  /** The spare, claimed, and the ops that give it `stdio`; undefined when it does not fit. */
  take(stdio: InitStdio[]): { init: InitChannel; prefix: PlanOp[] } | undefined {
    const spare = this.spare;
    if (!this.enabled || !spare || stdio.length !== 3) return undefined;
    this.spare = undefined;
    if (!spare.alive()) return undefined;
    spare.claim();
    const prefix: PlanOp[] = [];
    stdio.forEach((s, fd) => {
      if (s === 'ignore') return; // the spare's own fd is /dev/null already
      const src = s === 'inherit' ? fd : s;
      prefix.push({
        op: Op.TAKE_FD,
        label: `take fd ${src} of the runtime as the container's fd ${fd}`,
        args: [process.pid, src, fd],
      });
    });
    return { init: spare, prefix };
  }

  /** Start a new spare soon, off the caller's path. */
  refill(): void {
    if (!this.enabled || this.spare || this.refilling) return;
    this.refilling = true;
    setImmediate(() => {
      this.refilling = false;
      if (!this.enabled || this.spare) return;
      try {
        this.spare = spawnSpareInit(initBinary());
      } catch {
        this.spare = undefined;
      }
      if (!this.spare) this.enabled = false;
    });
  }

  disable(): void {
    this.enabled = false;
    this.close();
  }

  /** Ends the spare (it sees EOF on its plan socket and exits). */
  close(): void {
    this.spare?.destroy();
    this.spare = undefined;
  }
}

export async function launch(opts: LaunchOptions): Promise<Launched> {
  if (opts.spawn) return await launchOn(await opts.spawn(initBinary(), opts.stdio), opts, []);
  const fromPool = opts.pool?.take(opts.stdio);
  if (!fromPool) return await launchOn(spawnInit(initBinary(), opts.stdio), opts, []);
  try {
    return await launchOn(fromPool.init, opts, fromPool.prefix);
  } catch (e) {
    // Refused before CLONE at one of our TAKE_FD steps: nothing was
    // created; do it the ordinary way, and stop using spares.
    if (isBerthError(e) && e.layer === 'berth-init' && e.step?.startsWith('take fd ')) {
      opts.pool?.disable();
      return await launchOn(spawnInit(initBinary(), opts.stdio), opts, []);
    }
    throw e;
  }
}

/**
 * A failed berth-init step as an error: its kind follows the errno (EPERM is
 * permission-denied, ENOENT not-found...), and the errno and the step stay
 * on the error as data for the caller.
 */
export function initError(r: { step: string; errno: number; msg: string }): BerthError {
  const errno = r.errno > 0 ? errnoName(r.errno) : undefined;
  return new BerthError('berth-init', errno ? kindOfErrno(errno) : 'internal', `${r.step}: ${r.msg.toLowerCase()}`, {
    errno,
    step: r.step,
    cause: r,
  });
}

async function launchOn(init: InitChannel, opts: LaunchOptions, prefix: PlanOp[]): Promise<Launched> {
  const exited = init.exited;
  let pid = 0;
  let buffered = '';
  /** Phase 2 went with phase 1 (childWithoutPid). */
  let sentWithPhase1 = false;
  return await new Promise<Launched>((resolveLaunch, rejectLaunch) => {
    let done = false;
    const finish = (err: Error | null) => {
      if (done) return;
      done = true;
      if (err) {
        if (pid)
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* already gone */
          }
        init.destroy();
        rejectLaunch(err);
      } else {
        resolveLaunch({ pid, exited });
      }
    };
    const handle = async (r: Report) => {
      switch (r.t) {
        case 'pid':
          pid = r.pid;
          try {
            if (!sentWithPhase1) init.write(encodePhase(opts.child(pid)));
          } catch (e) {
            finish(e as Error);
            break;
          }
          // After the write: the container process runs phase 2 meanwhile.
          try {
            opts.onPid?.(pid);
          } catch (e) {
            finish(e as Error);
          }
          break;
        case 'sync':
          try {
            await opts.onSync?.(r.tag, pid);
            init.write(encodeOp({ op: Op.ACK, label: 'ack', args: [] }));
          } catch (e) {
            init.write(encodeOp({ op: Op.ABORT, label: r.tag, args: [(e as Error).message] }));
            finish(e as Error);
          }
          break;
        case 'ready':
          if (opts.untilReady) {
            init.release();
            finish(null);
          }
          break;
        case 'warn':
          opts.onWarn?.(r.step, r.msg);
          break;
        case 'error':
          finish(initError(r));
          break;
      }
    };
    init.read(
      (chunk: string) => {
        buffered += chunk;
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          if (!line) continue;
          let r: Report;
          try {
            r = JSON.parse(line) as Report;
          } catch {
            finish(
              new BerthError('runtime', 'internal', `berth-init sent an unreadable report: ${line.slice(0, 200)}`),
            );
            return;
          }
          // A failure while answering (a write to a berth-init that is gone) ends the launch.
          handle(r).catch((e: unknown) => finish(e instanceof Error ? e : new Error(String(e))));
        }
      },
      () => {
        // EOF: the container process exec'd (its copy closed on exec) and the
        // first process is gone. Without a pid, berth-init failed before CLONE.
        if (!pid) {
          const early = (what: string) =>
            finish(new BerthError('berth-init', 'internal', `berth-init ${what} before creating the container`));
          exited.then(
            (code) => early(`exited with status ${code}`),
            () => early('was lost'),
          );
          return;
        }
        finish(
          opts.untilReady
            ? new BerthError('berth-init', 'internal', 'container process exited before it was ready')
            : null,
        );
      },
    );
    const phase1 = encodePhase([...prefix, ...opts.parent]);
    if (!opts.childWithoutPid) {
      init.write(phase1);
      return;
    }
    let phase2: Uint8Array;
    try {
      phase2 = encodePhase(opts.child(0));
    } catch (e) {
      // Nothing sent: finish() ends berth-init, which sees EOF.
      finish(e as Error);
      return;
    }
    sentWithPhase1 = true;
    init.write(Buffer.concat([phase1, phase2]));
  });
}
