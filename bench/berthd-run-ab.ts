// Benchmark: `docker run --rm` and 20 parallel `docker run -d` through two (or
// more) berthd executables, A/B, on one berth-engine, interleaved. Each build
// runs as its own berthd (own roots and containerd namespace) on the same
// engine; the same docker CLI (/usr/local/bin/docker 28) drives them in turn,
// the order reversed every other iteration. Per build: the median wall time of
// `docker run --rm --network none IMG true`, the median of its per-iteration
// ratios to the first build (paired: the load's drift cancels out), berthd's
// own CPU per run (/proc/PID/stat, 10 ms ticks, summed over the runs), the
// medians of berthd's `create/start/exit/remove steps` debug lines, and the
// wall time of rounds of 20 `docker run -d --network none IMG sleep 60` at
// once (each round followed by `rm -f` of all), with their steps' medians.
// Only builds measured in the same run are compared.
//
//   sudo node --import tsx bench/berthd-run-ab.ts [--iterations 20] [--rounds 3] [--json] A/berthd B/berthd ...
//
// The builds are copies of bin/berthd (`node scripts/build.mjs berthd`, then cp).

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { startRegistry } from '../test/helpers/registry.js';
import { seedImage } from '../test/helpers/seed-registry.js';
import { startBerthd, DOCKER_28, type Berthd } from '../test/helpers/berthd.js';
import { startEngine } from '../test/integration/engine/helpers.js';
import { takeOption } from './args.js';
import { docker } from './docker-cli.js';
import { procCpuMs as cpuMs } from './proc.js';
import { median, quantile } from './stats.js';

const args = process.argv.slice(2);
const N = takeOption(args, '--iterations', 20, true);
const ROUNDS = takeOption(args, '--rounds', 3, true);
const asJson = args.includes('--json');
const exes = args.filter((a) => a !== '--json').map((a) => resolve(a));
if (exes.length === 0) throw new Error('usage: berthd-run-ab.ts [--iterations N] [--rounds N] [--json] BERTHD...');
const PARALLEL = 20;

const load = () =>
  loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');

/** The medians of each step of berthd's `KIND steps` debug lines written after byte `from` of its log. */
function stepMedians(b: Berthd, from: number): Record<string, Record<string, number>> {
  const per: Record<string, Record<string, number[]>> = {};
  for (const line of readFileSync(b.logFile, 'utf8').slice(from).split('\n')) {
    const m = /"msg":"(create|start|exit|remove) steps"/.exec(line);
    if (!m) continue;
    const { ms } = JSON.parse(line) as { ms: Record<string, number> };
    const kind = (per[m[1]!] ??= {});
    for (const [k, v] of Object.entries(ms)) (kind[k] ??= []).push(v);
  }
  return Object.fromEntries(
    Object.entries(per).map(([kind, steps]) => [
      kind,
      Object.fromEntries(Object.entries(steps).map(([k, v]) => [k, median(v)])),
    ]),
  );
}

