// Benchmark: the floor under `docker run --rm IMG true` through berthd on
// berth-engine, against dockerd, measured in one interleaved run:
//   cli       the docker CLI (/usr/local/bin/docker 28) against a server that
//             answers each of its calls at once (bench/docker-fixture.ts): its
//             start, config, round trips and attach hijack, nothing else
//   engine    what berthd asks of berth-engine for that run, made from here with
//             the same client library over gRPC and nothing else: Images.Get,
//             Snapshots.Prepare beside Containers.Create (the spec berthd made
//             for the same command, read back from the engine), Tasks.Create
//             with berth-logger as stdout, Wait, Start, the exit, Tasks.Delete,
//             Containers.Delete, Snapshots.Remove
//   berthd    the real thing: the same CLI, berthd, the same berth-engine
//   bridge    a second berthd on the same engine, in a network namespace of
//             its own with the default bridge, and `docker run` without
//             --network: what the veth, the addresses and the rules add
//   dockerd   Debian's dockerd 20.10 with its containerd, through the same CLI
// berthd's own share is berthd - cli - engine. The same for 20 at once
// (`docker run -d IMG sleep 60`; for the engine: Images.Get, Prepare and
// Containers.Create, Tasks.Create, Wait, Start). CPU per run: the CLI's from
// this process's reaped-children times, the daemons' from /proc/PID/stat
// (their own threads, not the shims'), this process's own for the engine
// client. All but `bridge` run `--network none` (the bench's dockerd runs
// without a bridge: it would touch the host's network).
//
//   sudo node --import tsx bench/docker-floor.ts [--iterations 15] [--no-dockerd] [--json]

import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startDockerd } from '../test/helpers/daemons.js';
import { startRegistry } from '../test/helpers/registry.js';
import { seedImage } from '../test/helpers/seed-registry.js';
import { startBerthd, DOCKER_28 } from '../test/helpers/berthd.js';
import { startEngine } from '../test/integration/engine/helpers.js';
import { ContainerdClient } from '../src/client/index.js';
import { loggerURI, logSettings } from '../src/daemon/containers/logdriver.js';
import { startFixture } from './docker-fixture.js';
import { docker } from './docker-cli.js';
import { median as med } from './stats.js';

const arg = (name: string) => process.argv[process.argv.indexOf(name) + 1];
const iterations = Number(process.argv.includes('--iterations') ? arg('--iterations') : 15) || 15;
const asJson = process.argv.includes('--json');
const NS = 'bench-floor';
const PARALLEL = 20;

/** utime + stime in ms: of a process (its own threads), or with `children` of this process's reaped children. */
function cpuMs(pid: number | 'self', children = false): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    // fields 14-17 of stat; rest[0] is field 3
    const at = children ? [13, 14] : [11, 12];
    return (Number(rest[at[0]!]) + Number(rest[at[1]!])) * 10;
  } catch {
    return 0;
  }
}

const msSince = (t: number) => performance.now() - t;

const reg = await startRegistry();
const engine = await startEngine('bench-floor-eng-');
const berthd = await startBerthd(engine.sock, { namespace: NS });
// the same on the default bridge: berthd in a network namespace of its own (the test helper's),
// the registry relayed into it; `docker run` without --network, as the issue's row has it
const berthdBr = await startBerthd(engine.sock, {
  namespace: `${NS}-br`,
  netns: true,
  relayPorts: [Number(reg.host.split(':').at(-1))],
});
const dockerd = process.argv.includes('--no-dockerd')
  ? undefined
  : await startDockerd({ runtimes: {}, prefix: 'bench-floor-dkd-' });
const fxDir = mkdtempSync('/tmp/bench-floor-fx-');
const fixture = await startFixture(join(fxDir, 'docker.sock'));
const fxEnv = { ...process.env, DOCKER_HOST: `unix://${fxDir}/docker.sock`, DOCKER_CONFIG: fxDir };
const client = new ContainerdClient(engine.sock, { namespace: NS, layer: 'berthd' });
const logDir = mkdtempSync('/tmp/bench-floor-logs-');
const made = new Set<string>();
/** Whatever the engine runs still goes: the detached ones, or what a failed run left. */
const engineCleanup = async () => {
  for (const id of made) {
    await client.tasks.kill(id, 9, { all: true }).catch(() => undefined);
    await client.tasks.wait(id).catch(() => undefined);
    await client.tasks.delete(id).catch(() => undefined);
    await client.containers.delete(id).catch(() => undefined);
    await client
      .snapshots('overlayfs')
      .remove(id)
      .catch(() => undefined);
    made.delete(id);
  }
};

