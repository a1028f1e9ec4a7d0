// Spawning berth-init with its plan socket at fd <n>, under Node.js or Bun.
//
// berth-init wants a bidirectional AF_UNIX stream socket (the plan in, the
// reports out). Node's child_process makes one for a 'pipe' past stdio and
// wraps it in a net.Socket. Bun's node:child_process does the same, but its
// first such spawn costs ~15-20 ms of module set-up here, as long as
// everything else berth-runc does for a create; Bun.spawn makes the same
// socketpair in under a millisecond and hands us its descriptor. So under Bun
// (the compiled bin/berth-runc) we use Bun.spawn and read the descriptor as a
// stream; under Node.js, child_process.
//
// Either way the caller sees one InitChannel.

import { spawn } from 'node:child_process';
import { closeSync, writeSync } from 'node:fs';
import type { Socket } from 'node:net';
import { constants as osConstants } from 'node:os';
import { BerthError, errnoOf, messageOf } from '../../common/errors.js';
import { sleepSync } from '../../common/sleep.js';

export type InitStdio = 'inherit' | 'ignore' | number;

export interface InitChannel {
  readonly pid: number;
  /** Resolves with the exit status (128+N for signal N; 255 if it never ran). */
  readonly exited: Promise<number>;
  write(data: Uint8Array): void;
  /** Report bytes as they arrive, then one call of `onClose` at EOF or error. */
  read(onData: (chunk: string) => void, onClose: () => void): void;
  /** Stop reading and let this process exit without waiting for berth-init. */
  release(): void;
  /** Stop reading and close our end now. */
  destroy(): void;
  /** For a spare: make it keep this process alive again, as a fresh spawn does. */
  claim(): void;
  /** False once berth-init has exited. */
  alive(): boolean;
}

export function signalNumber(sig: string): number {
  return (osConstants.signals as Record<string, number>)[sig] ?? 0;
}

function bunApi(): BunApi | undefined {
  return (globalThis as { Bun?: BunApi }).Bun;
}

/** Starts `bin planFd` with `stdio` at fds 0..n-1 and the plan socket at fd n. */
export function spawnInit(bin: string, stdio: InitStdio[]): InitChannel {
  const bun = bunApi();
  return bun ? spawnWithBun(bun, bin, stdio) : spawnWithNode(bin, stdio, false);
}

/**
 * A berth-init started ahead of need, with /dev/null for stdio and its plan
 * socket at fd 3, that does not keep this process alive until claim().
 * Node.js only (undefined under Bun, whose one-shot CLI has no use for it).
 */
export function spawnSpareInit(bin: string): InitChannel | undefined {
  if (bunApi()) return undefined;
  return spawnWithNode(bin, ['ignore', 'ignore', 'ignore'], true);
}

function spawnWithNode(bin: string, stdio: InitStdio[], spare: boolean): InitChannel {
  const planFd = stdio.length;
  const child = spawn(bin, [String(planFd)], { stdio: [...stdio, 'pipe'], detached: true });
  let running = true;
  const exited = new Promise<number>((res) => {
    child.on('exit', (code, sig) => {
      running = false;
      res(code ?? 128 + (sig ? signalNumber(sig) : 0));
    });
    child.on('error', () => {
      running = false;
      res(255);
    });
  });
  const sock = child.stdio[planFd] as Socket | null;
  if (!sock) throw new Error('berth-init: no plan socket');
  sock.on('error', () => undefined); // EPIPE once the process exec'd; its reports tell the story
  if (spare) {
    child.unref();
    sock.unref();
  }
  return {
    pid: child.pid ?? 0,
    exited,
    write: (data) => void sock.write(data),
    read(onData, onClose) {
      sock.setEncoding('utf8');
      sock.on('data', onData);
      sock.on('close', onClose);
    },
    release: () => void sock.unref(),
    destroy: () => void sock.destroy(),
    claim() {
      child.ref();
      sock.ref();
    },
    alive: () => running && !sock.destroyed,
  };
}

// The part of Bun's API used here (Bun's own types are not a dependency).
interface BunApi {
  spawn(cmd: string[], opts: { stdio: (InitStdio | 'pipe')[]; detached: boolean }): BunSubprocess;
  file(fd: number): { stream(): ReadableStream<Uint8Array> };
}
interface BunSubprocess {
  readonly pid: number;
  readonly exited: Promise<number>;
  readonly signalCode: string | null;
  readonly stdio: (number | null | undefined)[];
}

function spawnWithBun(bun: BunApi, bin: string, stdio: InitStdio[]): InitChannel {
  const planFd = stdio.length;
  let child: BunSubprocess;
  try {
    child = bun.spawn([bin, String(planFd)], { stdio: [...stdio, 'pipe'], detached: true });
  } catch (e) {
    throw new BerthError('runtime', 'unavailable', `start berth-init (${bin}): ${messageOf(e)}`, { cause: e });
  }
  const fd = child.stdio[planFd];
  if (typeof fd !== 'number') throw new Error('berth-init: no plan socket');
  const exited = child.exited.then(
    (code) => (child.signalCode ? 128 + signalNumber(child.signalCode) : code),
    () => 255,
  );
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  let open = true;
  let running = true;
  const ended = () => (running = false);
  exited.then(ended, ended);
  const stop = () => {
    if (!open) return;
    open = false;
    reader?.cancel().catch(() => undefined);
    try {
      closeSync(fd);
    } catch {
      /* closed */
    }
  };
  return {
    pid: child.pid,
    exited,
    write(data) {
      // Small messages (a plan is a few KiB) into an empty socket buffer:
      // the loop only guards against a short write.
      for (let off = 0; off < data.length && open;) {
        try {
          off += writeSync(fd, data, off, data.length - off);
        } catch (e) {
          if (errnoOf(e) !== 'EAGAIN') return; // EPIPE: berth-init is gone; its reports (or EOF) tell why
          sleepSync(1); // full: berth-init reads it within a millisecond or two
        }
      }
    },
    read(onData, onClose) {
      reader = bun.file(fd).stream().getReader();
      const decoder = new TextDecoder();
      const pump = async () => {
        try {
          for (;;) {
            const { value, done } = await reader!.read();
            if (done || !open) break;
            onData(decoder.decode(value, { stream: true }));
          }
        } catch {
          // closed under us: treated as EOF
        }
        if (open) {
          stop();
          onClose();
        }
      };
      // pump() catches its own reads; a throw from the callbacks it calls after them is theirs to report.
      pump().catch(() => onClose());
    },
    // The subprocess itself stays referenced, as under Node.js: `run`
    // waits for it, and in `create` it exits as soon as it has released
    // the container process.
    release: stop,
    destroy: stop,
    claim: () => undefined,
    alive: () => running && open,
  };
}
