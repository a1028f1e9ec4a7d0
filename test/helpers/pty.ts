// Drive an interactive program through a real terminal: util-linux `script`
// gives it a pty, and the test types into it only after it has seen what it
// waits for (a prompt, a result), so that nothing depends on sleeps.

import { spawn } from 'node:child_process';

export interface TtyStep {
  /** Wait until the output since the previous step matches this. */
  expect: RegExp;
  /** Then type this (include "\r" or "\n" to submit). */
  send?: string;
}

export interface TtyResult {
  code: number | null;
  /** Everything the terminal showed (with the echoed input and escapes). */
  output: string;
  timedOut: boolean;
}

function shellQuote(a: string): string {
  return /^[A-Za-z0-9_/.:=@%+,-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

/** Run `argv` on a new pty, play `steps`, and wait for it to exit. */
export function driveTty(
  argv: string[],
  steps: TtyStep[],
  opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<TtyResult> {
  const cmd = argv.map(shellQuote).join(' ');
  const child = spawn('script', ['-qfec', cmd, '/dev/null'], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: opts.env ?? process.env,
  });
  let output = '';
  let sinceStep = '';
  let i = 0;
  let timedOut = false;
  const advance = () => {
    for (;;) {
      const s = steps[i];
      const m = s ? s.expect.exec(sinceStep) : null;
      if (!s || !m) return;
      i++;
      // What followed the match counts for the next step.
      sinceStep = sinceStep.slice(m.index + m[0].length);
      if (s.send !== undefined) child.stdin.write(s.send);
    }
  };
  const onData = (d: Buffer) => {
    const t = d.toString('utf8');
    output += t;
    sinceStep += t;
    advance();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  child.stdin.on('error', () => undefined);
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }, opts.timeoutMs ?? 30000);
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      child.stdin.destroy();
      resolve({ code, output, timedOut });
    });
  });
}
