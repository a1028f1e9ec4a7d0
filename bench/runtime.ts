// Benchmark: `run` of a trivial container (`/bin/true`), created, started,
// waited for and deleted, on one busybox bundle, side by side in one run:
//   runc            `runc run --bundle B ID`          (foreground run: create,
//                                                      start, wait, delete)
//   crun            the same, where crun can run here (crun 1.8 refuses the
//                   hybrid cgroup layout: detected and reported)
//   berth-runc      `bin/berth-runc run --bundle B ID` (the CLI: compiled by
//                   Bun where Bun is available, see scripts/build.mjs)
//   ... on Node.js  the same CLI from its Node.js build (bin/berth-runc.js)
//   in-process      `new Runtime({root}).run(id, {bundle, stdio: ignore})`
// and the four-call sequence a containerd shim makes (create --pid-file,
// start, wait for the pid, delete) for each CLI. Iterations are interleaved
// (A B C D, B C D A, ...) so that a noisy neighbour hurts every runner alike;
// only ratios measured in the same run mean anything.
//
//   node --import tsx bench/runtime.ts [--iterations 30] [--json] [--also NAME=PATH ...]
//
// Needs root, runc, /bin/busybox and the build (node scripts/build.mjs).

import { spawnSync } from 'node:child_process';
import {
  closeSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  existsSync,
} from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { makeBusyboxRootfs } from '../test/helpers/busybox.js';
import { Runtime } from '../src/runtime/container.js';
import { childrenCpuMs, hostLoad } from './proc.js';
import { summarize, type Summary } from './stats.js';

const REPO = resolve(import.meta.dirname, '..');
let BERTH_RUNC = join(REPO, 'bin/berth-runc');
let BERTH_RUNC_NODE = join(REPO, 'bin/berth-runc.js');

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
}
const N = Number(arg('iterations', '30'));
/** --also NAME=PATH (repeatable): another runc-compatible binary to measure, e.g. a patched build. */
const ALSO: [string, string][] = process.argv.flatMap((a, i) =>
  a === '--also' && process.argv[i + 1]?.includes('=') ? [process.argv[i + 1]!.split('=', 2) as [string, string]] : [],
);
const JSON_OUT = process.argv.includes('--json');

function which(bin: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

// ------------------------------------------------------------------ the bundle

const work = mkdtempSync(join(tmpdir(), 'berth-bench-'));
const bundle = join(work, 'bundle');
const roots = {
  runc: join(work, 'root-runc'),
  crun: join(work, 'root-crun'),
  berth: join(work, 'root-berth'),
  berthNode: join(work, 'root-berth-node'),
  lib: join(work, 'root-lib'),
};

function makeBundle(): void {
  errFile = join(work, 'stderr');
  spawnSync('mkdir', ['-p', join(bundle, 'rootfs')]);
  makeBusyboxRootfs(join(bundle, 'rootfs'));
  // runc's own default spec, so that no runner gets a config shaped for it.
  const r = spawnSync('runc', ['spec', '--bundle', bundle], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`runc spec: ${r.stderr}`);
  const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'));
  spec.process.terminal = false;
  spec.process.args = ['/bin/true'];
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec, null, 2));
}

/**
 * Measure a copy of the build (bin/ and native/build/, same layout), so that a
 * rebuild in the checkout during the run cannot break or change an iteration.
 */
function snapshotBuild(): void {
  const dst = join(work, 'build');
  mkdirSync(join(dst, 'native'), { recursive: true });
  cpSync(join(REPO, 'bin'), join(dst, 'bin'), { recursive: true, filter: (src) => !src.endsWith('.map') });
  cpSync(join(REPO, 'native/build'), join(dst, 'native/build'), { recursive: true });
  BERTH_RUNC = join(dst, 'bin/berth-runc');
  // The same CLI on Node.js (what bin/berth-runc is where Bun is not available).
  BERTH_RUNC_NODE = join(dst, 'bin/berth-runc-node');
  writeFileSync(
    BERTH_RUNC_NODE,
    `#!/bin/sh
unset NODE_EXTRA_CA_CERTS
export BERTH_NATIVE_DIR=${join(dst, 'native/build')}
exec ${process.execPath} ${join(dst, 'bin/berth-runc.js')} "$@"
`,
    { mode: 0o755 },
  );
  // The in-process runtime (src/ through tsx) uses the same berth-init.
  process.env.BERTH_INIT = join(dst, 'native/build/berth-init');
}

