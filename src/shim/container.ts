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
 * A spare berth-init has pipes for its stdio, which the shim joins to FIFOs
 * at `attach`: it fits a process with a FIFO for each of its stdio (ctr's
 * way), not a terminal, a json-file log, a logging URI or a missing stream
 * (/dev/null: their set-up is the spawn's).
 */
function spareFits(s: SpawnStdio): boolean {
  const fifo = (p: string) => p.startsWith('/');
  return !s.console && !s.log && fifo(s.stdin) && fifo(s.stdout) && fifo(s.stderr);
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
  let spawnInit = shimSpawner(shim.client, INIT, stdio);
  // A spare started for the usual case; any other spawns its own berth-init.
  const spare = spareFits(stdio) ? shim.takeSpareInit() : undefined;
  if (spare) {
    try {
      await shim.client.attach(INIT, stdio);
      spawnInit = async () => spare;
    } catch (e) {
      // the FIFOs are the client's: their error is the create's
      spare.destroy();
      await shim.client.forget(INIT).catch(() => undefined);
      throw e;
    }
  } else {
    await shim.dropSpareInit();
  }
  try {
    const { rec } = await rt.create(
      id,
      {
        bundle,
        consoleSocket: stdio.console || undefined,
        spawnInit,
        stdio: ['ignore', 'ignore', 'ignore'],
      },
      'exit',
      spec,
    );
    await shim.client.register(INIT, rec.pid);
    return rec.pid;
  } catch (e) {
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
