// tasks.Checkpoint: berth-engine has no checkpoint (its runtimes have no
// CRIU support). The answer says why in the words a containerd user knows:
// where CRIU is not installed, containerd's runc shim fails with runc's
// "CRIU version check failed" and the missing executable; that cause comes
// first here too, so the remedy one reads is the same.

import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { BerthError } from '../../../common/errors.js';

function onPath(bin: string): boolean {
  for (const d of (process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(
    delimiter,
  )) {
    try {
      accessSync(join(d, bin), constants.X_OK);
      return true;
    } catch {
      // next
    }
  }
  return false;
}

/** The error a Checkpoint of task `id` gets. */
export function checkpointRefusal(id: string): BerthError {
  if (!onPath('criu'))
    return new BerthError(
      'berth-engine',
      'failed-precondition',
      `checkpoint ${id}: CRIU version check failed: exec: "criu": executable file not found in $PATH`,
    );
  return new BerthError(
    'berth-engine',
    'unimplemented',
    `checkpoint ${id}: not supported by berth-engine (its runtimes have no CRIU support)`,
  );
}
