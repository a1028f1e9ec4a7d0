// "Is this process still the one we recorded?": a pid alone cannot say, as
// the kernel reuses pids; a pid with its start time (field 22 of
// /proc/<pid>/stat, clock ticks since boot) can. Every record of a process
// that may outlive its writer (a container's init, a lock owner, an unpack
// in progress, a temp directory) keeps both, as "<pid> <start time>", and
// asks isProcessAlive(). Zombies count as gone.

import { readFileSync } from 'node:fs';
import { errnoOf } from './errors.js';

export interface ProcStat {
  /** Field 3: R, S, D, Z, T... */
  state: string;
  /** Field 22. */
  startTime: string;
}

/** State and start time of a process, or undefined if there is no such process. */
export function procStat(pid: number): ProcStat | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may contain anything.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: rest[0] ?? '?', startTime: rest[19] ?? '' };
}

/** Field 22 of /proc/<pid>/stat, or undefined if there is no such process. */
export function processStartTime(pid: number): string | undefined {
  return procStat(pid)?.startTime;
}

/**
 * Whether `pid` is alive and, when `startTime` is given, still the process
 * that had it. Without /proc (never on Linux hosts Berth runs on, but cheap
 * to keep right) it falls back to signal 0, which cannot tell a reused pid.
 */
export function isProcessAlive(pid: number, startTime?: string): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  const s = procStat(pid);
  if (s === undefined) {
    if (procMounted()) return false;
    try {
      process.kill(pid, 0);
      return true;
    } catch (e) {
      return errnoOf(e) === 'EPERM';
    }
  }
  if (s.state === 'Z' || s.state === 'X') return false;
  return startTime === undefined || startTime === s.startTime;
}

let procChecked: boolean | undefined;
function procMounted(): boolean {
  if (procChecked === undefined) procChecked = procStat(process.pid) !== undefined;
  return procChecked;
}

/** This process as a record: "<pid> <start time>". */
export function selfIdentity(): string {
  return `${process.pid} ${processStartTime(process.pid) ?? '0'}`;
}

/**
 * Whether the process a record names ("<pid> <start time>", or a bare pid
 * from an older record) is alive. A bare pid cannot tell reuse; a malformed
 * record names no process.
 */
export function isIdentityAlive(record: string): boolean {
  const m = /^(\d+)(?: (\d+))?$/.exec(record.trim());
  if (!m) return false;
  return isProcessAlive(Number(m[1]), m[2]);
}
