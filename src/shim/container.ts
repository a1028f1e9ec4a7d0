// A container (and its exec processes) run by the runtime library under a
// berth-shim: the library compiles and sends the plan as always; the shim
// starts berth-init, becomes the container's parent and keeps its stdio.

import type { Runtime } from '../runtime/container.js';
import type { Process, Spec } from '../runtime/spec/types.js';
import type { SpawnStdio } from './client.js';
import { shimSpawner } from './init-channel.js';
import { INIT } from './protocol.js';
import type { ShimHandle } from './shims.js';

export interface ProcessIO {
  /** FIFO paths the client named (empty or undefined: none). */
  stdin?: string;
  stdout?: string;
  stderr?: string;
  terminal?: boolean;
  /** Output also written here in json-file format. */
  log?: string;
}

/** The shim's name for exec process `execId` (never INIT). */
export function execName(execId: string): string {
  return `exec-${execId}`;
}

/** The shim's stdio for process `name`: the client's FIFOs, or the pty (stderr joins it). */
export function spawnStdio(shim: ShimHandle, name: string, io: ProcessIO): SpawnStdio {
  return {
    stdin: io.stdin ?? '',
    stdout: io.stdout ?? '',
    stderr: io.terminal ? '' : (io.stderr ?? ''),
    console: io.terminal ? shim.consoleSocket(name) : '',
    log: io.log ?? '',
  };
}

/**
 * A spare berth-init has pipes for its stdio, which the shim joins at
 * `attach`: it fits a process whose outputs are two FIFOs (ctr's way) or
 * one logger's binary:// URI (berthd's way: the logger gets the pipes), and
 * whose stdin is a FIFO or none (the container process then puts /dev/null
 * on its fd 0 itself, as the spawn would have). Not a terminal, a json-file
 * log, a file:// URI (the container's fds are the file itself there) or a
 * missing output (/dev/null: the spawn's).
 */
function spareFits(s: SpawnStdio): boolean {
  const fifo = (p: string) => p.startsWith('/');
  const outputs =
    (fifo(s.stdout) && fifo(s.stderr)) ||
    (s.stdout.startsWith('binary://') && (s.stderr === '' || s.stderr === s.stdout));
  return !s.console && !s.log && (s.stdin === '' || fifo(s.stdin)) && outputs;
}

/**
 * Runtime.create under the shim: on return the container waits for `start`
 * and the shim knows its pid. On failure nothing is left in the runtime and
 * the shim has forgotten the process.
 */
export async function createInShim(
  rt: Runtime,
  shim: ShimHandle,
  id: string,
  bundle: string,
  io: ProcessIO,
  spec?: Spec,
): Promise<number> {
  const stdio = spawnStdio(shim, INIT, io);
  // The spare's berth-init (cloned ahead of need) is started for the usual
  // stdio; the runtime uses it when the plan fits too (plan/preclone.ts).
  const spare = spareFits(stdio) ? shim.takeSpareInit() : undefined;
  if (!spare) await shim.dropSpareInit();
  const precloned = spare && {
    init: spare,
    // the FIFOs (or the logger) are the client's: their error is the create's
    use: () => shim.client.attach(INIT, stdio),
    nullStdin: stdio.stdin === '',
    drop: async () => {
      spare.destroy();
      await shim.client.forget(INIT);
    },
  };
  try {
    const { rec } = await rt.create(
      id,
      {
        bundle,
        consoleSocket: stdio.console || undefined,
        spawnInit: shimSpawner(shim.client, INIT, stdio),
        precloned,
        stdio: ['ignore', 'ignore', 'ignore'],
      },
      'exit',
      spec,
    );
    await shim.client.register(INIT, rec.pid);
    return rec.pid;
  } catch (e) {
    // unused, or used by a create that failed: ended either way
    spare?.destroy();
    await shim.client.forget(INIT).catch(() => undefined);
    throw e;
  }
}

/** Runtime.exec under the shim, detached: returns the exec process's pid once it runs. */
export async function execInShim(
  rt: Runtime,
  shim: ShimHandle,
  id: string,
  execId: string,
  proc: Process,
  io: ProcessIO,
): Promise<number> {
  const name = execName(execId);
  const stdio = spawnStdio(shim, name, { ...io, terminal: !!proc.terminal });
  let pid = 0;
  try {
    await rt.exec(id, proc, {
      detach: true,
      consoleSocket: stdio.console || undefined,
      spawnInit: shimSpawner(shim.client, name, stdio),
      stdio: ['ignore', 'ignore', 'ignore'],
      onPid: (p) => (pid = p),
    });
    await shim.client.register(name, pid);
    return pid;
  } catch (e) {
    await shim.client.forget(name).catch(() => undefined);
    throw e;
  }
}
