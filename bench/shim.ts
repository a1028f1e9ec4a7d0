// berth-shim and berth-engine against their peers, side by side in one run:
//   - `ctr run --rm` of a trivial container: berth-engine vs containerd 1.6,
//     wall time and the CPU time of each daemon with all it starts (cpuacct.ts)
//   - 20 containers started in parallel (`ctr run -d` ×20 at once)
//   - resident memory of one shim: berth-shim vs containerd-shim-runc-v2 vs conmon
//   - berth-engine's own RSS with 100 idle containers (and their shims')
//
//   sudo node --import tsx bench/shim.ts [--iterations 20] [--idle 100] [--json]
//
// Needs root, ctr/containerd (Debian's containerd), runc, conmon,
// /bin/busybox and the build (bin/berth-engine, native/build/berth-shim).

import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { startCtrPeers } from './ctr-peers.js';
import { median } from './stats.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const ITER = opt('--iterations', 20);
const IDLE = opt('--idle', 100);
const NS = `bench-${process.pid}`;

/** 0 for a process that is gone (a deleted task's shim may still be exiting when the list is read). */
function rssKb(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return Number(m?.[1] ?? 0);
  } catch {
    return 0;
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

function pidsNamed(comm: string): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/comm`, 'utf8').trim() === comm;
      } catch {
        return false;
      }
    });
}

type Ctr = (a: string[]) => { status: number | null; stderr: string };

function ctrOf(sock: string): Ctr {
  return (a) => spawnSync('ctr', ['-a', sock, '-n', NS, ...a], { encoding: 'utf8', timeout: 60000 });
}

function runAsync(sock: string, a: string[]): Promise<number> {
  return new Promise((resolve) => {
    const c = spawn('ctr', ['-a', sock, '-n', NS, ...a], { stdio: 'ignore' });
    c.on('exit', (code) => resolve(code ?? 1));
  });
}

async function main(): Promise<void> {
  const load0 = loadavg();
  const bench = await startCtrPeers('berth-bench', NS);
  const { work, rootfs, engine, ctrd } = bench;
  const out: Record<string, unknown> = {};
  try {
    const peers = [
      { name: 'berth-engine', sock: engine.sock, cpu: bench.cpu('engine', engine.proc.pid!) },
      { name: 'containerd', sock: ctrd.sock, cpu: bench.cpu('containerd', ctrd.proc.pid!) },
    ];

    // 1. ctr run --rm, interleaved (the first round warms up: the engine's spare shim predates its group)
    const times: Record<string, number[]> = { 'berth-engine': [], containerd: [] };
    const cpu: Record<string, number[]> = { 'berth-engine': [], containerd: [] };
    for (let i = -1; i < ITER; i++) {
      for (const p of i % 2 ? peers : [...peers].reverse()) {
        const c0 = p.cpu?.ms() ?? 0;
        const t0 = performance.now();
        const r = ctrOf(p.sock)(['run', '--rm', '--rootfs', rootfs, `rm-${i + 1}`, '/bin/true']);
        const ms = performance.now() - t0;
        if (r.status !== 0) throw new Error(`${p.name}: ctr run --rm failed: ${r.stderr}`);
        if (i >= 0) {
          times[p.name]!.push(ms);
          // what the run left to do after its answer (a spare shim's start) counts too
          await new Promise((res) => setTimeout(res, 50));
          if (p.cpu) cpu[p.name]!.push(p.cpu.ms() - c0);
        }
      }
    }
    const runRm = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
    out.ctrRunRmMs = runRm;
    if (cpu.containerd!.length)
      out.ctrRunRmDaemonCpuMs = Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, median(v)]));

    // 2. twenty in parallel
    const parallel: Record<string, number> = {};
    for (const p of peers) {
      const t0 = performance.now();
      const codes = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          runAsync(p.sock, ['run', '-d', '--rootfs', rootfs, `par-${i}`, '/bin/sleep', '600']),
        ),
      );
      parallel[p.name] = performance.now() - t0;
      if (codes.some((c) => c !== 0)) throw new Error(`${p.name}: a parallel run failed`);
    }
    out.parallel20Ms = parallel;

    // 3. shim RSS (each shim of the 20 running containers; median)
    const shimRss = {
      'berth-shim': median(
        pidsNamed('berth-shim')
          .filter((p) => cmdline(p).includes(engine.state))
          .map(rssKb)
          .filter((kb) => kb > 0),
      ),
      'containerd-shim-runc-v2': median(
        pidsNamed('containerd-shim')
          .concat(pidsNamed('containerd-shim-runc-v2'))
          .map(rssKb)
          .filter((kb) => kb > 0),
      ),
      conmon: conmonRss(work, rootfs),
    };
    out.shimRssKb = shimRss;

    // 4. the engine with IDLE idle containers
    for (let i = 20; i < IDLE; i++) {
      const r = ctrOf(engine.sock)(['run', '-d', '--rootfs', rootfs, `par-${i}`, '/bin/sleep', '600']);
      if (r.status !== 0) throw new Error(`berth-engine: run ${i}: ${r.stderr}`);
    }
    const shims = pidsNamed('berth-shim').filter((p) => cmdline(p).includes(engine.state));
    out.idle = {
      containers: IDLE,
      engineRssKb: rssKb(engine.proc.pid!),
      shims: shims.length,
      shimsTotalRssKb: shims.map(rssKb).reduce((a, b) => a + b, 0),
    };
  } finally {
    await bench.stop();
  }
  out.loadavg = { before: load0, after: loadavg() };
  if (args.includes('--json')) {
    console.log(JSON.stringify(out, null, 2));
    return;
  }
  const r = out.ctrRunRmMs as Record<string, number>;
  const p = out.parallel20Ms as Record<string, number>;
  const s = out.shimRssKb as Record<string, number>;
  const idle = out.idle as { containers: number; engineRssKb: number; shims: number; shimsTotalRssKb: number };
  console.log(
    `ctr run --rm (median of ${ITER}): berth-engine ${r['berth-engine']!.toFixed(0)} ms, containerd ${r.containerd!.toFixed(0)} ms, ratio ${(r['berth-engine']! / r.containerd!).toFixed(2)}`,
  );
  const c = out.ctrRunRmDaemonCpuMs as Record<string, number> | undefined;
  if (c)
    console.log(
      `  CPU time per run of each daemon and all it starts (median): berth-engine ${c['berth-engine']!.toFixed(1)} ms, containerd ${c.containerd!.toFixed(1)} ms, ratio ${(c['berth-engine']! / c.containerd!).toFixed(2)}`,
    );
  console.log(
    `20 in parallel: berth-engine ${p['berth-engine']!.toFixed(0)} ms, containerd ${p.containerd!.toFixed(0)} ms, ratio ${(p['berth-engine']! / p.containerd!).toFixed(2)}`,
  );
  console.log(
    `shim RSS: berth-shim ${s['berth-shim']} kB, containerd-shim-runc-v2 ${s['containerd-shim-runc-v2']} kB, conmon ${s.conmon} kB`,
  );
  console.log(
    `berth-engine with ${idle.containers} idle containers: engine ${idle.engineRssKb} kB, ${idle.shims} shims ${idle.shimsTotalRssKb} kB in all`,
  );
  console.log(
    `load average before ${load0.map((x) => x.toFixed(2)).join(' ')}, after ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
}

