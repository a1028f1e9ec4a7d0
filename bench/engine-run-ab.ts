// Two builds of berth-engine side by side on the calls berthd makes for one
// `docker run --rm --network none IMG true` (the engine row of
// docker-floor.ts): Images.Get, Snapshots.Prepare beside Containers.Create,
// Tasks.Create with berth-logger as stdout, Wait, Start, the exit,
// Tasks.Delete, Containers.Delete, Snapshots.Remove; the two engines
// interleaved, the median of each call's round trip and the CPU per run of
// each engine with all it starts (shims, berth-init, loggers: a cpuacct
// group per engine, bench/cpuacct.ts). The spec is the one this repository's
// berthd makes for that command, read back from each engine. For a change
// to the engine, against a build of the commit before it:
//
//   git worktree add --detach /tmp/before <commit> && (cd /tmp/before && npm ci && npm run build)
//   sudo node --import tsx bench/engine-run-ab.ts /tmp/before [--iterations 20] [--json]
//
// Needs root, the docker CLI and /bin/busybox (the image is built on the spot and
// served by the local test registry).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  rmdirSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { ContainerdClient } from '../src/client/index.js';
import { loggerURI, logSettings } from '../src/daemon/containers/logdriver.js';
import { startBerthd, DOCKER_28, type Berthd } from '../test/helpers/berthd.js';
import { startRegistry } from '../test/helpers/registry.js';
import { seedImage } from '../test/helpers/seed-registry.js';
import { cpuGroup, type CpuGroup } from './cpuacct.js';
import { quantile } from './stats.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const other = args.find((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--'));
if (!other) throw new Error('usage: engine-run-ab.ts <other repository> [--iterations N] [--json]');
const ITER = opt('--iterations', 20);
const strace = args.includes('--strace') ? args[args.indexOf('--strace') + 1]! : '';
const NS = `bench-run-ab-${process.pid}`;

interface Peer {
  name: string;
  dir: string;
  sock: string;
  proc: ChildProcess;
  cpu?: CpuGroup;
  berthd?: Berthd;
  client?: ContainerdClient;
  calls: Record<string, number[]>;
  cpuMs: number[];
}

const median = (xs: number[]) =>
  quantile(
    [...xs].sort((a, b) => a - b),
    0.5,
  );

