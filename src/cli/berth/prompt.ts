// docker's confirmation prompt (prune commands): the warning, "Are you sure
// you want to continue? [y/N] ", then one line read from stdin, whether it is
// a terminal or a pipe; "y" or "yes" (any case) goes on, anything else or EOF
// cancels quietly.

import type { Ctx } from './command.js';

/** One line typed on the terminal, not echoed (a password); raw mode is restored after. */
export function readSecret(prompt: string): Promise<string> {
  return new Promise((resolve) => {
    let buf = '';
    // Echo off before the prompt shows, so that nothing typed after it is echoed.
    process.stdin.setRawMode(true);
    process.stdout.write(prompt);
    const finish = () => {
      process.stdin.setRawMode(false);
      process.stdin.off('data', onData);
      process.stdin.pause();
      resolve(buf);
    };
    const onData = (c: Buffer) => {
      for (const ch of c.toString()) {
        if (ch === '\r' || ch === '\n' || ch === '\x04') return finish();
        if (ch === '\x03') {
          process.stdin.setRawMode(false);
          process.exit(130);
        }
        if (ch === '\x7f' || ch === '\b') buf = buf.slice(0, -1);
        else buf += ch;
      }
    };
    process.stdin.on('data', onData);
    process.stdin.resume();
  });
}

export function readLine(): Promise<string> {
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
