// The cgroup layer of the runtime: see manager.ts for the interface.
export { createManager, createWithResources, type CgroupManager, type FreezerState, type ManagerOptions } from './manager.js';
export { detectLayout, layoutFrom, parseMountinfo, parseProcCgroup, type CgroupLayout, type CgroupMode, type CgroupMount } from './detect.js';
export { innerPath } from './paths.js';
export { realCgroupFs, MemoryCgroupFs, type CgroupFs } from './fs.js';
export type { Stats } from './stats.js';
export { applyDeviceRules, normalizeDeviceRules, v1DeviceWrites, type DeviceRule, type DeviceState } from './devices/rules.js';
export { deviceFilterProgram } from './devices/ebpf.js';
