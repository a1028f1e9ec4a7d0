// Benchmark: berthd against dockerd, side by side in one run, through the same
// docker CLI (/usr/local/bin/docker 28.x):
//   run       `docker run --rm --network none IMG true`, interleaved, medians
//   parallel  20 `docker run -d --network none IMG sleep 60` at once, wall time
//   idle      RSS and PSS (/proc/PID/smaps_rollup) of berthd (+ the containerd
//             or berth-engine it uses) against dockerd (+ the containerd
//             dockerd starts): fresh (after start-up, before any request),
//             2 s after the runs (no container left) and 35 s after them
//             (once berthd's and the engine's idle trim has shrunk them:
//             src/common/idle-trim.ts; --no-long-idle leaves that out)
// berthd runs twice: on a real containerd 1.6 and on bin/berth-engine (each
// started here on a temp root); dockerd 20.10 on its own temp roots with
// --iptables=false --bridge=none. With --node, also the Node.js build of
// berthd (`node bin/berthd.js`, as the launcher runs it) on a containerd of its
// own, to compare the two builds of the same code. The busybox image comes
// from a local registry. Only ratios of one run mean anything. PSS splits a
// page shared by several processes between them (the mapped executable of two
// processes of one binary, a library): what the pair costs the machine.
//
//   sudo node --import tsx bench/daemon.ts [--iterations 15] [--node] [--json] [--no-long-idle]

import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { startContainerd, startDockerd, pidsWithArg } from '../test/helpers/daemons.js';
import { startRegistry } from '../test/helpers/registry.js';
import { seedImage } from '../test/helpers/seed-registry.js';
import { startBerthd, DOCKER_28 } from '../test/helpers/berthd.js';
import { startEngine } from '../test/integration/engine/helpers.js';
import { memOf, type Mem } from './memory.js';
import { median as med } from './stats.js';

const iterations = Number(process.argv[process.argv.indexOf('--iterations') + 1] || 15) || 15;
const asJson = process.argv.includes('--json');
const withNode = process.argv.includes('--node');
const longIdle = !process.argv.includes('--no-long-idle');