// ------------------------------------------------------------------ runners

/** selfCpu: count this process's own CPU time (the in-process runner), not just its children's. */
type Runner = { name: string; once: (id: string) => Promise<void> | void; selfCpu?: boolean };

// stderr goes to a file, not a pipe: after `create` the container process
// holds the runtime's stdio, and spawnSync would wait for a pipe to close.
let errFile = '';
function cli(bin: string, root: string, args: string[]): void {
  const fd = openSync(errFile, 'w');
  let status: number | null;
  try {
    status = spawnSync(bin, ['--root', root, ...args], { stdio: ['ignore', 'ignore', fd] }).status;
  } finally {
    closeSync(fd);
  }
  if (status !== 0)
    throw new Error(`${bin} ${args.join(' ')}: status ${status}: ${readFileSync(errFile, 'utf8').trim()}`);
}

function cliRun(bin: string, root: string): Runner['once'] {
  return (id) => cli(bin, root, ['run', '--bundle', bundle, id]);
}

function procGone(pid: number): boolean {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return true;
  }
}

/** What a containerd shim does: create --pid-file, start, wait for the pid to exit, delete. */
function cliSequence(bin: string, root: string): Runner['once'] {
  return (id) => {
    const pidFile = join(work, `${id}.pid`);
    cli(bin, root, ['create', '--bundle', bundle, '--pid-file', pidFile, id]);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    cli(bin, root, ['start', id]);
    while (!procGone(pid)) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    cli(bin, root, ['delete', id]);
    rmSync(pidFile, { force: true });
  };
}

function inProcess(): Runner['once'] {
  const rt = new Runtime({ root: roots.lib });
  return async (id) => {
    const code = await rt.run(id, { bundle, stdio: ['ignore', 'ignore', 'ignore'] });
    if (code !== 0) throw new Error(`in-process run: exit status ${code}`);
  };
}

