// containerd's OOM events (/tasks/oom, a TaskOOM message) for berthd's
// namespace, as dockerd's monitor reads them: each one marks the container
// OOMKilled. The subscription lives as long as berthd and is made again when
// containerd goes away and comes back (a stream that ends is retried, with
// a growing pause, until berthd closes it).

import { readFile } from 'node:fs/promises';
import protobuf from 'protobufjs/minimal.js';
import type { ContainerdClient } from '../../client/index.js';
import { dateOf, type EventEnvelope } from '../../client/services.js';
import { messageOf } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';

const TOPIC = '/tasks/oom';

/** TaskOOM's container_id (field 1, a string: containerd's events/task.proto). */
export function oomContainerId(value: Uint8Array | undefined): string | undefined {
  if (!value) return undefined;
  const r = protobuf.Reader.create(value);
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag === ((1 << 3) | 2)) return r.string();
    r.skipType(tag & 7);
  }
  return undefined;
}

export interface OOMWatch {
  close(): void;
}

/** Calls `onOOM(containerId, when)` for every OOM kill containerd reports in `namespace`. */
export function watchOOM(
  client: ContainerdClient,
  namespace: string,
  log: Logger,
  onOOM: (id: string, at: Date) => void,
): OOMWatch {
  let closed = false;
  let stream: ReturnType<ContainerdClient['events']['subscribe']> | undefined;
  let pauseMs = 250;
  let timer: NodeJS.Timeout | undefined;
  const again = () => {
    stream = undefined;
    if (closed || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      subscribe();
    }, pauseMs);
    timer.unref();
    pauseMs = Math.min(pauseMs * 2, 5000);
  };
  const subscribe = () => {
    if (closed) return;
    const s = client.events.subscribe([`topic=="${TOPIC}",namespace=="${namespace}"`]);
    stream = s;
    s.on('data', (env: EventEnvelope) => {
      pauseMs = 250;
      if (env.topic !== TOPIC || env.namespace !== namespace) return;
      const id = oomContainerId(env.event?.value);
      if (!id) {
        log.warn('an OOM event without a container id', { namespace, type: env.event?.type_url });
        return;
      }
      onOOM(id, dateOf(env.timestamp) ?? new Date());
    });
    s.on('error', (e: unknown) => {
      if (closed) return;
      log.warn('containerd event stream failed, subscribing again', { namespace, error: messageOf(e) });
      again();
    });
    s.on('end', () => {
      if (s === stream) again();
    });
  };
  subscribe();
  return {
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      stream?.cancel();
    },
  };
}

/**
 * Whether the kernel OOM-killed a process in the cgroup at `cgroupsPath`
 * (its oom_kill count: memory.events on v2, memory.oom_control on v1). A task
 * that exited while berthd was down still has its cgroup until the task is
 * deleted, so the restore reads there what the event stream said meanwhile.
 * False when the cgroup is gone or the kernel has no count.
 */
export async function cgroupOOMKilled(cgroupsPath: string, cgroupV2: boolean): Promise<boolean> {
  const file = cgroupV2
    ? `/sys/fs/cgroup${cgroupsPath}/memory.events`
    : `/sys/fs/cgroup/memory${cgroupsPath}/memory.oom_control`;
  const text = await readFile(file, 'utf8').catch(() => '');
  const n = /^oom_kill (\d+)$/m.exec(text)?.[1];
  return n !== undefined && Number(n) > 0;
}
