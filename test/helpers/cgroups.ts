// The host's cgroup layout as the cgroup tests see it: detected once, or
// the reason there is none (a host without cgroups skips those tests).

import { detectLayout, type CgroupLayout } from '../../src/runtime/cgroups/index.js';

export function hostCgroupLayout(): { layout?: CgroupLayout; why?: string } {
  try {
    return { layout: detectLayout() };
  } catch (e) {
    return { why: `no cgroups on this host: ${(e as Error).message}` };
  }
}
