// The floor of `ctr run --rm --rootfs R ID /bin/true` on this machine: is
// issue 9's target (berth-engine at most 1/3 of containerd's time) reachable
// at all? Measured in one run, beside berth-engine and containerd 1.6:
//   (a) ctr's own cost: the same `ctr run --rm` against run-floor-server.ts,
//       a bench-only gRPC server (grpc-js on Bun, as berth-engine serves)
//       answering each of ctr's calls at once with valid replies; ctr's CPU
//       time from `perf stat`, `ctr version` and `ctr --version` for scale;
//   (b) the kernel work of a container of the very spec ctr sends (captured
//       by the fixture) with the fastest runner we have: the runtime
//       library in-process (its spare berth-init), and runc; then which
//       syscalls cost, from `strace -f -T` of `berth-runc run`;
//   (c) grpc-js's per-call server cost on Bun: the fixture's CPU time per
//       `ctr run --rm` (11 calls) and per unary call from a Node client;
//       the same fixture over node:http2 with gRPC's framing by hand
//       (fixture-raw) shows what grpc-js's own layers cost.
// The floor is (a) + (b): ctr against an instant server plus a container
// made by the fastest runner, with nothing between them.
//
//   sudo node --import tsx bench/run-floor.ts [--iterations 15] [--json]
//
// Needs root, ctr/containerd, runc, strace, perf, /bin/busybox and the build.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { clientConstructor } from '../src/api/load.js';
import { Runtime } from '../src/runtime/container.js';
import { cpuGroup, type CpuGroup } from './cpuacct.js';
import { startCtrPeers } from './ctr-peers.js';
import { median as med } from './stats.js';
import { straceSummary } from './run-floor-strace.js';
import { cgroupJoins } from './run-floor-cgroup.js';

const REPO = resolve(import.meta.dirname, '..');
const BUN = join(REPO, 'node_modules/.bin/bun');
const args = process.argv.slice(2);
const ITER = Number(args[args.indexOf('--iterations') + 1] ?? 15) || 15;
const JSON_OUT = args.includes('--json');
const NS = `floor-${process.pid}`;
/** The cgroup parent of the kernel-work containers (not NS: containerd's containers make /NS in every hierarchy). */
const KERNEL_CG = `floor-kernel-${process.pid}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const r1 = (x: number) => Math.round(x * 10) / 10;

interface Peer {
  name: string;
  sock: string;
  cpu?: CpuGroup;
  wall: number[];
  daemonCpu: number[];
  ctrCpu: number[];
}

/** ctr's own CPU time (all its threads) for one command, from perf stat; NaN when perf cannot count. */
function ctrCpuMs(sock: string, a: string[]): number {
  const out = spawnSync('perf', ['stat', '-x,', '-e', 'task-clock', '--', 'ctr', '-a', sock, '-n', NS, ...a], {
    encoding: 'utf8',
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const line = out.stderr.split('\n').find((l) => l.includes('task-clock'));
  return line ? Number(line.split(',')[0]) : NaN;
}

function ctr(sock: string, a: string[]): number {
  const t0 = performance.now();
  const r = spawnSync('ctr', ['-a', sock, '-n', NS, ...a], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`ctr ${a.join(' ')} on ${sock}: ${r.stderr}`);
  return ms;
}

async function startFixture(dir: string, raw = false): Promise<{ proc: ChildProcess; sock: string; spec: string }> {
  const sock = join(dir, raw ? 'fixture-raw.sock' : 'fixture.sock');
  const spec = join(dir, raw ? 'spec-raw.json' : 'spec.json');
  const proc = spawn(BUN, [join(REPO, 'bench/run-floor-server.ts'), sock, spec, ...(raw ? ['--raw'] : [])], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((res, rej) => {
    proc.stdout.once('data', () => res());
    proc.once('exit', (c) => rej(new Error(`run-floor-server exited with ${c}`)));
  });
  return { proc, sock, spec };
}

/** (c) Unary Version calls from a Node grpc-js client over one connection: latency and the server's CPU per call. */
async function perCall(
  sock: string,
  group: CpuGroup | undefined,
  n: number,
): Promise<{ ms: number; serverCpuMs: number }> {
  const Client = clientConstructor('containerd.services.version.v1.Version');
  const c = new Client(`unix://${sock}`, grpc.credentials.createInsecure());
  const call = () =>
    new Promise<void>((res, rej) =>
      (c as unknown as Record<string, (req: object, cb: (e: Error | null) => void) => void>).Version!.call(
        c,
        {},
        (e) => (e ? rej(e) : res()),
      ),
    );
  for (let i = 0; i < 50; i++) await call(); // connection and JIT warm-up
  const lat: number[] = [];
  const c0 = group?.ms() ?? NaN;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await call();
    lat.push(performance.now() - t0);
  }
  const serverCpuMs = ((group?.ms() ?? NaN) - c0) / n;
  c.close();
  return { ms: med(lat), serverCpuMs };
}