async function startEngine(name: string, repo: string): Promise<Peer> {
  const dir = mkdtempSync(`/tmp/berth-bench-runab-${name}-`);
  const sock = join(dir, 'state/engine.sock');
  const fd = openSync(join(dir, 'engine.log'), 'a');
  // --strace FILE: this repository's engine and all it starts under `strace -f -tt -T` (one run's syscalls)
  const wrap = name === 'this' && args.includes('--strace') ? ['strace', '-f', '-tt', '-T', '-o', strace] : [];
  const proc = spawn(
    wrap[0] ?? join(repo, 'bin/berth-engine'),
    [
      ...wrap.slice(1),
      ...(wrap.length ? [join(repo, 'bin/berth-engine')] : []),
      '--root',
      join(dir, 'root'),
      '--state',
      join(dir, 'state'),
      '--address',
      sock,
      '--log-level',
      'debug',
    ],
    { stdio: ['ignore', fd, fd] },
  );
  closeSync(fd);
  const cpu = cpuGroup(`${NS}-${name}`);
  cpu?.add(proc.pid!);
  for (let i = 0; !existsSync(sock) || spawnSync('ctr', ['-a', sock, 'version']).status !== 0; i++) {
    if (proc.exitCode !== null || i > 300) throw new Error(`${name}: berth-engine did not start (${dir}/engine.log)`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { name, dir, sock, proc, cpu, calls: {}, cpuMs: [] };
}

function docker(b: Berthd, argv: string[]): string {
  const r = spawnSync(DOCKER_28, argv, { env: b.env, encoding: 'utf8', timeout: 60000 });
  if (r.status !== 0) throw new Error(`docker ${argv.join(' ')}: ${r.status} ${r.stderr}`);
  return r.stdout.trim();
}

/** What one `docker run --rm` asks of the engine, as berthd asks it (bench/docker-floor.ts, engine row). */
async function prepareRun(p: Peer, img: string, logDir: string): Promise<() => Promise<Record<string, number>>> {
  const b = (p.berthd = await startBerthd(p.sock, { namespace: NS }));
  const client = (p.client = new ContainerdClient(p.sock, { namespace: NS, layer: 'berthd' }));
  docker(b, ['pull', '-q', img]);
  const model = docker(b, ['create', '--network', 'none', img, 'true']);
  const spec = JSON.parse(Buffer.from((await client.containers.get(model)).spec!.value).toString()) as {
    linux: { cgroupsPath: string };
  };
  const parent = (await client.snapshots('overlayfs').stat(model)).parent;
  const imageName = (await client.images.get(img)).name;
  const logs = logSettings('json-file', {});
  return async () => {
    const id = `runab-${randomBytes(8).toString('hex')}`;
    const t: Record<string, number> = {};
    let at = performance.now();
    const lap = (k: string) => {
      const now = performance.now();
      t[k] = now - at;
      at = now;
    };
    const s = structuredClone(spec);
    s.linux.cgroupsPath = `/${NS}/${id}`;
    await client.images.get(imageName);
    lap('Images.Get');
    const [mounts] = await Promise.all([
      client.snapshots('overlayfs').prepare(id, parent, { 'containerd.io/gc.root': new Date().toISOString() }),
      client.containers.create({
        id,
        image: img,
        runtime: { name: 'io.containerd.runc.v2' },
        spec: {
          type_url: 'types.containerd.io/opencontainers/runtime-spec/1/Spec',
          value: Buffer.from(JSON.stringify(s)),
        },
        snapshotter: 'overlayfs',
        snapshot_key: id,
      }),
    ]);
    lap('Prepare+Containers.Create');
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
    lap('Tasks.Create');
    const waited = client.tasks.wait(id);
    await client.tasks.start(id);
    lap('Tasks.Start');
    await waited;
    lap('exit');
    await client.tasks.delete(id);
    lap('Tasks.Delete');
    await client.containers.delete(id);
    lap('Containers.Delete');
    await client.snapshots('overlayfs').remove(id);
    lap('Snapshots.Remove');
    rmSync(join(logDir, id), { recursive: true, force: true });
    return t;
  };
}

async function main(): Promise<void> {
  const reg = await startRegistry();
  const logDir = mkdtempSync('/tmp/berth-bench-runab-logs-');
  const peers: Peer[] = [];
  const load0 = loadavg();
  try {
    seedImage(reg.host, 'bench/busybox:latest');
    const img = `${reg.host}/bench/busybox:latest`;
    peers.push(await startEngine('this', resolve(import.meta.dirname, '..')));
    peers.push(await startEngine('other', resolve(other!)));
    const runs = new Map<Peer, () => Promise<Record<string, number>>>();
    for (const p of peers) runs.set(p, await prepareRun(p, img, logDir));
    for (let i = -2; i < ITER; i++) {
      for (const p of i % 2 ? peers : [...peers].reverse()) {
        const c0 = p.cpu?.ms() ?? 0;
        const t0 = performance.now();
        const t = await runs.get(p)!();
        const wall = performance.now() - t0;
        if (i >= 0) {
          for (const [k, v] of Object.entries({ ...t, run: wall })) (p.calls[k] ??= []).push(v);
          p.cpuMs.push((p.cpu?.ms() ?? 0) - c0);
        }
        await new Promise((res) => setTimeout(res, 30));
      }
    }
    const result = Object.fromEntries(
      peers.map((p) => [
        p.name,
        {
          medianMs: Object.fromEntries(Object.entries(p.calls).map(([k, v]) => [k, median(v)])),
          cpuMsPerRun: median(p.cpuMs),
        },
      ]),
    );
    const load = { before: load0, after: loadavg() };
    if (args.includes('--json')) {
      console.log(JSON.stringify({ iterations: ITER, other, ...result, loadavg: load }, null, 2));
      return;
    }
    const keys = Object.keys(peers[0]!.calls);
    console.log(`median of ${ITER} (ms)`.padEnd(28) + peers.map((p) => p.name.padStart(10)).join('') + '     ratio');
    const [a, b] = [result.this!, result.other!];
    for (const k of keys)
      console.log(
        k.padEnd(28) +
          [a, b].map((r) => r.medianMs[k]!.toFixed(1).padStart(10)).join('') +
          (a.medianMs[k]! / b.medianMs[k]!).toFixed(2).padStart(10),
      );
    console.log(
      'CPU per run (engine + all)'.padEnd(28) +
        [a, b].map((r) => r.cpuMsPerRun.toFixed(1).padStart(10)).join('') +
        (a.cpuMsPerRun / b.cpuMsPerRun).toFixed(2).padStart(10),
    );
    const fmt = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
    console.log(`other = ${other}; load average before ${fmt(load.before)}, after ${fmt(load.after)}`);
  } finally {
    for (const p of peers) {
      p.client?.close();
      await p.berthd?.stop().catch(() => undefined);
      if (p.proc.exitCode === null) {
        // under strace: the engine is strace's child, and strace ends with it
        const kids = readFileSync(`/proc/${p.proc.pid}/task/${p.proc.pid}/children`, 'utf8').trim().split(' ');
        if (strace && p.name === 'this' && kids[0]) process.kill(Number(kids[0]), 'SIGTERM');
        else p.proc.kill('SIGTERM');
        await new Promise((r) => p.proc.once('exit', r));
      }
      p.cpu?.remove();
      if (!args.includes('--keep')) rmSync(p.dir, { recursive: true, force: true });
      else console.log(`${p.name}: kept ${p.dir}`);
    }
    await reg.stop();
    rmSync(logDir, { recursive: true, force: true });
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
