// Two builds of berth-engine side by side: `ctr run --rm` of a trivial
// container on each, interleaved, with the medians of the wall time and of
// what each engine's debug log says of its tasks.Create and of the create's
// steps (the runtime library's "create ID: ..." lines). For a change to the
// engine, against a build of the commit before it:
//
//   git worktree add --detach /tmp/before <commit> && (cd /tmp/before && npm ci && npm run build)
//   sudo node --import tsx bench/engine-ab.ts /tmp/before [--iterations 20]
//
// Each repository's bin/berth-engine runs on temp roots; needs root, ctr and /bin/busybox.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  closeSync,
  readFileSync,
  readdirSync,
  rmSync,
  rmdirSync,
} from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { makeBusyboxRootfs } from '../test/helpers/busybox.js';
import { median } from './stats.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const other = args.find((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--'));
if (!other) throw new Error('usage: engine-ab.ts <other repository> [--iterations N]');
const ITER = opt('--iterations', 20);
const NS = `bench-ab-${process.pid}`;

interface Peer {
  name: string;
  dir: string;
  sock: string;
  log: string;
  proc: ChildProcess;
  wall: number[];
}

async function start(name: string, repo: string): Promise<Peer> {
  const dir = mkdtempSync(`/tmp/berth-bench-ab-${name}-`);
  const sock = join(dir, 'state/engine.sock');
  const log = join(dir, 'engine.log');
  const fd = openSync(log, 'a');
  const proc = spawn(
    join(repo, 'bin/berth-engine'),
    ['--root', join(dir, 'root'), '--state', join(dir, 'state'), '--address', sock, '--log-level', 'debug'],
    { stdio: ['ignore', fd, fd] },
  );
  closeSync(fd);
  const peer = { name, dir, sock, log, proc, wall: [] };
  for (let i = 0; !existsSync(sock) || spawnSync('ctr', ['-a', sock, 'version']).status !== 0; i++) {
    if (proc.exitCode !== null || i > 300) throw new Error(`${name}: berth-engine did not start (${log})`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return peer;
}

/** Median of each "create ID: step" line's ms, and of tasks.Create's, over the measured runs. */
function steps(peer: Peer, ids: Set<string>): Map<string, number> {
  const acc = new Map<string, number[]>();
  const add = (k: string, ms: number) => acc.set(k, [...(acc.get(k) ?? []), ms]);
  for (const line of readFileSync(peer.log, 'utf8').split('\n')) {
    if (!line) continue;
    const r = JSON.parse(line) as { msg: string; method?: string; container?: string; ms?: number };
    if (r.method === 'tasks.Create' && r.container && ids.has(r.container)) add('tasks.Create', r.ms ?? 0);
    const m = /^create (\S+): (.*)$/.exec(r.msg);
    if (m && ids.has(m[1]!)) add(m[2]!.replace(/ pid \d+$/, ''), r.ms ?? 0);
  }
  return new Map([...acc].map(([k, v]) => [k, median(v)]));
}

async function main(): Promise<void> {
  const work = mkdtempSync('/tmp/berth-bench-ab-');
  const rootfs = join(work, 'rootfs');
  mkdirSync(rootfs);
  makeBusyboxRootfs(rootfs);
  const peers: Peer[] = [];
  const load0 = loadavg();
  const ids = new Set<string>();
  try {
    peers.push(await start('this', resolve(import.meta.dirname, '..')));
    peers.push(await start('other', resolve(other!)));
    for (let i = -2; i < ITER; i++) {
      for (const p of i % 2 ? peers : [...peers].reverse()) {
        const id = `ab-${i + 2}`;
        const t0 = performance.now();
        const r = spawnSync('ctr', ['-a', p.sock, '-n', NS, 'run', '--rm', '--rootfs', rootfs, id, '/bin/true'], {
          encoding: 'utf8',
          timeout: 60000,
        });
        if (r.status !== 0) throw new Error(`${p.name}: ctr run --rm failed: ${r.stderr}`);
        if (i >= 0) {
          p.wall.push(performance.now() - t0);
          ids.add(id);
        }
        await new Promise((res) => setTimeout(res, 60));
      }
    }
    for (const p of peers) {
      console.log(
        `${p.name} (${p.name === 'this' ? 'this repository' : other}): ctr run --rm median ${median(p.wall).toFixed(1)} ms`,
      );
      for (const [k, v] of steps(p, ids)) console.log(`  ${k}: ${v.toFixed(1)} ms`);
    }
    const fmt = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
    console.log(`load average before ${fmt(load0)}, after ${fmt(loadavg())}`);
  } finally {
    for (const p of peers) {
      if (p.proc.exitCode === null) {
        p.proc.kill('SIGTERM');
        await new Promise((r) => p.proc.once('exit', r));
      }
      rmSync(p.dir, { recursive: true, force: true });
    }
    rmSync(work, { recursive: true, force: true });
    for (const d of readdirSync('/sys/fs/cgroup')) {
      try {
        rmdirSync(`/sys/fs/cgroup/${d}/${NS}`);
      } catch {
        // not there
      }
    }
  }
}

await main();
