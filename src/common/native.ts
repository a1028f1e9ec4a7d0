// Finds Berth's native helpers (native/build/<name>): $<ENV> when set, else
// $BERTH_NATIVE_DIR (set by the launchers), else native/build/ beside the
// executable's directory (bin/berth-runc compiled by Bun is its own
// executable), else the nearest native/build/ above this module, which works
// from the sources (tsx), from the bundles in bin/, and from an installed
// copy alike.

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BerthError, type Layer } from './errors.js';

const cache = new Map<string, string>();

export function nativeBinary(name: string, envVar: string, layer: Layer = 'runtime'): string {
  const env = process.env[envVar];
  if (env) return env;
  const hit = cache.get(name);
  if (hit) return hit;
  // Set by the bin/ launchers, which know where they are.
  const dirEnv = process.env['BERTH_NATIVE_DIR'];
  if (dirEnv && existsSync(join(dirEnv, name))) {
    cache.set(name, join(dirEnv, name));
    return join(dirEnv, name);
  }
  const besideExe = join(dirname(process.execPath), '..', 'native/build', name);
  if (existsSync(besideExe)) {
    cache.set(name, besideExe);
    return besideExe;
  }
  let dir = moduleDir();
  for (;;) {
    const candidate = join(dir, 'native/build', name);
    if (existsSync(candidate)) {
      cache.set(name, candidate);
      return candidate;
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new BerthError(
    layer,
    'unavailable',
    `${name} not found in native/build/ beside ${process.execPath} nor above ${moduleDir()}; build it with "make -C native" or set ${envVar}`,
  );
}

function moduleDir(): string {
  // A Bun executable's modules live in its own virtual file system.
  return import.meta.url.startsWith('file:') ? dirname(fileURLToPath(import.meta.url)) : '/';
}
