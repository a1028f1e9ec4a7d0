// berthd's public surface: what its command line (src/cli/berthd) uses.

export { parseArgs, USAGE, DEFAULTS, type DaemonConfig, type ParsedArgs } from './config.js';
export { startDaemon, type Daemon } from './daemon.js';
export { BERTHD_VERSION } from './system.js';
