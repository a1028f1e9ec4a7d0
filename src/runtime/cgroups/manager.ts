// One interface over cgroup v1, v2 and the hybrid layout (youki's
// CgroupManager idea). createManager() detects the layout, works out the
// container's directories from cgroupsPath (paths.ts) and returns the
// implementation for this host.

import type { LinuxResources } from '../spec/types.js';
import { detectLayout, type CgroupLayout } from './detect.js';
import { attachWithHelper, type DeviceFilterAttacher } from './devices/loader.js';
import { realCgroupFs, type CgroupFs } from './fs.js';
import { innerPath } from './paths.js';
import { V1Manager } from './v1.js';
import { V2Manager } from './v2.js';
import type { CgroupManager, ManagerContext } from './types.js';

export type { CgroupManager } from './types.js';

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
