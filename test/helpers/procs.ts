// Processes that the cgroup tests place before they run, and polling for
// what the kernel then reports about them.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { waitUntil } from './wait.js';

/** A file's content, trimmed (cgroup and /proc files end with a newline). */
export const readTrimmed = (p: string): string => readFileSync(p, 'utf8').trim();

/** The state letter of /proc/<pid>/stat: R, S, D, T, Z... */
export const procState = (pid: number): string => readTrimmed(`/proc/${pid}/stat`).replace(/^.*\) /, '')[0]!;

/** waitUntil with the pace of these tests: every 20 ms, for 5 s unless told. */
export const waitFor = (what: string, f: () => boolean, ms = 5000): Promise<void> => waitUntil(what, f, ms, 20);

/**
 * Shells that wait for a line on stdin before running their script, so that
 * each can be placed in a cgroup first; `killAll` is for the file's `after`.
 */
export function waitingShells(): { start(script: string): ChildProcess; killAll(): void } {
  const started: ChildProcess[] = [];
  return {
    start(script) {
      const c = spawn('/bin/sh', ['-c', `read go; ${script}`], { stdio: ['pipe', 'pipe', 'pipe'] });
      started.push(c);
      return c;
    },
    killAll() {
      for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    },
  };
}
