// docker's confirmation prompt (prune commands): the warning, "Are you sure
// you want to continue? [y/N] ", then one line read from stdin, whether it is
// a terminal or a pipe; "y" or "yes" (any case) goes on, anything else or EOF
// cancels quietly.

import type { Ctx } from './command.js';

function readLine(): Promise<string> {
  return new Promise((resolve) => {
    let buf = '';
    const done = () => {
      process.stdin.off('data', onData);
      process.stdin.off('end', done);
      process.stdin.pause();
      resolve(buf.split('\n')[0] ?? '');
    };
    const onData = (c: Buffer) => {
      buf += c.toString();
      if (buf.includes('\n')) done();
    };
    process.stdin.on('data', onData);
    process.stdin.on('end', done);
    process.stdin.resume();
  });
}

export async function confirm(ctx: Ctx, warning: string): Promise<boolean> {
  ctx.out(`${warning}\nAre you sure you want to continue? [y/N] `);
  const answer = (await readLine()).trim().toLowerCase();
  return answer === 'y' || answer === 'yes';
}
