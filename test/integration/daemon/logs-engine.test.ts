// berthd's log drivers on berth-engine: berth-shim starts berth-logger for
// the binary:// stdout berthd gives each task, as containerd's shim does
// (logs.test.ts). The cases are logs-cases.ts. One engine, one registry,
// one berthd for the file.

import { logsOn } from './logs-cases.js';

logsOn('engine');