/** (b) The captured spec run by the library in-process and by runc, interleaved; medians and minima. */
async function kernelWork(work: string, specFile: string, rootfs: string) {
  const bundle = join(work, 'bundle');
  mkdirSync(bundle);
  const spec = JSON.parse(readFileSync(specFile, 'utf8')) as {
    root: { path: string };
    linux: { cgroupsPath?: string };
  };
  spec.root.path = rootfs;
  const withCgroup = (id: string) => {
    spec.linux.cgroupsPath = `/${KERNEL_CG}/${id}`;
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec));
  };
  // CPU time: this process (the library's own work, in-process) and all it starts join a cpuacct
  // group that is the containers' cgroup parent (cgroupsPath /KERNEL_CG/ID): cpuacct charges every
  // ancestor, so the container processes' time, before and after their joins, is in it too.
  const group = cpuGroup(KERNEL_CG);
  group?.add(process.pid);
  const rt = new Runtime({ root: join(work, 'lib') });
  const times: Record<string, number[]> = { 'Runtime.run (in-process)': [], 'runc run': [] };
  const cpu: Record<string, number[]> = { 'Runtime.run (in-process)': [], 'runc run': [] };
  for (let i = -1; i < ITER; i++) {
    for (const name of i % 2 ? Object.keys(times) : Object.keys(times).reverse()) {
      const id = `k${i + 1}-${name[0]}`;
      withCgroup(id);
      const t0 = performance.now();
      const c0 = group?.ms() ?? NaN;
      if (name === 'runc run') {
        const r = spawnSync('runc', ['--root', join(work, 'runc'), 'run', '--bundle', bundle, id], { stdio: 'ignore' });
        if (r.status !== 0) throw new Error(`runc run: exit ${r.status}`);
      } else {
        const code = await rt.run(id, { bundle, stdio: ['ignore', 'ignore', 'ignore'] });
        if (code !== 0) throw new Error(`Runtime.run: exit ${code}`);
      }
      if (i >= 0) {
        times[name]!.push(performance.now() - t0);
        cpu[name]!.push((group?.ms() ?? NaN) - c0);
      }
    }
  }
  rt.close();
  // the spare berth-init and its clone leave after close(): until then the group is busy
  for (let i = 0; group && i < 100; i++) {
    try {
      group.remove();
      break;
    } catch (e) {
      if (i === 99) throw e;
      await sleep(20);
    }
  }
  withCgroup('strace');
  const strace = straceSummary(join(REPO, 'bin/berth-runc'), bundle, join(work, 'strace'), join(work, 'trace'));
  return {
    runs: Object.fromEntries(
      Object.entries(times).map(([k, v]) => [
        k,
        { medianMs: r1(med(v)), minMs: r1(Math.min(...v)), cpuMs: r1(med(cpu[k]!)) },
      ]),
    ),
    strace,
  };
}