try {
  seedImage(reg.host, 'bench/busybox:latest');
  const img = `${reg.host}/bench/busybox:latest`;
  await docker(berthd.env, ['pull', '-q', img]);
  await docker(berthdBr.env, ['pull', '-q', img]);
  if (dockerd) await docker(dockerd.env, ['pull', '-q', img]);

  // The spec berthd makes for `run --network none IMG true`, read back from the engine. Its
  // /etc/hosts, resolv.conf and hostname mounts are that container's files: it stays until the end.
  const model = await new Promise<string>((res, rej) => {
    const p = spawn(DOCKER_28, ['create', '--network', 'none', img, 'true'], { env: berthd.env });
    let out = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.on('exit', (code) => (code === 0 ? res(out.trim()) : rej(new Error(`docker create: ${code}`))));
  });
  const modelSpec = JSON.parse(Buffer.from((await client.containers.get(model)).spec!.value).toString()) as {
    process: { args: string[] };
    linux: { cgroupsPath: string };
  };
  const parent = (await client.snapshots('overlayfs').stat(model)).parent;
  const imageName = (await client.images.get(img)).name;
  const logs = logSettings('json-file', {});

  /** One container's life as berthd drives the engine; `detach` stops at a running task (run -d). */
  const engineRun = async (detach: boolean): Promise<Record<string, number>> => {
    const t0 = performance.now();
    const id = `floor-${randomBytes(8).toString('hex')}`;
    made.add(id);
    const spec = structuredClone(modelSpec);
    spec.linux.cgroupsPath = `/${NS}/${id}`;
    if (detach) spec.process.args = ['sleep', '60'];
    await client.images.get(imageName);
    const [mounts] = await Promise.all([
      client.snapshots('overlayfs').prepare(id, parent, { 'containerd.io/gc.root': new Date().toISOString() }),
      client.containers.create({
        id,
        image: img,
        runtime: { name: 'io.containerd.runc.v2' },
        spec: {
          type_url: 'types.containerd.io/opencontainers/runtime-spec/1/Spec',
          value: Buffer.from(JSON.stringify(spec)),
        },
        snapshotter: 'overlayfs',
        snapshot_key: id,
        labels: { 'io.berth.bench': 'floor' },
      }),
    ]);
    const create = msSince(t0);
    mkdirSync(join(logDir, id));
    const uri = loggerURI(logs, join(logDir, id, 'json.log'), join(logDir, id, 'log.sock'));
    await client.tasks.create({
      container_id: id,
      rootfs: mounts,
      stdin: '',
      stdout: uri,
      stderr: uri,
      terminal: false,
    });
    const waited = client.tasks.wait(id);
    await client.tasks.start(id);
    const start = msSince(t0);
    if (detach) {
      waited.catch(() => undefined);
      return { create, start };
    }
    await waited;
    const exit = msSince(t0);
    await client.tasks.delete(id);
    await client.containers.delete(id);
    const dropped = msSince(t0);
    await client.snapshots('overlayfs').remove(id);
    rmSync(join(logDir, id), { recursive: true, force: true });
    made.delete(id);
    return { create, start, exit, dropped, removed: msSince(t0) };
  };

  interface Peer {
    name: string;
    once(): Promise<Record<string, number> | undefined>;
    /** The processes whose CPU counts for this peer. */
    cpu(): number;
    par(): Promise<void>;
    clean(): Promise<void>;
  }
  const none = ['--network', 'none'];
  const cliRun =
    (env: NodeJS.ProcessEnv, net = none) =>
    () =>
      docker(env, ['run', '--rm', ...net, img, 'true']).then(() => undefined);
  const cliPar =
    (env: NodeJS.ProcessEnv, net = none) =>
    () =>
      Promise.all(Array.from({ length: PARALLEL }, () => docker(env, ['run', '-d', ...net, img, 'sleep', '60']))).then(
        () => undefined,
      );
  const rmAll = async (env: NodeJS.ProcessEnv) => {
    const ids = await new Promise<string[]>((res) => {
      const p = spawn(DOCKER_28, ['ps', '-aq', '--filter', 'status=running'], { env });
      let out = '';
      p.stdout.on('data', (b: Buffer) => (out += b.toString()));
      p.on('exit', () => res(out.split('\n').filter(Boolean)));
    });
    if (ids.length) await docker(env, ['rm', '-f', ...ids]);
  };
  const peers: Peer[] = [
    {
      name: 'cli',
      once: cliRun(fxEnv),
      cpu: () => cpuMs('self', true),
      par: cliPar(fxEnv),
      clean: async () => undefined,
    },
    {
      name: 'engine',
      once: () => engineRun(false),
      cpu: () => cpuMs(engine.proc.pid!) + cpuMs('self'),
      par: () => Promise.all(Array.from({ length: PARALLEL }, () => engineRun(true))).then(() => undefined),
      clean: engineCleanup,
    },
    {
      name: 'berthd',
      once: cliRun(berthd.env),
      cpu: () => cpuMs(berthd.proc().pid!) + cpuMs(engine.proc.pid!) + cpuMs('self', true),
      par: cliPar(berthd.env),
      clean: () => rmAll(berthd.env),
    },
    {
      name: 'bridge',
      once: cliRun(berthdBr.env, []),
      cpu: () => cpuMs(berthdBr.proc().pid!) + cpuMs(engine.proc.pid!) + cpuMs('self', true),
      par: cliPar(berthdBr.env, []),
      clean: () => rmAll(berthdBr.env),
    },
    ...(dockerd
      ? [
          {
            name: 'dockerd',
            once: cliRun(dockerd.env),
            cpu: () => cpuMs(dockerd.proc.pid!) + cpuMs('self', true),
            par: cliPar(dockerd.env),
            clean: () => rmAll(dockerd.env),
          },
        ]
      : []),
  ];
  for (const p of peers) await p.once(); // warm-up
  const wall: Record<string, number[]> = Object.fromEntries(peers.map((p) => [p.name, []]));
  const cpu: Record<string, number> = Object.fromEntries(peers.map((p) => [p.name, 0]));
  const phases: Record<string, number[]> = {};
  const load0 = loadavg();
  for (let i = 0; i < iterations; i++) {
    const order = peers.map((_, k) => peers[(k + i) % peers.length]!);
    for (const p of order) {
      const c = p.cpu();
      const t = performance.now();
      const ph = await p.once();
      wall[p.name]!.push(msSince(t));
      cpu[p.name]! += p.cpu() - c;
      for (const [k, v] of Object.entries(ph ?? {})) (phases[k] ??= []).push(v);
    }
  }
  const par: Record<string, number> = {};
  for (const p of peers) {
    const t = performance.now();
    await p.par();
    par[p.name] = msSince(t);
    await p.clean();
  }
  const m = Object.fromEntries(peers.map((p) => [p.name, med(wall[p.name]!)])) as Record<string, number>;
  const result = {
    iterations,
    medianMs: m,
    cpuMsPerRun: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, v / iterations])),
    enginePhasesMs: Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, med(v)])),
    berthdShareMs: m.berthd! - m.cli! - m.engine!,
    // what berthd still waits for since the --rm removal's engine side went off the path (src/daemon/containers/removal.ts)
    onPathShareMs: m.berthd! - m.cli! - med(phases.exit ?? []),
    parallelMs: par,
    calls: [...new Set(fixture.calls.map((c) => c.replace(/[0-9a-f]{64}/, '{id}')))],
    loadavg: { before: load0, after: loadavg() },
  };
  if (asJson) console.log(JSON.stringify(result, null, 2));
  else {
    const d = m.dockerd;
    const r = (x: number, of: number | undefined) => (of ? ` (${(x / of).toFixed(2)} of dockerd)` : '');
    console.log(`docker run --rm (median of ${iterations}), CPU per run:`);
    for (const p of peers)
      console.log(
        `  ${p.name.padEnd(8)} ${m[p.name]!.toFixed(1)} ms${r(m[p.name]!, d)}, CPU ${result.cpuMsPerRun[p.name]!.toFixed(1)} ms`,
      );
    console.log(`  berthd's own share ${result.berthdShareMs.toFixed(1)} ms = berthd - cli - engine`);
    console.log(
      `  floor cli + engine ${(m.cli! + m.engine!).toFixed(1)} ms${r(m.cli! + m.engine!, d)}; target ${d ? (d / 4).toFixed(1) : '?'} ms`,
    );
    const onPath = m.cli! + result.enginePhasesMs.exit!;
    console.log(
      `  on berthd's path: cli + engine up to the exit ${onPath.toFixed(1)} ms${r(onPath, d)} (the removal's engine calls come after the answer); berthd's share against it ${result.onPathShareMs.toFixed(1)} ms`,
    );
    console.log(
      `  engine phases (ms from the start): ${Object.entries(result.enginePhasesMs)
        .map(([k, v]) => `${k} ${v.toFixed(1)}`)
        .join(', ')}`,
    );
    console.log(`${PARALLEL} at once (run -d):`);
    for (const p of peers)
      console.log(`  ${p.name.padEnd(8)} ${par[p.name]!.toFixed(0)} ms${r(par[p.name]!, par.dockerd)}`);
    console.log(`the CLI's calls: ${result.calls.join(', ')}`);
    console.log(
      `load average ${load0.map((x) => x.toFixed(1)).join(' ')} -> ${loadavg()
        .map((x) => x.toFixed(1))
        .join(' ')}`,
    );
  }
} finally {
  await fixture.close();
  await engineCleanup();
  await berthd.stop();
  await berthdBr.stop();
  client.close();
  await engine.stop();
  await dockerd?.stop();
  await reg.stop();
  rmSync(fxDir, { recursive: true, force: true });
  rmSync(logDir, { recursive: true, force: true });
}
