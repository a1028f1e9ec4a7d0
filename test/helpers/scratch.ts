// A test file's folder for the files it hands to containers and clients
// (bind sources, tars, env files): made when the file loads, removed by the
// file's after(), whatever the tests did.

import { after } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';

export function scratchDir(prefix: string): string {
  const dir = mkdtempSync(prefix);
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
