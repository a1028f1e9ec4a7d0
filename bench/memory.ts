// Shared by the benchmarks: a process's memory as the kernel counts it, in
// MiB: VmRSS with its anonymous and file-backed parts (/proc/PID/status), and
// PSS (/proc/PID/smaps_rollup), which splits pages shared with other processes.

import { readFileSync } from 'node:fs';

export interface Mem {
  rss: number;
  anon: number;
  file: number;
  pss: number;
}

export function memOf(pid: number): Mem {
  const kb = (text: string, key: string) =>
    Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) / 1024;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  return {
    rss: kb(status, 'VmRSS'),
    anon: kb(status, 'RssAnon'),
    file: kb(status, 'RssFile'),
    pss: kb(rollup, 'Pss'),
  };
}
