// Work done once while the V8 startup snapshot is built, so that every run
// starts with it done: building the config.json schema (zod) and validating
// the default spec compiles most of the validation code.

import { parseSpec } from '../spec/validate.js';
import { defaultSpec } from '../spec/defaults.js';

export function warmUp(): void {
  try {
    parseSpec(JSON.parse(JSON.stringify(defaultSpec({ cgroupNamespace: false }))));
  } catch {
    // A warm-up that fails only costs the speed-up.
  }
}
