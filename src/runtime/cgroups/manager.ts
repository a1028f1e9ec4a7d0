// One interface over cgroup v1, v2 and the hybrid layout (youki's
// CgroupManager idea). createManager() detects the layout, works out the
// container's directories from cgroupsPath (paths.ts) and returns the
// implementation for this host.

import type { LinuxResources } from '../spec/types.js';
import { detectLayout, type CgroupLayout, type CgroupMode } from './detect.js';
import { attachWithHelper, type DeviceFilterAttacher } from './devices/loader.js';
import { realCgroupFs, type CgroupFs } from './fs.js';
import { innerPath } from './paths.js';
import type { Stats } from './stats.js';
import { V1Manager } from './v1.js';
import { V2Manager } from './v2.js';

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

export interface ManagerOptions {
  /** linux.cgroupsPath from config.json; empty or missing means "/<containerId>". */
  cgroupsPath?: string;
  containerId: string;
  /** Detected from /proc when missing. */
  layout?: CgroupLayout;
  fs?: CgroupFs;
  /** How a v2 device filter is attached; the native helper by default. */
  attachDeviceFilter?: DeviceFilterAttacher;
  /** Settings accepted but ignored (linux.resources.memory.kernel) are reported here. */
  onWarning?: (message: string) => void;
}

export interface ManagerContext {
  layout: CgroupLayout;
  fs: CgroupFs;
  attachDeviceFilter: DeviceFilterAttacher;
  warn: (message: string) => void;
}

export function createManager(opts: ManagerOptions): CgroupManager {
  const fs = opts.fs ?? realCgroupFs;
  const layout = opts.layout ?? detectLayout(fs);
  const inner = innerPath(opts.cgroupsPath, opts.containerId);
  const ctx: ManagerContext = {
    layout,
    fs,
    attachDeviceFilter: opts.attachDeviceFilter ?? attachWithHelper,
    warn: opts.onWarning ?? (() => {}),
  };
  return layout.mode === 'v2' ? new V2Manager(ctx, inner) : new V1Manager(ctx, inner);
}

/**
 * create() then set(): when set() fails (the host refuses a value), the
 * directories create() made are removed again, so a failed container leaves
 * no cgroup behind.
 */
export async function createWithResources(m: CgroupManager, resources: LinuxResources | undefined): Promise<void> {
  await m.create();
  try {
    if (resources) await m.set(resources);
  } catch (e) {
    await m.destroy().catch(() => {});
    throw e;
  }
}
