// Benchmark: what writing a container's log costs, berthd against dockerd,
// side by side in one run, through the same docker CLI (28.x):
//   memory  with N chatty containers running (a line every 10 ms each): the
//           RSS of what writes each log (berthd: one berth-logger per
//           container; dockerd: its log copiers live in dockerd, so the growth
//           of dockerd's RSS per container), and each peer's
//           containerd-shim-runc-v2 per container
//   volume  `docker run -d` of a container writing 200000 lines (21 MB) into
//           its json-file log, then `docker wait`: wall time, interleaved
// berthd runs on a real containerd 1.6 started here; dockerd 20.10 on its own
// temp roots. Only ratios of one run mean anything; the load average is
// printed with the figures.
//
//   sudo node --import tsx bench/logs.ts [--containers 5] [--iterations 3] [--json]

import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { readdirSync, readFileSync } from 'node:fs';
import { startContainerd, startDockerd } from '../test/helpers/daemons.js';
import { startRegistry } from '../test/helpers/registry.js';
import { seedImage } from '../test/helpers/seed-registry.js';
import { startBerthd, DOCKER_28 } from '../test/helpers/berthd.js';
import { quantile } from './stats.js';

const arg = (name: string, dflt: number) => Number(process.argv[process.argv.indexOf(name) + 1] || dflt) || dflt;
const containers = arg('--containers', 5);
const iterations = arg('--iterations', 3);
const asJson = process.argv.includes('--json');

function rssKb(pid: number): number {
  try {
    return Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** Processes named `comm` whose environment or command line mentions `marker`. */
function procs(comm: string, marker: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, 'utf8').trim() !== comm) continue;
      const env = readFileSync(`/proc/${d}/environ`, 'utf8') + readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (env.includes(marker)) out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

const median = (xs: number[]) =>
  xs.length
    ? quantile(
        [...xs].sort((a, b) => a - b),
        0.5,
      )
    : 0;

function docker(env: NodeJS.ProcessEnv, args: string[]): string {
  const r = spawnSync(DOCKER_28, args, { env, encoding: 'utf8', timeout: 300000 });
  if (r.status !== 0) throw new Error(`docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const LINE = 'x'.repeat(100);
const ctrd = await startContainerd({ prefix: 'bench-logs-ctrd-' });
const reg = await startRegistry();
const berthd = await startBerthd(ctrd.sock, { namespace: 'bench-logs' });
const dockerd = await startDockerd({ runtimes: {}, prefix: 'bench-logs-dkd-' });
const load = [loadavg()[0]!];
try {
  seedImage(reg.host, 'bench/busybox:latest');
  const img = `${reg.host}/bench/busybox:latest`;
  const peers = [
    { name: 'berthd', env: berthd.env, pid: () => berthd.proc().pid! },
    { name: 'dockerd', env: { ...dockerd.env }, pid: () => dockerd.proc.pid! },
  ];
  for (const p of peers) {
    docker(p.env, ['pull', '-q', img]);
    docker(p.env, ['run', '--rm', '--network', 'none', img, 'true']);
  }

  // memory with N chatty containers
  const memory: Record<string, { daemonGrowthKbPerContainer: number; loggerKb: number; shimKb: number }> = {};
  for (const p of peers) {
    await new Promise((r) => setTimeout(r, 1000));
    const before = rssKb(p.pid());
    const ids = Array.from({ length: containers }, () =>
      docker(p.env, [
        'run',
        '-d',
        '--network',
        'none',
        img,
        'sh',
        '-c',
        `while true; do echo ${LINE}; sleep 0.01; done`,
      ]).trim(),
    );
    await new Promise((r) => setTimeout(r, 5000));
    const after = rssKb(p.pid());
    const loggers = ids.flatMap((id) => procs('berth-logger', `CONTAINER_ID=${id}`)).map(rssKb);
    const shims = ids.flatMap((id) => procs('containerd-shim', id).concat(procs('containerd-shim-runc-v2', id)));
    memory[p.name] = {
      daemonGrowthKbPerContainer: (after - before) / containers,
      loggerKb: median(loggers),
      shimKb: median([...new Set(shims)].map(rssKb)),
    };
    docker(p.env, ['rm', '-f', ...ids]);
  }

  // a 21 MB log
  const volume: Record<string, number[]> = { berthd: [], dockerd: [] };
  const script = `yes ${LINE} | head -n 200000`;
  for (let i = 0; i < iterations; i++) {
    for (const p of i % 2 === 0 ? peers : [...peers].reverse()) {
      const t = process.hrtime.bigint();
      const id = docker(p.env, ['run', '-d', '--network', 'none', img, 'sh', '-c', script]).trim();
      docker(p.env, ['wait', id]);
      volume[p.name]!.push(Number(process.hrtime.bigint() - t) / 1e6);
      docker(p.env, ['rm', id]);
    }
  }
  load.push(loadavg()[0]!);

  const result = {
    containers,
    iterations,
    loadAverage: load,
    memoryKb: memory,
    volumeMedianMs: {
      berthd: median(volume.berthd!),
      dockerd: median(volume.dockerd!),
    },
  };
  if (asJson) console.log(JSON.stringify(result, null, 2));
  else {
    const b = memory.berthd!;
    const d = memory.dockerd!;
    console.log(`load average ${load.map((l) => l.toFixed(1)).join(' -> ')}; ${containers} chatty containers per peer`);
    console.log(
      `per container, what writes the log: berth-logger ${b.loggerKb} kB RSS (berthd grew ${b.daemonGrowthKbPerContainer.toFixed(0)} kB); dockerd grew ${d.daemonGrowthKbPerContainer.toFixed(0)} kB (its copiers are in dockerd)`,
    );
    console.log(`per container, the shim: containerd-shim-runc-v2 ${b.shimKb} kB (berthd), ${d.shimKb} kB (dockerd)`);
    console.log(
      `run -d + wait of a 21 MB log (median of ${iterations}): berthd ${result.volumeMedianMs.berthd.toFixed(0)} ms, dockerd ${result.volumeMedianMs.dockerd.toFixed(0)} ms, ratio ${(result.volumeMedianMs.berthd / result.volumeMedianMs.dockerd).toFixed(2)}`,
    );
  }
} finally {
  await berthd.stop();
  await dockerd.stop();
  await reg.stop();
  await ctrd.stop();
}