async function main(): Promise<void> {
  const load0 = loadavg();
  const bench = await startCtrPeers('berth-floor', NS);
  const { work, rootfs, engine, ctrd } = bench;
  let fixture: ChildProcess | undefined;
  let fixtureRaw: ChildProcess | undefined;
  const out: Record<string, unknown> = {};
  try {
    const fx = await startFixture(work);
    fixture = fx.proc;
    const raw = await startFixture(work, true);
    fixtureRaw = raw.proc;
    const mk = (name: string, sock: string, pid: number): Peer => {
      const cpu = bench.cpu(name, pid);
      return { name, sock, cpu, wall: [], daemonCpu: [], ctrCpu: [] };
    };
    const peers = [
      mk('fixture', fx.sock, fx.proc.pid!),
      mk('fixture-raw', raw.sock, raw.proc.pid!),
      mk('berth-engine', engine.sock, engine.proc.pid!),
      mk('containerd', ctrd.sock, ctrd.proc.pid!),
    ];

    // (a) ctr run --rm on each, interleaved (round -1 warms up), then ctr's own CPU under perf stat
    for (let i = -1; i < ITER; i++) {
      const k = i < 0 ? 0 : i % peers.length; // a rotation per round: each peer goes first in turn
      const order = [...peers.slice(k), ...peers.slice(0, k)];
      for (const p of order) {
        const c0 = p.cpu?.ms() ?? NaN;
        const ms = ctr(p.sock, ['run', '--rm', '--rootfs', rootfs, `rm-${i + 1}`, '/bin/true']);
        await sleep(50); // what a run leaves to do after its answer (a spare's start) counts too
        if (i >= 0) {
          p.wall.push(ms);
          p.daemonCpu.push((p.cpu?.ms() ?? NaN) - c0);
        }
      }
    }
    for (let i = 0; i < ITER; i++)
      for (const p of peers)
        p.ctrCpu.push(ctrCpuMs(p.sock, ['run', '--rm', '--rootfs', rootfs, `cpu-${i}`, '/bin/true']));
    out.ctrRunRm = Object.fromEntries(
      peers.map((p) => [
        p.name,
        { wallMs: r1(med(p.wall)), daemonCpuMs: r1(med(p.daemonCpu)), ctrCpuMs: r1(med(p.ctrCpu)) },
      ]),
    );
    const fxSock = fx.sock;
    const fxCpu = peers[0]!.cpu;
    // the fixture's CPU while idle for as long as a run's measure lasts (timers, GC): not the calls' cost
    const idle: number[] = [];
    for (let i = 0; i < ITER; i++) {
      const c0 = fxCpu?.ms() ?? NaN;
      await sleep(70);
      idle.push((fxCpu?.ms() ?? NaN) - c0);
    }
    const versionServerCpu: number[] = [];
    const version = Array.from({ length: ITER }, () => {
      const c0 = fxCpu?.ms() ?? NaN;
      const ms = ctr(fxSock, ['version']);
      versionServerCpu.push((fxCpu?.ms() ?? NaN) - c0);
      return ms;
    });
    const bare = Array.from({ length: ITER }, () => ctr(fxSock, ['--version']));
    out.ctrScale = {
      versionWallMs: r1(med(version)),
      versionServerCpuMs: r1(med(versionServerCpu)),
      fixtureIdleCpuMs70: r1(med(idle)),
      versionCpuMs: r1(med(Array.from({ length: ITER }, () => ctrCpuMs(fxSock, ['version'])))),
      bareVersionWallMs: r1(med(bare)),
      bareVersionCpuMs: r1(med(Array.from({ length: ITER }, () => ctrCpuMs(fxSock, ['--version'])))),
    };

    // (c) grpc-js per call on Bun
    const pc = await perCall(fxSock, peers[0]!.cpu, 500);
    const pcRaw = await perCall(raw.sock, peers[1]!.cpu, 500);
    const fxRun = out.ctrRunRm as Record<string, { daemonCpuMs: number }>;
    out.grpcPerCall = {
      unaryLatencyMs: Math.round(pc.ms * 1000) / 1000,
      serverCpuPerCallMs: Math.round(pc.serverCpuMs * 1000) / 1000,
      serverCpuPerCtrRunMs: fxRun.fixture!.daemonCpuMs,
      callsPerCtrRun: 11,
      rawUnaryLatencyMs: Math.round(pcRaw.ms * 1000) / 1000,
      rawServerCpuPerCallMs: Math.round(pcRaw.serverCpuMs * 1000) / 1000,
    };

    // (b) the kernel work of the same container
    if (!existsSync(fx.spec)) throw new Error('the fixture captured no spec');
    const kw = join(work, 'kernel');
    mkdirSync(kw);
    cpSync(fx.spec, join(kw, 'spec.json'));
    out.kernel = await kernelWork(kw, join(kw, 'spec.json'), rootfs);
    out.cgroupJoins = await cgroupJoins(`floor-joins-${process.pid}`, 8);
  } finally {
    fixture?.kill('SIGTERM');
    fixtureRaw?.kill('SIGTERM');
    await bench.stop([KERNEL_CG]);
  }
  out.loadavg = { before: load0.map(r1), after: loadavg().map(r1) };
  if (JSON_OUT) return void console.log(JSON.stringify(out, null, 2));
  report(out);
}