const reg = await startRegistry();
const engine = await startEngine('bench-run-ab-eng-');
const daemons: Berthd[] = [];
const loadBefore = load();
try {
  for (const [i, exe] of exes.entries())
    daemons.push(await startBerthd(engine.sock, { namespace: `bench-run-ab-${i}`, command: [exe] }));
  seedImage(reg.host, 'bench/busybox:latest');
  const img = `${reg.host}/bench/busybox:latest`;
  const runArgs = ['run', '--rm', '--network', 'none', img, 'true'];
  for (const d of daemons) {
    await docker(d.env, ['pull', '-q', img]);
    for (let w = 0; w < 3; w++) await docker(d.env, runArgs);
  }
  const logFrom = daemons.map((d) => readFileSync(d.logFile, 'utf8').length);
  const wall = daemons.map(() => [] as number[]);
  const cpu = daemons.map(() => 0);
  for (let i = 0; i < N; i++) {
    const order = i % 2 === 0 ? [...daemons.keys()] : [...daemons.keys()].reverse();
    for (const k of order) {
      const pid = daemons[k]!.proc().pid!;
      const c0 = cpuMs(pid);
      const t = performance.now();
      await docker(daemons[k]!.env, runArgs);
      wall[k]!.push(performance.now() - t);
      cpu[k]! += cpuMs(pid) - c0;
    }
  }
  const steps = daemons.map((d, k) => stepMedians(d, logFrom[k]!));
  const parFrom = daemons.map((d) => readFileSync(d.logFile, 'utf8').length);
  const par = daemons.map(() => [] as number[]);
  const parCpu = daemons.map(() => 0);
  for (let i = 0; i < ROUNDS; i++) {
    const order = i % 2 === 0 ? [...daemons.keys()] : [...daemons.keys()].reverse();
    for (const k of order) {
      const d = daemons[k]!;
      const pid = d.proc().pid!;
      const c0 = cpuMs(pid);
      const t = performance.now();
      await Promise.all(
        Array.from({ length: PARALLEL }, () => docker(d.env, ['run', '-d', '--network', 'none', img, 'sleep', '60'])),
      );
      par[k]!.push(performance.now() - t);
      parCpu[k]! += cpuMs(pid) - c0;
      const ids = spawnSync(DOCKER_28, ['ps', '-aq'], { env: d.env, encoding: 'utf8' }).stdout.split('\n');
      spawnSync(DOCKER_28, ['rm', '-f', ...ids.filter(Boolean)], { env: d.env, timeout: 120000 });
    }
  }
  const parSteps = daemons.map((d, k) => stepMedians(d, parFrom[k]!));
  const result = exes.map((exe, k) => ({
    build: exe,
    runMedianMs: median(wall[k]!),
    runP90Ms: quantile(
      [...wall[k]!].sort((a, b) => a - b),
      0.9,
    ),
    // the median of this build's run / the first build's run of the same iteration: the load's drift cancels out
    pairedRatio: median(wall[k]!.map((w, i) => w / wall[0]![i]!)),
    berthdCpuMsPerRun: cpu[k]! / N,
    steps: steps[k],
    parallel20Ms: par[k] ?? [],
    parallel20MedianMs: median(par[k]!),
    berthdCpuMsPerParallelRun: parCpu[k]! / (ROUNDS * PARALLEL),
    parallelSteps: parSteps[k],
  }));
  if (asJson)
    console.log(JSON.stringify({ iterations: N, rounds: ROUNDS, result, load: [loadBefore, load()] }, null, 2));
  else {
    const base = result[0]!;
    for (const r of result) {
      console.log(r.build);
      console.log(
        `  run --rm: median ${r.runMedianMs.toFixed(1)} ms (${(r.runMedianMs / base.runMedianMs).toFixed(2)} of the first, paired ${r.pairedRatio.toFixed(2)}), p90 ${r.runP90Ms.toFixed(1)}, berthd CPU ${r.berthdCpuMsPerRun.toFixed(1)} ms/run`,
      );
      for (const [kind, s] of Object.entries(r.steps ?? {}))
        console.log(
          `    ${kind} steps: ${Object.entries(s)
            .map(([k, v]) => `${k} ${v.toFixed(1)}`)
            .join(', ')}`,
        );
      console.log(
        `  ${PARALLEL} parallel run -d: median ${r.parallel20MedianMs.toFixed(0)} ms (${(r.parallel20MedianMs / base.parallel20MedianMs).toFixed(2)}), rounds ${r.parallel20Ms.map((x) => x.toFixed(0)).join(' / ')}, berthd CPU ${r.berthdCpuMsPerParallelRun.toFixed(1)} ms/run`,
      );
      for (const [kind, s] of Object.entries(r.parallelSteps ?? {}))
        console.log(
          `    ${kind} steps: ${Object.entries(s)
            .map(([k, v]) => `${k} ${v.toFixed(1)}`)
            .join(', ')}`,
        );
    }
    console.log(`load average ${loadBefore} -> ${load()}`);
  }
} finally {
  for (const d of daemons) await d.stop();
  await engine.stop();
  await reg.stop();
}
