// berthd's healthchecks, update, diff, restart policies, wait, prune and
// checkpoints (./lifecycle-flows.ts) on berth-engine: the same flows as on
// containerd (berthd-lifecycle.test.ts), one engine, registry and berthd for
// the whole file.

import { lifecycleOn } from './lifecycle-flows.js';

lifecycleOn('engine');
