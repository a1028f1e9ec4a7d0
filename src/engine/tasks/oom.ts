// A task's OOM kills as they happen: one `oom` request at a time open on the
// task's shim for its memory cgroup file (v1 memory.oom_control, v2
// memory.events); the shim answers when the kernel's oom_kill counter moves
// past what was already reported (native/README.md). Ends with the task:
// its exit, its deletion, the cgroup's removal, the engine's close.

import { messageOf } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import type { Task } from './task.js';

export function watchOom(task: Task, over: () => boolean, seen: (kills: number) => void, log: Logger): void {
  const file = task.backend.oomFile(task.id);
  if (!file) return;
  const round = (): void => {
    if (over()) return;
    task.shim.client.oomWait(file, task.ooms).then(
      (kills) => {
        seen(kills);
        round();
      },
      (e: unknown) => {
        if (!over()) log.debug('OOM watch ended', { namespace: task.ns, container: task.id, error: messageOf(e) });
      },
    );
  };
  round();
}
