// What runs a task's processes: Berth's runtime library in-process (the
// default), or a runc-compatible binary run under the shim
// (io.containerd.runc.v2 with BinaryName). Either way the task's processes
// are children of its berth-shim; the backend decides how they get there.

import type { LinuxResources, Process } from '../../runtime/spec/types.js';
import type { Stats } from '../../runtime/cgroups/stats.js';
import type { ProcessIO } from '../../shim/container.js';
import type { ShimHandle } from '../../shim/shims.js';

export interface Backend {
  /** Creates the container (its process waits for start) and returns its pid, registered with the shim. */
  create(id: string, bundle: string, shim: ShimHandle, io: ProcessIO): Promise<number>;
  start(id: string): Promise<void>;
  /** Starts exec process `execId` and returns its pid, registered with the shim. */
  exec(id: string, shim: ShimHandle, execId: string, proc: Process, io: ProcessIO): Promise<number>;
  /** Signals every process of the container (its cgroup). */
  killAll(id: string, signal: number): Promise<void>;
  pause(id: string): Promise<void>;
  resume(id: string): Promise<void>;
  paused(id: string): boolean;
  pids(id: string): Promise<number[]>;
  stats(id: string): Promise<Stats>;
  update(id: string, resources: LinuxResources): Promise<void>;
  /** How many processes the kernel's OOM killer has killed in the container's memory cgroup (0 when unknown). */
  oomKills(id: string): number;
  /** The container's cgroup directories by v1 controller ('' for the unified one); empty when unknown. */
  cgroupPaths(id: string): Record<string, string>;
  /** The memory cgroup file the shim watches for OOM kills (v1 memory.oom_control, v2 memory.events), if any. */
  oomFile(id: string): string | undefined;
  /** Removes what the runtime keeps for the container (cgroups, state), killing what is left. */
  delete(id: string): Promise<void>;
}
