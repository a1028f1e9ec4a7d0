// Removing a directory tree that another process may still be emptying.
// Bun's fs.promises.rm(dir, { recursive: true, force: true }) can resolve
// with `dir` still there when an entry of it is unlinked by someone else
// while rm walks it (Bun 1.4.5: about 1 time in 700 in a loop of 2000 with
// one concurrent unlink; Node.js never left one). A task's shim does exactly
// that: it unlinks its socket and pid file as it exits, while the engine
// removes its directory.

import { lstat, rm } from 'node:fs/promises';
import { BerthError, type Layer } from './errors.js';

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** rm -rf `path`, checked: an error if it is still there after a few tries. */
export async function removeTree(path: string, layer: Layer): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    await rm(path, { recursive: true, force: true });
    if (!(await exists(path))) return;
  }
  throw new BerthError(layer, 'internal', `remove ${path}: still there after 5 attempts`);
}
