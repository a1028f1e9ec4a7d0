// A task's Wait that outlives a restart of containerd (or berth-engine):
// the stream breaks when the daemon dies, the task runs on under its shim,
// and the daemon finds it again when it comes back. The Wait is made again
// once the daemon answers, so the exit is not lost (without it a later
// `docker stop`/`rm -f` waits for an exit berthd never hears of).

import { isUnreachable } from '../../client/errors.js';
import type { ContainerdClient } from '../../client/index.js';

type WaitResult = Awaited<ReturnType<ContainerdClient['tasks']['wait']>>;

/** tasks.wait(id), made again after a pause (250 ms, doubling to 2 s) while containerd is unreachable. */
export async function waitTask(client: ContainerdClient, id: string): Promise<WaitResult> {
  let pauseMs = 250;
  for (;;) {
    try {
      return await client.tasks.wait(id);
    } catch (e) {
      if (!isUnreachable(e)) throw e;
      await new Promise((r) => setTimeout(r, pauseMs).unref());
      pauseMs = Math.min(pauseMs * 2, 2000);
    }
  }
}
