// Start-up of the berth CLI against the docker CLI (28.x), side by side in
// one run: `version --format '{{.Client.Version}}'`, `version` (asks the
// daemon) and `ps` (a list of 5 containers), each against one dockerd started
// here on a temporary root and socket. Iterations are interleaved; medians,
// p90, the mean CPU time (user + system, less noisy on a shared host) and the
// ratios to docker are printed.
//
//   sudo node --import tsx bench/cli.ts [--iterations 30] [--json]

import { execSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { startDockerd } from '../test/helpers/daemons.js';
import { makeBundleDir } from '../test/helpers/busybox.js';
import { childrenCpuMs } from './proc.js';
import { quantile } from './stats.js';

const REPO = join(import.meta.dirname, '..');
const BERTH = join(REPO, 'bin/berth');
const DOCKER = '/usr/local/bin/docker';
const argv = process.argv.slice(2);
const N = Number(argv[argv.indexOf('--iterations') + 1] || 30) || 30;
const asJson = argv.includes('--json');

if (!existsSync(BERTH)) throw new Error('build first: node scripts/build.mjs');
if (!existsSync(DOCKER)) throw new Error(`needs the docker CLI at ${DOCKER}`);

/** Wall time and CPU time of one run (the CPU time in whole ticks: meaningful as a mean over many runs). */
function timeOnce(cmd: string[], env: NodeJS.ProcessEnv): { ms: number; cpu: number } {
  const c0 = childrenCpuMs();
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd[0]!, cmd.slice(1), { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd.join(' ')} failed: ${r.stderr.toString()}`);
  return { ms, cpu: childrenCpuMs() - c0 };
}

const d = await startDockerd({ runtimes: {}, prefix: 'berth-bench-cli-' });
try {
  const bb = makeBundleDir('berth-bench-bb-');
  execSync(`tar -C ${bb.rootfs} -c . | ${DOCKER} import - busybox:latest`, { env: d.env, stdio: 'ignore' });
  bb.cleanup();
  for (let i = 0; i < 5; i++)
    execSync(`${DOCKER} create --network none --name bench-${i} busybox sleep 1`, { env: d.env, stdio: 'ignore' });

  const env = d.env;
  const cases: Record<string, string[][]> = {
    "version --format '{{.Client.Version}}'": [
      [DOCKER, 'version', '--format', '{{.Client.Version}}'],
      [BERTH, 'version', '--format', '{{.Client.Version}}'],
    ],
    version: [
      [DOCKER, 'version'],
      [BERTH, 'version'],
    ],
    'ps -a (5 containers)': [
      [DOCKER, 'ps', '-a'],
      [BERTH, 'ps', '-a'],
    ],
    "info --format '{{.Driver}}'": [
      [DOCKER, 'info', '--format', '{{.Driver}}'],
      [BERTH, 'info', '--format', '{{.Driver}}'],
    ],
  };
  // The Node.js build of berth (what bin/berth is where Bun cannot run), with
  // NODE_EXTRA_CA_CERTS unset as its launcher does.
  const nodeEnv = { ...env };
  delete nodeEnv.NODE_EXTRA_CA_CERTS;
  const nodeBerth = [process.execPath, join(REPO, 'bin/berth.js')];
  const baseline = ['node -e 0', [process.execPath, '-e', '0']] as const;
  const before = loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
  const samples = new Map<string, number[]>();
  const cpuMs = new Map<string, number[]>();
  const all: [string, string[]][] = [[baseline[0], [...baseline[1]]]];
  for (const [name, [docker, berth]] of Object.entries(cases)) {
    all.push(
      [`${name} | docker`, docker!],
      [`${name} | berth`, berth!],
      [`${name} | berth (Node.js)`, [...nodeBerth, ...berth!.slice(1)]],
    );
  }
  const envOf = (k: string) => (k.endsWith('(Node.js)') ? nodeEnv : env);
  for (const [k, cmd] of all) timeOnce(cmd, envOf(k)); // warm-up
  for (let i = 0; i < N; i++) {
    // Rotate the order so that no runner always goes first.
    for (let j = 0; j < all.length; j++) {
      const [k, cmd] = all[(i + j) % all.length]!;
      const t = timeOnce(cmd, envOf(k));
      samples.set(k, [...(samples.get(k) ?? []), t.ms]);
      cpuMs.set(k, [...(cpuMs.get(k) ?? []), t.cpu]);
    }
  }
  const after = loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
  const stat = (k: string) => {
    const s = [...samples.get(k)!].sort((a, b) => a - b);
    const c = cpuMs.get(k)!;
    return { median: quantile(s, 0.5), p90: quantile(s, 0.9), cpuMean: c.reduce((a, b) => a + b, 0) / c.length };
  };
  const out: Record<
    string,
    { median: number; p90: number; cpuMean: number; ratioToDocker?: number; cpuRatioToDocker?: number }
  > = {};
  for (const [k] of all) out[k] = stat(k);
  for (const name of Object.keys(cases)) {
    const dk = out[`${name} | docker`]!;
    for (const b of [`${name} | berth`, `${name} | berth (Node.js)`]) {
      out[b]!.ratioToDocker = out[b]!.median / dk.median;
      out[b]!.cpuRatioToDocker = out[b]!.cpuMean / dk.cpuMean;
    }
  }
  if (asJson) {
    console.log(
      JSON.stringify(
        {
          iterations: N,
          load: { before, after },
          NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS ?? null,
          results: out,
        },
        null,
        2,
      ),
    );
  } else {
    console.log(
      `berth CLI start-up vs docker ${execSync(`${DOCKER} --version`, { encoding: 'utf8' }).trim()}: ${N} interleaved iterations`,
    );
    console.log(
      `host: ${cpus().length} CPUs; load before ${before}; after ${after}; NODE_EXTRA_CA_CERTS ${process.env.NODE_EXTRA_CA_CERTS ? 'set (bin/berth unsets it)' : 'unset'}`,
    );
    console.log('');
    console.log(
      `${'command'.padEnd(58)} ${'median ms'.padStart(10)} ${'p90 ms'.padStart(8)} ${'berth/docker'.padStart(13)} ${'CPU ms'.padStart(8)} ${'CPU ratio'.padStart(10)}`,
    );
    for (const [k, v] of Object.entries(out)) {
      console.log(
        `${k.padEnd(58)} ${v.median.toFixed(1).padStart(10)} ${v.p90.toFixed(1).padStart(8)} ${(v.ratioToDocker?.toFixed(2) ?? '').padStart(13)} ${v.cpuMean.toFixed(1).padStart(8)} ${(v.cpuRatioToDocker?.toFixed(2) ?? '').padStart(10)}`,
      );
    }
  }
} finally {
  await d.stop();
}
