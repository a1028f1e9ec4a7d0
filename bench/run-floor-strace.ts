// run-floor.ts's syscall view of a container's kernel work: `berth-runc run`
// of the bundle under `strace -f -T -y`, and which syscalls took the time.
// Calls that only wait for another process or thread (futex, epoll, wait4,
// poll, reads of pipes...) are left out: their time is someone else's work.
// strace slows every syscall down; the ranking, not the sum, is the result.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const WAITING = new Set([
  'futex',
  'epoll_wait',
  'epoll_pwait',
  'epoll_pwait2',
  'wait4',
  'waitid',
  'poll',
  'ppoll',
  'pselect6',
  'select',
  'nanosleep',
  'clock_nanosleep',
  'rt_sigsuspend',
  'pause',
  'restart_syscall',
  'read',
]);

const UNFINISHED = /^(\d+)\s+(\w+)\((.*) <unfinished \.\.\.>$/;
const LINE = /^(\d+)\s+(?:<\.\.\. (\w+) resumed>|(\w+)\()(.*?)\s+=\s+(\S+).*<(\d+\.\d+)>$/;

/** Lines of text: the syscalls by total time, then the slowest single calls. */
export function straceSummary(berthRunc: string, bundle: string, root: string, trace: string): string[] {
  const r = spawnSync(
    'strace',
    [
      '-f',
      '-T',
      '-y',
      '-qq',
      '-s',
      '48',
      '-o',
      trace,
      berthRunc,
      '--root',
      root,
      'run',
      '--bundle',
      bundle,
      'strace-run',
    ],
    { stdio: 'ignore' },
  );
  if (r.status !== 0) return [`strace of berth-runc run: exit ${r.status}`];
  const byName = new Map<string, { n: number; s: number }>();
  const calls: { name: string; s: number; args: string }[] = [];
  // an interrupted call's arguments are on its "<unfinished ...>" line, its time on the "resumed" one
  const pending = new Map<string, string>();
  for (const line of readFileSync(trace, 'utf8').split('\n')) {
    const u = UNFINISHED.exec(line);
    if (u) pending.set(`${u[1]} ${u[2]}`, u[3]!);
    const m = LINE.exec(line);
    if (!m) continue;
    const name = m[2] ?? m[3]!;
    if (WAITING.has(name)) continue;
    const s = Number(m[6]);
    const e = byName.get(name) ?? { n: 0, s: 0 };
    e.n++;
    e.s += s;
    byName.set(name, e);
    const args = m[2] ? (pending.get(`${m[1]} ${name}`) ?? '') + m[4]! : m[4]!;
    calls.push({ name, s, args: args.slice(0, 100) });
  }
  const total = [...byName.values()].reduce((a, b) => a + b.s, 0);
  const top = [...byName.entries()].sort((a, b) => b[1].s - a[1].s).slice(0, 10);
  const slow = calls.sort((a, b) => b.s - a.s).slice(0, 10);
  return [
    `strace -f -T of berth-runc run (CLI, fresh berth-init): ${(total * 1000).toFixed(1)} ms in syscalls that work (waits left out)`,
    ...top.map(
      ([n, e]) => `  ${n.padEnd(14)} ${String(e.n).padStart(4)} calls ${(e.s * 1000).toFixed(2).padStart(8)} ms`,
    ),
    'slowest single calls:',
    ...slow.map(
      (c) => `  ${(c.s * 1000).toFixed(2).padStart(7)} ms  ${c.name}(${c.args}${c.args.endsWith(')') ? '' : '…'}`,
    ),
  ];
}