function crunWorks(): { ok: boolean; why: string } {
  if (!which('crun')) return { ok: false, why: 'crun is not installed' };
  const r = spawnSync('crun', ['--root', roots.crun, 'run', '--bundle', bundle, 'probe-crun'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  spawnSync('crun', ['--root', roots.crun, 'delete', '-f', 'probe-crun'], { stdio: 'ignore' });
  if (r.status === 0) return { ok: true, why: '' };
  return { ok: false, why: (r.stderr || r.stdout).trim().split('\n').pop() ?? `status ${r.status}` };
}

// ------------------------------------------------------------------ statistics

// CPU time does not wait in the run queue: on a saturated host it is the
// steadier measure. Children's time (runc, berth-runc, berth-init and the
// container, all waited for) comes from /proc/self/stat; its resolution is one
// clock tick, so only the mean over all iterations is reported.
function selfCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function slug(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

async function timeOnce(f: () => Promise<void> | void): Promise<number> {
  const t0 = process.hrtime.bigint();
  await f();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

async function measure(runners: Runner[], n: number, tag: string): Promise<Summary[]> {
  const times = new Map<string, number[]>(runners.map((r) => [r.name, []]));
  const cpu = new Map<string, number>(runners.map((r) => [r.name, 0]));
  // One warm-up each: page cache, first cgroup creation, JIT of the library.
  for (const r of runners) await r.once(`${tag}-warm-${slug(r.name)}-${process.pid}`);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < runners.length; k++) {
      const r = runners[(i + k) % runners.length]!;
      const c0 = childrenCpuMs() + (r.selfCpu ? selfCpuMs() : 0);
      times.get(r.name)!.push(await timeOnce(() => r.once(`${tag}-${i}-${slug(r.name)}-${process.pid}`)));
      cpu.set(r.name, cpu.get(r.name)! + childrenCpuMs() + (r.selfCpu ? selfCpuMs() : 0) - c0);
    }
  }
  return runners.map((r) => summarize(r.name, times.get(r.name)!, cpu.get(r.name)));
}

function table(title: string, rows: Summary[], base: string): string {
  const ref = rows.find((r) => r.name === base);
  const lines = [
    `${title}`,
    `  ${'runner'.padEnd(32)}${'median'.padStart(10)}${'p90'.padStart(10)}${'min'.padStart(10)}${'ratio'.padStart(8)}${'cpu/run'.padStart(10)}${'ratio'.padStart(8)}   (ratios: to ${base})`,
  ];
  const ms = (x: number) => `${x.toFixed(1)} ms`.padStart(10);
  for (const r of rows) {
    lines.push(
      `  ${r.name.padEnd(32)}${ms(r.median)}${ms(r.p90)}${ms(r.min)}${`${(r.median / ref!.median).toFixed(2)}x`.padStart(8)}${ms(r.cpu)}${`${(r.cpu / ref!.cpu).toFixed(2)}x`.padStart(8)}`,
    );
  }
  return lines.join('\n');
}

// ------------------------------------------------------------------ main

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the benchmark needs root (it creates real containers)');
  if (!which('runc')) throw new Error('runc is not installed (apt-get install runc)');
  if (!existsSync('/bin/busybox')) throw new Error('/bin/busybox is missing (apt-get install busybox-static)');
  if (!existsSync(join(REPO, 'bin/berth-runc.js'))) throw new Error('build first: node scripts/build.mjs');
  makeBundle();
  snapshotBuild();

  const crun = crunWorks();
  const runners: Runner[] = [
    { name: 'runc run', once: cliRun('runc', roots.runc) },
    ...(crun.ok ? [{ name: 'crun run', once: cliRun('crun', roots.crun) }] : []),
    { name: 'berth-runc run (CLI)', once: cliRun(BERTH_RUNC, roots.berth) },
    { name: 'berth-runc run (CLI on Node.js)', once: cliRun(BERTH_RUNC_NODE, roots.berthNode) },
    { name: 'Runtime.run (in-process)', once: inProcess(), selfCpu: true },
    ...ALSO.map(([name, bin]) => ({ name: `${name} run (CLI)`, once: cliRun(bin, join(work, `root-${slug(name)}`)) })),
  ];
  const seqRunners: Runner[] = [
    { name: 'runc create/start/delete', once: cliSequence('runc', roots.runc) },
    ...(crun.ok ? [{ name: 'crun create/start/delete', once: cliSequence('crun', roots.crun) }] : []),
    { name: 'berth-runc create/start/delete', once: cliSequence(BERTH_RUNC, roots.berth) },
    { name: 'berth-runc on Node.js c/s/d', once: cliSequence(BERTH_RUNC_NODE, roots.berthNode) },
    ...ALSO.map(([name, bin]) => ({
      name: `${name} create/start/delete`,
      once: cliSequence(bin, join(work, `root-${slug(name)}`)),
    })),
  ];

  // Start-up alone: the floor under every CLI call.
  const noCA = { ...process.env };
  delete noCA.NODE_EXTRA_CA_CERTS;
  const caEnv = {
    ...noCA,
    NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS ?? '/etc/ssl/certs/ca-certificates.crt',
  };
  const startOnly = (bin: string, args: string[], env: NodeJS.ProcessEnv) => () => {
    const r = spawnSync(bin, args, { stdio: 'ignore', env });
    if (r.status !== 0)
      throw new Error(`${bin} ${args.join(' ')}: status ${r.status}${r.error ? `: ${r.error.message}` : ''}`);
  };
  const startup: Runner[] = [
    { name: 'runc --version', once: startOnly('runc', ['--version'], noCA) },
    { name: 'node -e 0', once: startOnly(process.execPath, ['-e', '0'], noCA) },
    { name: 'node -e 0 +CA', once: startOnly(process.execPath, ['-e', '0'], caEnv) },
    { name: 'berth-runc --version', once: startOnly(BERTH_RUNC, ['--version'], noCA) },
    { name: 'berth-runc --version +CA', once: startOnly(BERTH_RUNC, ['--version'], caEnv) },
    { name: 'berth-runc on Node.js --version', once: startOnly(BERTH_RUNC_NODE, ['--version'], noCA) },
  ];

  const before = hostLoad();
  const out: Record<string, Summary[]> = {};
  out.run = await measure(runners, N, 'run');
  out.sequence = await measure(seqRunners, N, 'seq');
  out.startup = await measure(startup, N, 'up');

  const after = hostLoad();
  if (JSON_OUT) {
    process.stdout.write(
      JSON.stringify(
        {
          iterations: N,
          crun,
          NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS ?? null,
          load: { before, after },
          ...out,
        },
        null,
        2,
      ) + '\n',
    );
    return;
  }
  const env = process.env.NODE_EXTRA_CA_CERTS
    ? `NODE_EXTRA_CA_CERTS=${process.env.NODE_EXTRA_CA_CERTS}`
    : 'NODE_EXTRA_CA_CERTS unset';
  console.log(
    `berth runtime benchmark: ${N} interleaved iterations, /bin/true in a busybox bundle (runc spec), ${env}`,
  );
  console.log(`host: ${cpus().length} CPUs; load before ${before}; after ${after}`);
  if (!crun.ok) console.log(`crun: skipped: ${crun.why}`);
  console.log('');
  console.log(table('run of a trivial container (create, start, wait, delete)', out.run, 'runc run'));
  console.log('');
  console.log(
    table(
      "a containerd shim's calls (create --pid-file, start, wait, delete: 3 processes)",
      out.sequence,
      'runc create/start/delete',
    ),
  );
  console.log('');
  console.log(table('start-up only', out.startup, 'runc --version'));
  const med = (rows: Summary[], name: string) => rows.find((r) => r.name === name)?.median ?? NaN;
  const runc = med(out.run, 'runc run');
  console.log('');
  console.log('targets (issue 2):');
  console.log(
    `  CLI within 1.5x of runc:            ${(med(out.run, 'berth-runc run (CLI)') / runc).toFixed(2)}x  ${med(out.run, 'berth-runc run (CLI)') / runc <= 1.5 ? 'met' : 'NOT met'}`,
  );
  console.log(
    `  in-process at least 3x faster:      ${(runc / med(out.run, 'Runtime.run (in-process)')).toFixed(2)}x faster  ${runc / med(out.run, 'Runtime.run (in-process)') >= 3 ? 'met' : 'NOT met'}`,
  );
}

try {
  await main();
} finally {
  // Any container a failed iteration left behind, then the temp tree.
  const all: [string, string][] = [
    ['runc', roots.runc],
    ['crun', roots.crun],
    [BERTH_RUNC, roots.berth],
    [BERTH_RUNC, roots.berthNode],
    [BERTH_RUNC, roots.lib],
    ...ALSO.map(([name, bin]): [string, string] => [bin, join(work, `root-${slug(name)}`)]),
  ];
  for (const [bin, root] of all) {
    if (!existsSync(root)) continue;
    const ids =
      spawnSync(bin, ['--root', root, 'list', '-q'], { encoding: 'utf8' }).stdout?.split('\n').filter(Boolean) ?? [];
    for (const id of ids) spawnSync(bin, ['--root', root, 'delete', '--force', id], { stdio: 'ignore' });
  }
  rmSync(work, { recursive: true, force: true });
}
