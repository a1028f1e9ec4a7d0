// Benchmark: berthd against dockerd, side by side in one run, through the same
// docker CLI (/usr/local/bin/docker 28.x):
//   run       `docker run --rm --network none IMG true`, interleaved, medians
//   parallel  20 `docker run -d --network none IMG sleep 60` at once, wall time
//   idle RSS  berthd (+ the containerd or berth-engine it uses) against
//             dockerd (+ the containerd dockerd starts), after the runs, with
//             no container
// berthd runs twice: on a real containerd 1.6 and on bin/berth-engine (each
// started here on a temp root); dockerd 20.10 on its own temp roots with
// --iptables=false --bridge=none. The busybox image comes from a local
// registry. Only ratios of one run mean anything.
//
//   sudo node --import tsx bench/daemon.ts [--iterations 15] [--json]

import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { startContainerd, startDockerd, pidsWithArg } from '../test/helpers/daemons.js';
import { startRegistry } from '../test/helpers/registry.js';
import { seedImage } from '../test/helpers/seed-registry.js';
import { startBerthd, DOCKER_28 } from '../test/helpers/berthd.js';
import { startEngine } from '../test/integration/engine/helpers.js';
import { quantile } from './stats.js';

const iterations = Number(process.argv[process.argv.indexOf('--iterations') + 1] || 15) || 15;
const asJson = process.argv.includes('--json');

function rssKb(pid: number): number {
  try {
    return Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

function timed(env: NodeJS.ProcessEnv, args: string[]): number {
  const t = process.hrtime.bigint();
  const r = spawnSync(DOCKER_28, args, { env, encoding: 'utf8', timeout: 120000 });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`docker ${args.join(' ')}: ${r.stderr}`);
  return ms;
}

async function parallel(env: NodeJS.ProcessEnv, img: string, n: number): Promise<number> {
  const t = process.hrtime.bigint();
  await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<void>((res, rej) => {
          const p = spawn(DOCKER_28, ['run', '-d', '--network', 'none', img, 'sleep', '60'], { env, stdio: 'ignore' });
          p.on('exit', (code) => (code === 0 ? res() : rej(new Error(`docker run -d exited ${code}`))));
        }),
    ),
  );
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  const ids = spawnSync(DOCKER_28, ['ps', '-aq'], { env, encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
  spawnSync(DOCKER_28, ['rm', '-f', ...ids], { env, timeout: 120000 });
  return ms;
}

const ctrd = await startContainerd({ prefix: 'bench-ctrd-' });
const reg = await startRegistry();
const berthd = await startBerthd(ctrd.sock, { namespace: 'bench-berthd' });
const engine = await startEngine('bench-eng-');
const berthdE = await startBerthd(engine.sock, { namespace: 'bench-berthd' });
const dockerd = await startDockerd({ runtimes: {}, prefix: 'bench-dkd-' });
try {
  seedImage(reg.host, 'bench/busybox:latest');
  const img = `${reg.host}/bench/busybox:latest`;
  const peers = [
    { name: 'berthd', env: berthd.env },
    { name: 'dockerd', env: { ...dockerd.env } },
    { name: 'berthd/engine', env: berthdE.env },
  ];
  for (const p of peers) {
    timed(p.env, ['pull', '-q', img]);
    timed(p.env, ['run', '--rm', '--network', 'none', img, 'true']); // warm-up
  }
  const samples: Record<string, number[]> = { berthd: [], dockerd: [], 'berthd/engine': [] };
  for (let i = 0; i < iterations; i++) {
    const order = i % 2 === 0 ? peers : [...peers].reverse();
    for (const p of order) samples[p.name]!.push(timed(p.env, ['run', '--rm', '--network', 'none', img, 'true']));
  }
  const par: Record<string, number> = {};
  for (const p of peers) par[p.name] = await parallel(p.env, img, 20);
  await new Promise((r) => setTimeout(r, 2000));
  const berthdRss = rssKb(berthd.proc().pid!);
  const ctrdRss = rssKb(ctrd.proc.pid!);
  const berthdERss = rssKb(berthdE.proc().pid!);
  const engineRss = rssKb(engine.proc.pid!);
  const dockerdRss = rssKb(dockerd.proc.pid!);
  const dockerCtrdPid = pidsWithArg(`${dockerd.dir}/exec/containerd`).find(
    (p) => readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'containerd',
  );
  const dockerCtrdRss = dockerCtrdPid ? rssKb(dockerCtrdPid) : 0;
  const med = (xs: number[]) =>
    quantile(
      [...xs].sort((a, b) => a - b),
      0.5,
    );
  const result = {
    iterations,
    runMedianMs: {
      berthd: med(samples.berthd!),
      dockerd: med(samples.dockerd!),
      'berthd/engine': med(samples['berthd/engine']!),
    },
    parallel20Ms: par,
    idleRssMB: {
      berthd: berthdRss / 1024,
      containerdUnderBerthd: ctrdRss / 1024,
      dockerd: dockerdRss / 1024,
      containerdUnderDockerd: dockerCtrdRss / 1024,
      berthdOnEngine: berthdERss / 1024,
      engine: engineRss / 1024,
    },
    loadavg: loadavg(),
  };
  if (asJson) console.log(JSON.stringify(result, null, 2));
  else {
    const r = result;
    console.log(
      `docker run --rm busybox true (median of ${iterations}): berthd ${r.runMedianMs.berthd.toFixed(0)} ms, dockerd ${r.runMedianMs.dockerd.toFixed(0)} ms, ratio ${(r.runMedianMs.berthd / r.runMedianMs.dockerd).toFixed(2)}`,
    );
    console.log(
      `20 parallel docker run -d: berthd ${par.berthd!.toFixed(0)} ms, dockerd ${par.dockerd!.toFixed(0)} ms, ratio ${(par.berthd! / par.dockerd!).toFixed(2)}`,
    );
    const e = r.runMedianMs['berthd/engine'];
    console.log(
      `berthd on berth-engine: run ${e.toFixed(0)} ms (ratio ${(e / r.runMedianMs.dockerd).toFixed(2)}), 20 parallel ${par['berthd/engine']!.toFixed(0)} ms (ratio ${(par['berthd/engine']! / par.dockerd!).toFixed(2)})`,
    );
    const i = r.idleRssMB;
    console.log(
      `idle RSS: berthd ${i.berthd.toFixed(1)} MB + containerd ${i.containerdUnderBerthd.toFixed(1)} MB = ${(i.berthd + i.containerdUnderBerthd).toFixed(1)} MB; dockerd ${i.dockerd.toFixed(1)} MB + containerd ${i.containerdUnderDockerd.toFixed(1)} MB = ${(i.dockerd + i.containerdUnderDockerd).toFixed(1)} MB`,
    );
    console.log(
      `idle RSS on berth-engine: berthd ${i.berthdOnEngine.toFixed(1)} MB + berth-engine ${i.engine.toFixed(1)} MB = ${(i.berthdOnEngine + i.engine).toFixed(1)} MB, ratio ${((i.berthdOnEngine + i.engine) / (i.dockerd + i.containerdUnderDockerd)).toFixed(2)}`,
    );
    console.log(`load average ${r.loadavg.map((x) => x.toFixed(1)).join(' ')}`);
  }
} finally {
  await berthd.stop();
  await berthdE.stop();
  await engine.stop();
  await dockerd.stop();
  await reg.stop();
  await ctrd.stop();
}
