// The contract of a cgroup manager (v1, v2, hybrid), apart from
// createManager() in manager.ts, so that the implementations (v1.ts, v2.ts)
// and the factory that picks one do not import each other.

import type { LinuxResources } from '../spec/types.js';
import type { CgroupLayout, CgroupMode } from './detect.js';
import type { DeviceFilterAttacher } from './devices/loader.js';
import type { CgroupFs } from './fs.js';
import type { Stats } from './stats.js';

export type FreezerState = 'frozen' | 'thawed';

export interface CgroupManager {
  readonly version: CgroupMode;
  /**
   * The container's cgroup directories: by controller on v1 ("memory",
   * "name=systemd"...), "" for the unified directory (v2, and hybrid).
   */
  paths(): Record<string, string>;
  /** Makes the directories (no process yet): cpuset values copied down on v1, controllers enabled on v2. */
  create(): Promise<void>;
  /** The cgroup.procs files the container's init pid must be written into (berth-init does it). */
  procsFiles(): string[];
  /** Moves a process into the container's cgroups (what berth-init does for the init). */
  apply(pid: number): Promise<void>;
  /** Validates and writes the resources; also what `update` calls. */
  set(resources: LinuxResources): Promise<void>;
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  state(): FreezerState;
  /** Every process in the container's cgroup, nested cgroups included. */
  pids(): number[];
  stats(): Stats;
  /**
   * SIGKILLs every process at once through cgroup.kill (v2, and the unified
   * directory on hybrid); false when there is none (pure v1, Linux < 5.14),
   * and the caller signals the pids() one by one.
   */
  killAll(): boolean;
  /** Removes the directories, nested ones too, waiting for exiting processes. */
  destroy(): Promise<void>;
  exists(): boolean;
}

export interface ManagerContext {
  layout: CgroupLayout;
  fs: CgroupFs;
  attachDeviceFilter: DeviceFilterAttacher;
  warn: (message: string) => void;
}
