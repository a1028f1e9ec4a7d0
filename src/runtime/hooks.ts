// Hooks that run in the runtime's namespace (prestart, createRuntime,
// poststart, poststop): the state on stdin, a timeout, and the spec's
// failure rules applied by the callers.

import { spawn } from 'node:child_process';
import { BerthError } from '../common/errors.js';
import type { Hook } from './spec/types.js';

export function runHook(hook: Hook, kind: string, state: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const args = hook.args && hook.args.length > 0 ? hook.args : [hook.path];
    const child = spawn(hook.path, args.slice(1), {
      argv0: args[0],
      env: Object.fromEntries(
        (hook.env ?? []).map((e) => {
          const i = e.indexOf('=');
          return i < 0 ? [e, ''] : [e.slice(0, i), e.slice(i + 1)];
        }),
      ),
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let stderr = '';
    let timedOut = false;
    const timer = hook.timeout
      ? setTimeout(() => {
          timedOut = true;
          child.kill('SIGKILL');
        }, hook.timeout * 1000)
      : undefined;
    child.stderr?.on('data', (d: Buffer) => {
      if (stderr.length < 4096) stderr += d.toString();
    });
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(state);
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(new BerthError('runtime', 'failed-precondition', `${kind} hook ${hook.path}: ${e.message}`, { cause: e }));
    });
    child.on('exit', (code, sig) => {
      if (timer) clearTimeout(timer);
      if (timedOut)
        return reject(
          new BerthError(
            'runtime',
            'failed-precondition',
            `${kind} hook ${hook.path}: timed out after ${hook.timeout}s`,
          ),
        );
      if (code === 0) return resolve();
      const why = sig ? `killed by ${sig}` : `exit status ${code}`;
      reject(
        new BerthError(
          'runtime',
          'failed-precondition',
          `${kind} hook ${hook.path}: ${why}${stderr.trim() ? `: ${stderr.trim()}` : ''}`,
        ),
      );
    });
  });
}

export async function runHooks(hooks: Hook[] | undefined, kind: string, state: string): Promise<void> {
  for (const h of hooks ?? []) await runHook(h, kind, state);
}