/** RSS and PSS in MiB; zeros for a process that is gone. */
function rssPss(pid: number | undefined): Pick<Mem, 'rss' | 'pss'> {
  try {
    const { rss, pss } = memOf(pid ?? NaN);
    return { rss, pss };
  } catch {
    return { rss: 0, pss: 0 };
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
const ctrdN = withNode ? await startContainerd({ prefix: 'bench-ctrdn-' }) : undefined;
const berthdN = ctrdN
  ? await startBerthd(ctrdN.sock, {
      namespace: 'bench-berthd',
      command: [process.execPath, '--max-semi-space-size=1', join(import.meta.dirname, '../bin/berthd.js')],
    })
  : undefined;
try {
  seedImage(reg.host, 'bench/busybox:latest');
  const img = `${reg.host}/bench/busybox:latest`;
  const dockerCtrdPid = () =>
    pidsWithArg(`${dockerd.dir}/exec/containerd`).find(
      (p) => readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'containerd',
    );
  /** Every daemon's memory now, by the names the report uses. */
  const idle = () => ({
    berthd: rssPss(berthd.proc().pid),
    containerdUnderBerthd: rssPss(ctrd.proc.pid),
    dockerd: rssPss(dockerd.proc.pid),
    containerdUnderDockerd: rssPss(dockerCtrdPid()),
    berthdOnEngine: rssPss(berthdE.proc().pid),
    engine: rssPss(engine.proc.pid),
    ...(berthdN && ctrdN
      ? { berthdNode: rssPss(berthdN.proc().pid), containerdUnderBerthdNode: rssPss(ctrdN.proc.pid) }
      : {}),
  });
  await new Promise((r) => setTimeout(r, 2000));
  const fresh = idle();
  const peers = [
    { name: 'berthd', env: berthd.env },
    { name: 'dockerd', env: { ...dockerd.env } },
    { name: 'berthd/engine', env: berthdE.env },
    ...(berthdN ? [{ name: 'berthd-node', env: berthdN.env }] : []),
  ];
  for (const p of peers) {
    timed(p.env, ['pull', '-q', img]);
    timed(p.env, ['run', '--rm', '--network', 'none', img, 'true']); // warm-up
  }
  const samples: Record<string, number[]> = Object.fromEntries(peers.map((p) => [p.name, []]));
  for (let i = 0; i < iterations; i++) {
    const order = i % 2 === 0 ? peers : [...peers].reverse();
    for (const p of order) samples[p.name]!.push(timed(p.env, ['run', '--rm', '--network', 'none', img, 'true']));
  }
  const par: Record<string, number> = {};
  for (const p of peers) par[p.name] = await parallel(p.env, img, 20);
  await new Promise((r) => setTimeout(r, 2000));
  const after = idle();
  // The same daemons 35 s after the runs: past the idle trim's shrink (30 s of quiet).
  if (longIdle) await new Promise((r) => setTimeout(r, 33_000));
  const after35s = longIdle ? idle() : undefined;
  const result = {
    iterations,
    runMedianMs: Object.fromEntries(peers.map((p) => [p.name, med(samples[p.name]!)])) as Record<string, number>,
    parallel20Ms: par,
    idleMB: { fresh, after, ...(after35s ? { after35s } : {}) },
    loadavg: loadavg(),
  };
  if (asJson) console.log(JSON.stringify(result, null, 2));
  else {
    const r = result;
    const d = r.runMedianMs.dockerd!;
    console.log(
      `docker run --rm busybox true (median of ${iterations}): berthd ${r.runMedianMs.berthd!.toFixed(0)} ms, dockerd ${d.toFixed(0)} ms, ratio ${(r.runMedianMs.berthd! / d).toFixed(2)}`,
    );
    console.log(
      `20 parallel docker run -d: berthd ${par.berthd!.toFixed(0)} ms, dockerd ${par.dockerd!.toFixed(0)} ms, ratio ${(par.berthd! / par.dockerd!).toFixed(2)}`,
    );
    for (const name of ['berthd/engine', 'berthd-node']) {
      const e = r.runMedianMs[name];
      if (e === undefined) continue;
      console.log(
        `${name}: run ${e.toFixed(0)} ms (ratio ${(e / d).toFixed(2)}), 20 parallel ${par[name]!.toFixed(0)} ms (ratio ${(par[name]! / par.dockerd!).toFixed(2)})`,
      );
    }
    for (const [when, m] of Object.entries(r.idleMB)) {
      const docker = {
        rss: m.dockerd.rss + m.containerdUnderDockerd.rss,
        pss: m.dockerd.pss + m.containerdUnderDockerd.pss,
      };
      const pair = (label: string, a: Pick<Mem, 'rss' | 'pss'>, b: Pick<Mem, 'rss' | 'pss'>, bName: string) => {
        const rss = a.rss + b.rss;
        const pss = a.pss + b.pss;
        console.log(
          `idle ${when}: ${label} RSS ${a.rss.toFixed(1)} + ${bName} ${b.rss.toFixed(1)} = ${rss.toFixed(1)} MB (${(rss / docker.rss).toFixed(2)}), PSS ${a.pss.toFixed(1)} + ${b.pss.toFixed(1)} = ${pss.toFixed(1)} MB (${(pss / docker.pss).toFixed(2)})`,
        );
      };
      pair('dockerd', m.dockerd, m.containerdUnderDockerd, 'containerd');
      pair('berthd', m.berthd, m.containerdUnderBerthd, 'containerd');
      pair('berthd', m.berthdOnEngine, m.engine, 'berth-engine');
      if (m.berthdNode && m.containerdUnderBerthdNode)
        pair('berthd (Node.js)', m.berthdNode, m.containerdUnderBerthdNode, 'containerd');
    }
    console.log(`load average ${r.loadavg.map((x) => x.toFixed(1)).join(' ')}`);
  }
} finally {
  await berthdN?.stop();
  await ctrdN?.stop();
  await berthd.stop();
  await berthdE.stop();
  await engine.stop();
  await dockerd.stop();
  await reg.stop();
  await ctrd.stop();
}
