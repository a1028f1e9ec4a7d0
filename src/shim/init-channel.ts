// berth-init started by a berth-shim instead of by us: the shim forks and
// execs it with the shim's connection as its plan socket (fd 3), so the
// container process it clones is re-parented to the shim, never to the
// engine. The runtime library drives it through the same InitChannel as a
// berth-init of its own (src/runtime/init/channel.ts).

import type { Socket } from 'node:net';
import type { InitChannel } from '../runtime/init/channel.js';
import type { InitSpawner } from '../runtime/init/launch.js';
import type { ShimClient, SpawnStdio } from './client.js';

/**
 * A spawner for Runtime.create/exec (`spawnInit`): the shim runs berth-init
 * as process `name` with `stdio` (FIFOs, a console socket, a log), ignoring
 * the stdio the runtime would give a child of its own.
 */
export function shimSpawner(client: ShimClient, name: string, stdio: SpawnStdio): InitSpawner {
  return async (bin: string) => {
    const { pid, socket, early } = await client.spawnPlan(name, stdio, [bin, '3']);
    return socketChannel(client, name, pid, socket, early);
  };
}

/**
 * A berth-init started ahead of need by a spare shim, as process `name`:
 * pipes for stdio until `attach` names the task's FIFOs, its plan not sent
 * yet. The engine keeps its plan socket, so the spare ends with the engine
 * (EOF on the socket) as well as with its shim (its parent-death signal).
 */
export async function spareInit(client: ShimClient, name: string, bin: string): Promise<InitChannel> {
  const { pid, socket, early } = await client.spawnPlan(name, 'spare', [bin, '3']);
  // not a reason for the engine to stay up
  socket.unref();
  return socketChannel(client, name, pid, socket, early);
}

function socketChannel(client: ShimClient, name: string, pid: number, sock: Socket, early: string): InitChannel {
  let exited: Promise<number> | undefined;
  let gone = false;
  sock.on('error', () => undefined); // EPIPE once berth-init exec'd; its reports tell the story
  sock.on('close', () => (gone = true));
  return {
    pid,
    // Asked of the shim only when someone looks: the shim reaped it.
    get exited(): Promise<number> {
      exited ??= client.wait(name, 'waitspawn').then(
        (p) => p.spawnStatus,
        () => 255,
      );
      return exited;
    },
    write: (data) => void sock.write(data),
    read(onData, onClose) {
      sock.setEncoding('utf8');
      if (early) onData(early);
      sock.on('data', onData);
      sock.on('close', onClose);
    },
    release: () => void sock.unref(),
    destroy: () => void sock.destroy(),
    claim: () => undefined,
    alive: () => !gone && !sock.destroyed,
  };
}
