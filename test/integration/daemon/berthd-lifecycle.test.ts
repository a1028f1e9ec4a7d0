// berthd's healthchecks, update, diff, restart policies, wait, prune and
// checkpoints (./lifecycle-flows.ts) on a real containerd: one containerd,
// one registry and one berthd for the whole file.

import { lifecycleOn } from './lifecycle-flows.js';

lifecycleOn('containerd');
