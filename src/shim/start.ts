// Starting a berth-shim: it daemonizes itself and the command returns once
// its socket is served (or fails with the reason on stderr).

import { execFile } from 'node:child_process';
import { nativeBinary } from '../common/native.js';
import { BerthError } from '../common/errors.js';
import { ShimClient } from './client.js';

/** Where berth-shim lives: $BERTH_SHIM, or the nearest native/build/. */
export function shimBinary(): string {
  return nativeBinary('berth-shim', 'BERTH_SHIM', 'berth-engine');
}

/**
 * Starts a shim serving `dir` (absolute, existing, private to root).
 * `durable: false`: its exit files are not fsynced (state that a reboot voids).
 */
export async function startShim(dir: string, opts: { durable?: boolean } = {}): Promise<ShimClient> {
  const client = new ShimClient(dir); // refuses a socket path too long before anything starts
  await new Promise<void>((resolve, reject) => {
    const args = opts.durable === false ? ['--no-fsync', dir] : [dir];
    execFile(shimBinary(), args, { timeout: 10_000, encoding: 'utf8' }, (err, _out, stderr) => {
      if (!err) return resolve();
      const words = stderr.trim() || err.message;
      reject(new BerthError('berth-engine', 'internal', `start berth-shim for ${dir}: ${words}`, { cause: err }));
    });
  });
  return client;
}