/** conmon (Podman's and CRI-O's monitor) over runc with a running busybox container: its RSS. */
function conmonRss(work: string, rootfs: string): number {
  const dir = join(work, 'conmon');
  const bundle = join(dir, 'bundle');
  mkdirSync(join(dir, 'exit'), { recursive: true });
  mkdirSync(join(dir, 'sock'));
  mkdirSync(bundle, { recursive: true });
  spawnSync('runc', ['spec'], { cwd: bundle });
  const cfg = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as {
    root: { path: string };
    process: { terminal: boolean; args: string[] };
    linux: { cgroupsPath?: string };
  };
  cfg.root.path = rootfs;
  cfg.process.terminal = false;
  cfg.process.args = ['/bin/sleep', '600'];
  cfg.linux.cgroupsPath = `/${NS}/conmon`;
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(cfg));
  const root = join(dir, 'root');
  const id = `conmon-${process.pid}`;
  const r = spawnSync(
    'conmon',
    [
      '--api-version',
      '1',
      '-c',
      id,
      '-u',
      id,
      '-n',
      id,
      '-r',
      '/usr/sbin/runc',
      '-b',
      bundle,
      '-p',
      join(dir, 'pid'),
      '-l',
      `k8s-file:${join(dir, 'log')}`,
      '--exit-dir',
      join(dir, 'exit'),
      '--socket-dir-path',
      join(dir, 'sock'),
      '--conmon-pidfile',
      join(dir, 'conmon.pid'),
      '--runtime-arg',
      `--root=${root}`,
    ],
    { encoding: 'utf8', timeout: 20000 },
  );
  if (r.status !== 0) return NaN;
  try {
    spawnSync('runc', ['--root', root, 'start', id]);
    spawnSync('sleep', ['0.3']);
    return rssKb(Number(readFileSync(join(dir, 'conmon.pid'), 'utf8').trim()));
  } finally {
    spawnSync('runc', ['--root', root, 'delete', '--force', id]);
    spawnSync('sleep', ['0.3']);
  }
}

await main();
