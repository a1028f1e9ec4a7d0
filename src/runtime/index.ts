// The runtime library's public surface: what berth-runc (src/cli/runc) and
// the engine use. The CLI and the engine import this file, never the
// modules behind it.

export {
  Runtime,
  DEFAULT_ROOT,
  parseSignal,
  withDefaultDevices,
  type RuntimeOptions,
  type CreateOptions,
  type ExecOptions,
  type StateDocument,
} from './container.js';
export type { ContainerRecord, Status } from './state.js';
export type { Stats } from './cgroups/stats.js';
export { defaultSpec } from './spec/defaults.js';
export { featuresDocument } from './spec/features.js';
export { parseSpec, parseSpecFile, parseProcess } from './spec/validate.js';
export type * from './spec/types.js';
