// Benchmark: berth-engine against containerd 1.6, side by side in one run:
//   start-up     from spawn to the first answered Version call on the socket
//   idle RSS     of the daemon process after start-up and one call each to
//                version, plugins, namespaces (VmRSS from /proc; with its
//                anonymous and file-backed parts, and PSS from smaps_rollup)
//   pull         `ctr images pull --plain-http REF` of a 7-layer image from a
//                local registry (busybox + 6 layers: random data, many small
//                text files, a whiteout), with unpack into overlayfs, through
//                each daemon; the namespace is emptied (images rm --sync,
//                checked) between iterations
// Iterations alternate (engine, containerd, containerd, engine, ...) after
// one warm-up each. Only ratios measured in the same run mean anything.
//
//   sudo node --import tsx bench/engine.ts [--iterations 5] [--json] [--no-pull] [--engine PATH]
//
// --engine runs another build of berth-engine instead of bin/berth-engine
// (to compare builds: one run each, one after the other, with containerd as
// the yardstick in both).
//
// Needs root, the build (node scripts/build.mjs), docker-registry, skopeo,
// containerd and ctr.

import * as grpc from '@grpc/grpc-js';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadavg } from 'node:os';
import { clientConstructor } from '../src/api/load.js';
import { buildImage, startRegistry } from '../test/helpers/registry.js';
import { unmountUnder } from '../test/helpers/daemons.js';
import { pushImage, randomFileTar } from '../test/integration/engine/helpers.js';
import { memOf, type Mem } from './memory.js';
import { containerdConfig, procCpuMs } from './proc.js';
import { quantile } from './stats.js';

const REPO = resolve(import.meta.dirname, '..');
const N = Number(process.argv[process.argv.indexOf('--iterations') + 1] ?? 5) || 5;
const JSON_OUT = process.argv.includes('--json');
const PULL = !process.argv.includes('--no-pull');
const ENGINE = process.argv.includes('--engine')
  ? resolve(process.argv[process.argv.indexOf('--engine') + 1] ?? '')
  : join(REPO, 'bin/berth-engine');

interface Daemon {
  name: string;
  sock: string;
  dir: string;
  proc: ChildProcess;
  startupMs: number;
  /** The daemon's own CPU time (user + system) from exec to its first answer. */
  startupCpuMs: number;
}

function versionOnce(sock: string): Promise<boolean> {
  const Client = clientConstructor('containerd.services.version.v1.Version');
  const c = new Client(`unix://${sock}`, grpc.credentials.createInsecure());
  return new Promise((res) => {
    c.waitForReady(Date.now() + 50, (err) => {
      if (err) {
        c.close();
        res(false);
        return;
      }
      (c as unknown as { Version(req: object, cb: (e: Error | null) => void): void }).Version({}, (e) => {
        c.close();
        res(e === null);
      });
    });
  });
}

async function start(name: string, cmd: string, args: string[], dir: string, sock: string): Promise<Daemon> {
  const t0 = performance.now();
  const proc = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'ignore'] });
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`${name} exited with ${proc.exitCode}`);
    if (existsSync(sock) && (await versionOnce(sock))) break;
    await new Promise((r) => setTimeout(r, 2));
  }
  return { name, sock, dir, proc, startupMs: performance.now() - t0, startupCpuMs: procCpuMs(proc.pid!) };
}

function startEngine(): Promise<Daemon> {
  const dir = mkdtempSync('/tmp/berth-bench-eng-');
  const sock = join(dir, 'engine.sock');
  return start(
    'berth-engine',
    ENGINE,
    ['--root', join(dir, 'root'), '--state', join(dir, 'state'), '--address', sock, '--log-level', 'warn'],
    dir,
    sock,
  );
}

function startContainerd(): Promise<Daemon> {
  const dir = mkdtempSync('/tmp/berth-bench-ctrd-');
  const sock = join(dir, 'containerd.sock');
  return start('containerd', 'containerd', ['--config', containerdConfig(dir, sock)], dir, sock);
}