function report(out: Record<string, unknown>): void {
  const run = out.ctrRunRm as Record<string, { wallMs: number; daemonCpuMs: number; ctrCpuMs: number }>;
  const sc = out.ctrScale as Record<string, number>;
  const g = out.grpcPerCall as Record<string, number>;
  const k = out.kernel as {
    runs: Record<string, { medianMs: number; minMs: number; cpuMs: number }>;
    strace: string[];
  };
  console.log(`ctr run --rm --rootfs R ID /bin/true, medians of ${ITER} (interleaved):`);
  for (const [name, v] of Object.entries(run))
    console.log(
      `  ${name.padEnd(13)} wall ${String(v.wallMs).padStart(6)} ms   daemon CPU ${String(v.daemonCpuMs).padStart(5)} ms   ctr CPU ${v.ctrCpuMs} ms`,
    );
  console.log(
    `  ctr version (1 connection, 2 calls): wall ${sc.versionWallMs} ms, ctr CPU ${sc.versionCpuMs} ms, fixture CPU ${sc.versionServerCpuMs} ms; ctr --version (no call): wall ${sc.bareVersionWallMs} ms, CPU ${sc.bareVersionCpuMs} ms`,
  );
  console.log(
    `grpc-js on Bun, per unary call: ${g.unaryLatencyMs} ms round trip (Node client), ${g.serverCpuPerCallMs} ms server CPU; ${g.serverCpuPerCtrRunMs} ms CPU per ctr run (11 calls; idle for as long: ${sc.fixtureIdleCpuMs70} ms)`,
  );
  console.log(
    `node:http2 on Bun with gRPC's framing by hand (fixture-raw), per unary call: ${g.rawUnaryLatencyMs} ms round trip, ${g.rawServerCpuPerCallMs} ms server CPU`,
  );
  console.log('kernel work of the same spec:');
  for (const [name, v] of Object.entries(k.runs))
    console.log(`  ${name.padEnd(26)} median ${v.medianMs} ms, min ${v.minMs} ms, CPU ${v.cpuMs} ms`);
  console.log(k.strace.map((l) => `  ${l}`).join('\n'));
  const j = out.cgroupJoins as { hierarchies: string[]; writesMs: number[][] };
  const first = j.writesMs.map((r) => r[0]!);
  const rest = j.writesMs.flatMap((r) => r.slice(1));
  console.log(
    `cgroup joins of a fresh process, ${j.hierarchies.length} hierarchies one after the other, ${j.writesMs.length} rounds: ` +
      `first write median ${r1(med(first))} ms (max ${r1(Math.max(...first))}), the others median ${med(rest)} ms (max ${Math.max(...rest)})`,
  );
  const fixture = run.fixture!.wallMs;
  const inProc = k.runs['Runtime.run (in-process)']!;
  const ctrd = run.containerd!.wallMs;
  const floor = (kernel: number) =>
    `${r1(fixture + kernel)} ms (${((fixture + kernel) / ctrd).toFixed(2)} of containerd)`;
  console.log(
    `floor = ctr against an instant server + the container in-process: ${floor(inProc.medianMs)} with the kernel work's median, ` +
      `${floor(inProc.minMs)} with its minimum; target 1/3 of containerd = ${r1(ctrd / 3)} ms; ` +
      `berth-engine ${run['berth-engine']!.wallMs} ms (${(run['berth-engine']!.wallMs / ctrd).toFixed(2)})`,
  );
  const c = (p: string) => run[p]!.ctrCpuMs + run[p]!.daemonCpuMs;
  console.log(
    `CPU per run, ctr + daemon with all it starts: fixture ${r1(c('fixture'))} ms, berth-engine ${r1(c('berth-engine'))} ms, ` +
      `containerd ${r1(c('containerd'))} ms (fixture / containerd ${(c('fixture') / c('containerd')).toFixed(2)}; ` +
      `fixture + the container in-process ${((c('fixture') + inProc.cpuMs) / c('containerd')).toFixed(2)})`,
  );
  const l = out.loadavg as { before: number[]; after: number[] };
  console.log(`load average before ${l.before.join(' ')}, after ${l.after.join(' ')}`);
}

await main();
