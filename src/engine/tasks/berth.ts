// The default backend: Berth's runtime library, called in-process, with
// berth-init started by the task's shim (src/shim/container.ts).

import { existsSync, readFileSync } from 'node:fs';
import { Runtime } from '../../runtime/container.js';
import type { LinuxResources, Process } from '../../runtime/spec/types.js';
import type { Stats } from '../../runtime/cgroups/stats.js';
import type { Logger } from '../../common/log.js';
import { createInShim, execInShim, type ProcessIO } from '../../shim/container.js';
import type { ShimHandle } from '../../shim/shims.js';
import type { Backend } from './backend.js';

export class BerthBackend implements Backend {
  readonly runtime: Runtime;

  constructor(root: string, log: Logger) {
    // No spare berth-init: under a shim the shim starts each one.
    // Its state is the engine's state directory: atomic, not fsynced (see durableState).
    this.runtime = new Runtime({ root, log, spareInit: false, durableState: false });
  }

  create(id: string, bundle: string, shim: ShimHandle, io: ProcessIO): Promise<number> {
    return createInShim(this.runtime, shim, id, bundle, io);
  }

  start(id: string): Promise<void> {
    return this.runtime.start(id);
  }

  exec(id: string, shim: ShimHandle, execId: string, proc: Process, io: ProcessIO): Promise<number> {
    return execInShim(this.runtime, shim, id, execId, proc, io);
  }

  killAll(id: string, signal: number): Promise<void> {
    return this.runtime.kill(id, signal, true);
  }

  pause(id: string): Promise<void> {
    return this.runtime.pause(id);
  }

  resume(id: string): Promise<void> {
    return this.runtime.resume(id);
  }

  paused(id: string): boolean {
    try {
      return this.runtime.state(id).status === 'paused';
    } catch {
      return false;
    }
  }

  async pids(id: string): Promise<number[]> {
    return this.runtime.ps(id);
  }

  async stats(id: string): Promise<Stats> {
    return this.runtime.stats(id);
  }

  update(id: string, resources: LinuxResources): Promise<void> {
    return this.runtime.update(id, resources);
  }

  oomKills(id: string): number {
    return oomKillCount(this.cgroupPaths(id));
  }

  cgroupPaths(id: string): Record<string, string> {
    try {
      return this.runtime.record(id).cgroupPaths;
    } catch {
      return {};
    }
  }

  oomFile(id: string): string | undefined {
    return oomFileOf(this.cgroupPaths(id));
  }

  delete(id: string): Promise<void> {
    return this.runtime.delete(id, true);
  }
}

/** The file whose "oom_kill" counter the kernel notifies: v1 memory.oom_control, else v2 memory.events. */
export function oomFileOf(paths: Record<string, string>): string | undefined {
  const files = [
    paths.memory ? `${paths.memory}/memory.oom_control` : '',
    paths[''] ? `${paths['']}/memory.events` : '',
  ];
  return files.find((f) => f && existsSync(f));
}

/** The OOM kill count of a memory cgroup: v1 memory.oom_control, v2 memory.events ("oom_kill N"). */
export function oomKillCount(paths: Record<string, string>): number {
  const files = [
    paths.memory ? `${paths.memory}/memory.oom_control` : '',
    paths[''] ? `${paths['']}/memory.events` : '',
  ].filter(Boolean);
  for (const f of files) {
    try {
      const m = /^oom_kill (\d+)$/m.exec(readFileSync(f, 'utf8'));
      if (m) return Number(m[1]);
    } catch {
      // no such file in this layout
    }
  }
  return 0;
}
