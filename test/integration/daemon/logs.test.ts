// berthd's log drivers on a real containerd: containerd-shim-runc-v2 starts
// berth-logger for the binary:// stdout berthd gives each task. The cases
// are logs-cases.ts, shared with logs-engine.test.ts. One containerd, one
// registry, one berthd for the file.

import { logsOn } from './logs-cases.js';

logsOn('containerd');
