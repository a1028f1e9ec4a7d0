// A test file's scratch directory and the content stores opened in it, all
// closed and removed when the file is done.

import { after } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openContentStore, type LocalContentStore } from '../../src/image/content/store.js';

export interface Scratch {
  /** The directory, for whatever else the tests keep there (certs.d, config dirs). */
  dir: string;
  /** A new, empty content store in a directory of its own. */
  newStore(): LocalContentStore;
}

/** Call at the top of a test file: the cleanup is an `after` hook of the file. */
export function scratchStores(prefix: string): Scratch {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const stores: LocalContentStore[] = [];
  after(() => {
    for (const s of stores) s.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    dir,
    newStore() {
      const s = openContentStore(mkdtempSync(join(dir, 'store-')));
      stores.push(s);
      return s;
    },
  };
}
