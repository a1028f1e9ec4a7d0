// The docker CLI as the berthd benches run it: asynchronously, so that many
// can run at once, its output dropped and its stderr kept for the error when
// it fails.

import { spawn } from 'node:child_process';
import { DOCKER_28 } from '../test/helpers/berthd.js';

/** `docker ARGS` with `env` (DOCKER_HOST and the rest); rejects with its status and stderr unless it exits 0. */
export function docker(env: NodeJS.ProcessEnv, args: string[]): Promise<void> {
  return new Promise((res, rej) => {
    const p = spawn(DOCKER_28, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (b: Buffer) => (err += b.toString()));
    p.on('error', rej);
    p.on('exit', (code) => (code === 0 ? res() : rej(new Error(`docker ${args.join(' ')}: ${code} ${err}`))));
  });
}
