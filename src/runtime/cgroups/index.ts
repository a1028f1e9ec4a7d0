// The cgroup layer of the runtime: see manager.ts for the interface.
export { createManager, createWithResources, type CgroupManager } from './manager.js';
export { detectLayout, type CgroupLayout } from './detect.js';
