// Benchmark: the fresh idle memory of two (or more) berthd executables, A/B,
// on one berth-engine. Each iteration starts every build in turn (the order
// reversed every other iteration), each with its own roots and namespace,
// asks it once for /_ping, leaves it idle, reads its memory (VmRSS, its
// anonymous and file-backed parts, PSS) and stops it. Builds differ by a
// megabyte or two, less than the machine's drift over a run, so only builds
// measured in the same run are compared. berthd runs with cwd / (as its
// systemd unit does): a Bun executable reads bunfig.toml and .env from its
// working directory.
//
//   sudo node --import tsx bench/berthd-ab.ts [--iterations 4] [--idle-ms 3000] A/berthd B/berthd ...
//
// Needs the build (bin/berth-engine) and curl; the builds under test are
// copies of bin/berthd made by `node scripts/build.mjs berthd`.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { takeOption } from './args.js';
import { memOf, type Mem } from './memory.js';
import { quantile } from './stats.js';

const REPO = resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const N = takeOption(args, '--iterations', 4);
const IDLE_MS = takeOption(args, '--idle-ms', 3000);
const exes = args.map((a) => resolve(a));
if (exes.length === 0) throw new Error('usage: berthd-ab.ts [--iterations N] [--idle-ms MS] BERTHD...');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(path: string): Promise<void> {
  for (let i = 0; i < 200 && !existsSync(path); i++) await sleep(50);
  if (!existsSync(path)) throw new Error(`${path} did not appear`);
}

async function ping(sock: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const r = spawnSync('curl', ['-s', '--unix-socket', sock, 'http://d/_ping'], { encoding: 'utf8' });
    if (r.stdout === 'OK') return;
    await sleep(50);
  }
  throw new Error(`${sock}: no answer to /_ping`);
}

const load = () =>
  loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');

const work = mkdtempSync(join(tmpdir(), 'berth-bench-berthd-ab-'));
const engSock = join(work, 'engine.sock');
const engine = spawn(
  join(REPO, 'bin/berth-engine'),
  ['--root', join(work, 'eroot'), '--state', join(work, 'estate'), '--address', engSock, '--log-level', 'warn'],
  { stdio: 'ignore' },
);
const results = new Map<string, Mem[]>(exes.map((e) => [e, []]));
const loadBefore = load();
try {
  await waitFor(engSock);
  for (let i = 0; i < N; i++) {
    const order = i % 2 === 0 ? exes : [...exes].reverse();
    for (const exe of order) {
      const d = join(work, `d${i}-${exes.indexOf(exe)}`);
      const sock = join(d, 'berthd.sock');
      const p = spawn(
        exe,
        [
          ...['--containerd', engSock, '--data-root', join(d, 'data'), '--exec-root', join(d, 'exec')],
          ...['-H', `unix://${sock}`, '--log-level', 'warn', '--containerd-namespace', `berthdab${i}`],
          ...['--bridge', 'none', '--iptables=false', '--ip-forward=false'],
        ],
        { stdio: ['ignore', 'ignore', 'inherit'], cwd: '/' },
      );
      const exited = new Promise((r) => p.once('exit', r));
      try {
        await waitFor(sock);
        await ping(sock);
        await sleep(IDLE_MS);
        results.get(exe)!.push(memOf(p.pid!));
      } finally {
        p.kill('SIGTERM');
        await exited;
      }
    }
  }
} finally {
  engine.kill('SIGTERM');
  await new Promise((r) => (engine.exitCode === null ? engine.once('exit', r) : r(undefined)));
  rmSync(work, { recursive: true, force: true });
}

console.log(
  `berthd fresh idle memory, ${N} iterations, ${IDLE_MS} ms idle, MiB, medians (load ${loadBefore} -> ${load()})`,
);
console.log(`${'build'.padEnd(48)}    RSS   anon   file    PSS  every RSS`);
for (const [exe, ms] of results) {
  const med = (k: keyof Mem) =>
    quantile(
      ms.map((m) => m[k]).sort((a, b) => a - b),
      0.5,
    )
      .toFixed(1)
      .padStart(6);
  console.log(
    `${exe.padEnd(48)} ${med('rss')} ${med('anon')} ${med('file')} ${med('pss')}  ${ms.map((m) => m.rss.toFixed(1)).join(',')}`,
  );
}