async function stop(d: Daemon): Promise<void> {
  d.proc.kill('SIGTERM');
  await new Promise((r) => (d.proc.exitCode !== null ? r(null) : d.proc.once('exit', r)));
  unmountUnder(d.dir);
  rmSync(d.dir, { recursive: true, force: true });
}

function ctr(d: Daemon, args: string[]): string {
  const r = spawnSync('ctr', ['-a', d.sock, '-n', 'bench', ...args], { encoding: 'utf8', timeout: 600000 });
  if (r.status !== 0) throw new Error(`${d.name}: ctr ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function textFilesTar(count: number): Buffer {
  const d = mkdtempSync('/tmp/berth-bench-txt-');
  try {
    for (let i = 0; i < count; i++) {
      const sub = join(d, `dir${i % 40}`);
      mkdirSync(sub, { recursive: true });
      writeFileSync(join(sub, `f${i}.txt`), randomBytes(200 + (i % 3000)).toString('base64'));
    }
    return spawnSync('tar', ['-C', d, '--numeric-owner', '-cf', '-', '.'], { maxBuffer: 1 << 30 }).stdout;
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
}

function stats(xs: number[]): { median: number; p10: number; p90: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { median: quantile(s, 0.5), p10: quantile(s, 0.1), p90: quantile(s, 0.9) };
}

async function main(): Promise<void> {
  const load0 = loadavg();
  // 1. start-up and idle RSS: fresh daemons, N times each, alternating.
  const startup: Record<string, number[]> = { 'berth-engine': [], containerd: [] };
  const startupCpu: Record<string, number[]> = { 'berth-engine': [], containerd: [] };
  const mem: Record<string, Mem[]> = { 'berth-engine': [], containerd: [] };
  for (let i = 0; i < N + 1; i++) {
    const order = i % 2 === 0 ? [startEngine, startContainerd] : [startContainerd, startEngine];
    for (const s of order) {
      const d = await s();
      for (const a of [['version'], ['plugins', 'ls'], ['namespaces', 'ls']]) ctr(d, a);
      await new Promise((r) => setTimeout(r, 500));
      if (i > 0) {
        startup[d.name]!.push(d.startupMs);
        startupCpu[d.name]!.push(d.startupCpuMs);
        mem[d.name]!.push(memOf(d.proc.pid!));
      }
      await stop(d);
    }
  }

  // 2. pull of a 7-layer image through each: wall time, the daemon's CPU
  // time (its own process: ctr 1.6 pulls client-side, the daemon writes the
  // content and applies the layers), and its memory after the pulls and 2 s
  // idle.
  const pulls: Record<string, number[]> = { 'berth-engine': [], containerd: [] };
  const pullCpu: Record<string, number[]> = { 'berth-engine': [], containerd: [] };
  const afterPulls: Record<string, Mem> = {};
  let image: { layers: number; compressedMiB: number } | undefined;
  if (PULL) {
    const reg = await startRegistry();
    const img = buildImage({
      extraLayers: [
        randomFileTar('r1.bin', 20 << 20),
        textFilesTar(3000),
        randomFileTar('r2.bin', 10 << 20),
        textFilesTar(1500),
        randomFileTar('r3.bin', 5 << 20),
        textFilesTar(500),
      ],
    });
    image = { layers: img.layers.length, compressedMiB: img.layers.reduce((n, l) => n + l.size, 0) / (1 << 20) };
    const ref = pushImage(reg, img, 'bench/seven');
    const eng = await startEngine();
    const ctrd = await startContainerd();
    try {
      for (let i = 0; i < N + 1; i++) {
        for (const d of i % 2 === 0 ? [eng, ctrd] : [ctrd, eng]) {
          spawnSync('sync');
          const c0 = procCpuMs(d.proc.pid!);
          const t0 = performance.now();
          ctr(d, ['images', 'pull', '--plain-http', ref]);
          const ms = performance.now() - t0;
          if (i > 0) {
            pulls[d.name]!.push(ms);
            pullCpu[d.name]!.push(procCpuMs(d.proc.pid!) - c0);
          }
          ctr(d, ['images', 'rm', '--sync', ref]);
          if (ctr(d, ['content', 'ls', '-q']).trim() !== '')
            throw new Error(`${d.name}: content left after images rm --sync`);
        }
      }
      await new Promise((r) => setTimeout(r, 2000));
      for (const d of [eng, ctrd]) afterPulls[d.name] = memOf(d.proc.pid!);
    } finally {
      await stop(eng);
      await stop(ctrd);
      await reg.stop();
    }
  }

  const memStats = (xs: Mem[]) => ({
    rss: stats(xs.map((x) => x.rss)),
    anon: stats(xs.map((x) => x.anon)),
    file: stats(xs.map((x) => x.file)),
    pss: stats(xs.map((x) => x.pss)),
  });
  const out = {
    iterations: N,
    image,
    startupMs: { engine: stats(startup['berth-engine']!), containerd: stats(startup.containerd!) },
    startupCpuMs: { engine: stats(startupCpu['berth-engine']!), containerd: stats(startupCpu.containerd!) },
    idleMemMiB: { engine: memStats(mem['berth-engine']!), containerd: memStats(mem.containerd!) },
    pullMs: PULL ? { engine: stats(pulls['berth-engine']!), containerd: stats(pulls.containerd!) } : undefined,
    pullCpuMs: PULL ? { engine: stats(pullCpu['berth-engine']!), containerd: stats(pullCpu.containerd!) } : undefined,
    afterPullsMiB: PULL ? { engine: afterPulls['berth-engine'], containerd: afterPulls.containerd } : undefined,
    load: { before: load0, after: loadavg() },
  };
  if (JSON_OUT) {
    console.log(JSON.stringify(out, null, 2));
    return;
  }
  const row = (what: string, e: { median: number }, c: { median: number }, unit: string) =>
    console.log(
      `${what.padEnd(34)} ${e.median.toFixed(1).padStart(9)} ${unit}  ${c.median.toFixed(1).padStart(9)} ${unit}  ${(e.median / c.median).toFixed(2)}x`,
    );
  const one = (x: number) => ({ median: x });
  console.log(
    `${N} iterations${image ? `, image: ${image.layers} layers, ${image.compressedMiB.toFixed(1)} MiB compressed` : ''}; ` +
      `load ${load0.map((x) => x.toFixed(2)).join(' ')} before, ${out.load.after.map((x) => x.toFixed(2)).join(' ')} after`,
  );
  console.log(`${''.padEnd(34)} ${'berth-engine'.padStart(12)}  ${'containerd'.padStart(12)}  ratio`);
  const e = out.idleMemMiB.engine;
  const c = out.idleMemMiB.containerd;
  row('start-up to first Version answer', out.startupMs.engine, out.startupMs.containerd, 'ms ');
  row('  CPU time of the daemon', out.startupCpuMs.engine, out.startupCpuMs.containerd, 'ms ');
  row('idle RSS', e.rss, c.rss, 'MiB');
  row('  anonymous', e.anon, c.anon, 'MiB');
  row('  file-backed', e.file, c.file, 'MiB');
  row('idle PSS', e.pss, c.pss, 'MiB');
  if (out.pullMs && out.pullCpuMs && out.afterPullsMiB) {
    row('ctr images pull (with unpack)', out.pullMs.engine, out.pullMs.containerd, 'ms ');
    row('  CPU time of the daemon', out.pullCpuMs.engine, out.pullCpuMs.containerd, 'ms ');
    const ae = out.afterPullsMiB.engine!;
    const ac = out.afterPullsMiB.containerd!;
    row(`RSS after ${N + 1} pulls, 2 s idle`, one(ae.rss), one(ac.rss), 'MiB');
    row(`PSS after ${N + 1} pulls, 2 s idle`, one(ae.pss), one(ac.pss), 'MiB');
  }
}

await main();
