// A helper process that a test talks to while the code under test runs,
// such as the Python descriptor receivers (Node.js cannot receive
// SCM_RIGHTS): started, and ready once it has said so on stdout.

import { spawn } from 'node:child_process';

export interface Peer {
  /** Everything it printed on stdout, once its stdout has closed. */
  output: Promise<string>;
}

/**
 * Start `cmd` and resolve once its stdout has shown `ready`; reject if it
 * exits or cannot start before that. With `killAfterMs`, it is killed if it
 * is still running that long after it was ready.
 */
export function startPeer(
  cmd: string,
  args: string[],
  ready: string,
  opts: { killAfterMs?: number } = {},
): Promise<Peer> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    let timer: NodeJS.Timeout | undefined;
    const output = new Promise<string>((res) =>
      p.on('close', () => {
        clearTimeout(timer);
        res(out);
      }),
    );
    p.stdout.setEncoding('utf8');
    p.stdout.on('data', (d: string) => {
      const wasReady = out.includes(ready);
      out += d;
      if (wasReady || !out.includes(ready)) return;
      if (opts.killAfterMs !== undefined) timer = setTimeout(() => p.kill('SIGKILL'), opts.killAfterMs);
      // Wrapped: a promise returned as the value would be awaited with it.
      resolve({ output });
    });
    p.on('error', reject);
    p.on('exit', () => reject(new Error(`${cmd} ${args.join(' ')} exited before it was ready: ${out}`)));
  });
}
