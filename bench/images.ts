// Benchmark: pull (and unpack) of images of three shapes from a local
// registry, each iteration from an empty store, side by side in one run:
//   berth-ctr           `berth-ctr --root R images pull --plain-http REF`  (a
//                       fresh R every iteration: pull, then unpack into overlay
//                       snapshots), and the same with --no-unpack
//   containerd          `ctr images pull --plain-http REF` against a real
//                       containerd 1.6 on its own temp root (pull and unpack
//                       into its overlayfs snapshotter), and `ctr content
//                       fetch --plain-http REF` (pull only); the store is
//                       emptied between iterations (images rm --sync, checked)
//   skopeo              `skopeo copy docker://REF oci:DIR:latest` (pull only),
//                       and + `umoci unpack` of that layout (pull + unpack;
//                       not for the zstd image, which umoci 0.4.7 cannot read)
// The shapes (bench/image-shapes.ts): many small files, few large files of
// incompressible data, a zstd image; built on the spot from a seeded
// generator and pushed with skopeo; building them is not measured. Iterations
// are interleaved (A B C D, B C D A, ...) after one warm-up each; `sync` runs
// (untimed) before every iteration so that nobody pays for the previous
// runner's dirty pages. Only ratios measured in the same run mean anything.
//
//   sudo node --import tsx bench/images.ts [--iterations 5] [--shapes small,large,zstd] [--json]
//        [--profile DIR [--profile-shape large]] [--also NAME=PATH ...]
//
// Needs root, the build (node scripts/build.mjs), /bin/busybox, zstd,
// docker-registry, containerd + ctr, skopeo and umoci (apt-get install ...).

import { spawnSync } from 'node:child_process';
import { cpSync, statSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { skopeo, startRegistry, type RegistryInstance } from '../test/helpers/registry.js';
import { buildImage, SHAPES, type BuiltLayer, type Shape } from './image-shapes.js';
import { startContainerd, unmountUnder, which, type Containerd } from '../test/helpers/daemons.js';
import { childrenCpuMs, hostLoad, procCpuMs } from './proc.js';
import { summarize, type Summary } from './stats.js';

const REPO = resolve(import.meta.dirname, '..');
let BERTH_CTR = join(REPO, 'bin/berth-ctr');

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
}
const N = Number(arg('iterations', '5'));
const JSON_OUT = process.argv.includes('--json');
/** --also NAME=PATH (repeatable): another build of berth-ctr (its bin/berth-ctr launcher) measured alongside, pull + unpack. */
const ALSO: [string, string][] = process.argv.flatMap((a, i) =>
  a === '--also' && process.argv[i + 1]?.includes('=') ? [process.argv[i + 1]!.split('=', 2) as [string, string]] : [],
);
/** --profile DIR: after the measurement, one berth-ctr pull under `node --cpu-prof` and one under `strace -f -c`, kept in DIR. */
const PROFILE = process.argv.includes('--profile') ? resolve(arg('profile', 'bench-profile')) : undefined;
/** --profile-shape SHAPE: the image the profile pulls (default large). */
const PROFILE_SHAPE = arg('profile-shape', 'large');
/** --shapes a,b: the images measured (default all three). */
const SHAPE_LIST = arg('shapes', SHAPES.join(',')).split(',') as Shape[];

// /var/tmp, not a tmpfs: the stores must be on a real disk filesystem, as they would be.
const work = mkdtempSync(join(process.env.BENCH_DIR ?? '/var/tmp', 'berth-bench-img-'));

// ------------------------------------------------------------------ runners

type Runner = {
  name: string;
  /** The timed part. */
  once: () => void;
  /** Untimed: back to an empty store. */
  reset: () => void | Promise<void>;
  /** Untimed, after the warm-up: check that the run did what it claims. */
  check?: () => void;
  /** CPU time spent outside our children (a daemon's), in ms since boot of that process. */
  extraCpu?: () => number;
};

function run(bin: string, args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): string {
  const r = spawnSync(bin, args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 256 * 2 ** 20,
    env: opts.env ?? process.env,
  });
  if (r.status !== 0)
    throw new Error(
      `${bin} ${args.join(' ')}: status ${r.status}${r.error ? ` (${r.error.message})` : ''}: ${(r.stderr || r.stdout).trim().slice(-2000)}`,
    );
  return r.stdout;
}

/** Remove a directory a runner used, unmounting whatever is still mounted under it first. */
function wipeDir(dir: string): void {
  unmountUnder(dir);
  rmSync(dir, { recursive: true, force: true });
}

/** Measure a copy of the build, so that a rebuild in the checkout during the run cannot change an iteration. */
let buildInfo = '';
function snapshotBuild(): void {
  const head = spawnSync('git', ['-C', REPO, 'log', '-1', '--format=%h %cd', '--date=format:%H:%M'], {
    encoding: 'utf8',
  }).stdout.trim();
  buildInfo = `checkout at ${head}, bin/berth-ctr.bundle.js built ${statSync(join(REPO, 'bin/berth-ctr.bundle.js')).mtime.toISOString().slice(11, 19)} UTC (copied at the start)`;
  const dst = join(work, 'build');
  mkdirSync(join(dst, 'native'), { recursive: true });
  cpSync(join(REPO, 'bin'), join(dst, 'bin'), { recursive: true, filter: (src) => !src.endsWith('.map') });
  if (existsSync(join(REPO, 'native/build')))
    cpSync(join(REPO, 'native/build'), join(dst, 'native/build'), { recursive: true });
  // The bundle keeps better-sqlite3 (native) outside: resolve it from the checkout's node_modules.
  symlinkSync(join(REPO, 'node_modules'), join(dst, 'node_modules'));
  BERTH_CTR = join(dst, 'bin/berth-ctr');
}

function berthRunner(name: string, ref: string, extra: string[], layers: number, bin = BERTH_CTR): Runner {
  const root = join(work, `root-${name.replace(/[^a-z0-9]+/gi, '-')}`);
  return {
    name,
    once: () => run(bin, ['--root', root, 'images', 'pull', '--plain-http', ...extra, ref]),
    reset: () => wipeDir(root),
    check: () => {
      const images = run(BERTH_CTR, ['--root', root, 'images', 'ls', '-q']);
      if (!images.includes(ref)) throw new Error(`${name}: ${ref} not in images ls: ${images}`);
      const snaps = run(BERTH_CTR, ['--root', root, 'snapshots', 'ls']).trim().split('\n').slice(1).filter(Boolean);
      const want = extra.includes('--no-unpack') ? 0 : layers;
      if (snaps.length !== want)
        throw new Error(`${name}: ${snaps.length} snapshots, expected ${want}:\n${snaps.join('\n')}`);
    },
  };
}

/** Empty containerd's store: the image record, then a synchronous gc; what is left is removed by hand and reported. */
function wipeContainerd(c: Containerd): void {
  for (const img of c.ctr(['images', 'ls', '-q']).stdout.split('\n').filter(Boolean))
    c.ctr(['images', 'rm', '--sync', img]);
  const left = c.ctr(['content', 'ls', '-q']).stdout.split('\n').filter(Boolean);
  const snaps = c.ctr(['snapshots', 'ls']).stdout.trim().split('\n').slice(1).filter(Boolean);
  if (left.length || snaps.length) {
    leftovers.push(`containerd kept ${left.length} blobs and ${snaps.length} snapshots after images rm --sync`);
    if (left.length) c.ctr(['content', 'rm', ...left]);
    // Children before parents: the list is not ordered, so repeat until empty.
    for (let pass = 0; pass < 10; pass++) {
      const keys = c
        .ctr(['snapshots', 'ls'])
        .stdout.trim()
        .split('\n')
        .slice(1)
        .map((l) => l.split(/\s+/)[0]!)
        .filter(Boolean);
      if (!keys.length) break;
      for (const k of keys) c.ctr(['snapshots', 'rm', k]);
    }
  }
}
const leftovers: string[] = [];

function containerdRunners(c: Containerd, ref: string, layers: number): Runner[] {
  const cpu = () => (c.proc.pid ? procCpuMs(c.proc.pid) : 0);
  const ctr = (args: string[]) => {
    const r = c.ctr(args, { timeout: 600_000 });
    if (r.status !== 0)
      throw new Error(
        `ctr ${args.join(' ')}: status ${r.status}: ${(r.stderr || r.stdout).trim().slice(-2000)}\n${c.logTail(20)}`,
      );
  };
  const count = (args: string[]) => c.ctr(args).stdout.trim().split('\n').slice(1).filter(Boolean).length;
  return [
    {
      name: 'ctr images pull',
      once: () => ctr(['images', 'pull', '--plain-http', ref]),
      reset: () => wipeContainerd(c),
      extraCpu: cpu,
      check: () => {
        const n = count(['snapshots', 'ls']);
        if (n !== layers) throw new Error(`ctr images pull: ${n} snapshots, expected ${layers}`);
      },
    },
    {
      name: 'ctr content fetch',
      once: () => ctr(['content', 'fetch', '--plain-http', ref]),
      reset: () => wipeContainerd(c),
      extraCpu: cpu,
      check: () => {
        const blobs = c.ctr(['content', 'ls', '-q']).stdout.split('\n').filter(Boolean).length;
        if (blobs !== layers + 2) throw new Error(`ctr content fetch: ${blobs} blobs, expected ${layers + 2}`);
        const n = count(['snapshots', 'ls']);
        if (n !== 0) throw new Error(`ctr content fetch: ${n} snapshots, expected none`);
      },
    },
  ];
}

function skopeoRunners(ref: string, shape: Shape): Runner[] {
  const dir = join(work, 'skopeo-oci');
  const dir2 = join(work, 'skopeo-umoci');
  const bundle = join(work, 'umoci-bundle');
  const runners: Runner[] = [
    {
      name: 'skopeo copy',
      once: () => {
        skopeo(['copy', '--quiet', '--src-tls-verify=false', `docker://${ref}`, `oci:${dir}:latest`]);
      },
      reset: () => wipeDir(dir),
      check: () => {
        if (!readFileSync(join(dir, 'index.json'), 'utf8').includes('latest'))
          throw new Error('skopeo copy: no latest in index.json');
      },
    },
    {
      name: 'skopeo copy + umoci unpack',
      once: () => {
        skopeo(['copy', '--quiet', '--src-tls-verify=false', `docker://${ref}`, `oci:${dir2}:latest`]);
        run('umoci', ['unpack', '--image', `${dir2}:latest`, bundle]);
      },
      reset: () => {
        wipeDir(dir2);
        wipeDir(bundle);
      },
      check: () => {
        const whitedOut = shape === 'small' && existsSync(join(bundle, 'rootfs/usr/share/doc/pkg-0007'));
        if (!existsSync(join(bundle, 'rootfs/bin/busybox')) || whitedOut)
          throw new Error('umoci unpack: unexpected rootfs');
      },
    },
  ];
  // umoci 0.4.7 (Debian 12) knows no zstd layers.
  return shape === 'zstd' ? runners.slice(0, 1) : runners;
}

// ------------------------------------------------------------------ statistics

function syncDisks(): void {
  spawnSync('sync');
}

async function measure(runners: Runner[], n: number): Promise<Summary[]> {
  const times = new Map<string, number[]>(runners.map((r) => [r.name, []]));
  const cpu = new Map<string, number>(runners.map((r) => [r.name, 0]));
  const timed = async (r: Runner): Promise<void> => {
    await r.reset();
    syncDisks();
    const c0 = childrenCpuMs() + (r.extraCpu?.() ?? 0);
    const t0 = process.hrtime.bigint();
    r.once();
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    cpu.set(r.name, cpu.get(r.name)! + childrenCpuMs() + (r.extraCpu?.() ?? 0) - c0);
    times.get(r.name)!.push(ms);
    if (!JSON_OUT) process.stderr.write(`  ${r.name}: ${(ms / 1000).toFixed(2)} s\n`);
  };
  // One warm-up each (page cache of the binaries, the registry's own caches), checked.
  for (const r of runners) {
    await r.reset();
    syncDisks();
    r.once();
    r.check?.();
  }
  for (let i = 0; i < n; i++) {
    if (!JSON_OUT) process.stderr.write(`iteration ${i + 1}/${n} (${hostLoad()})\n`);
    for (let k = 0; k < runners.length; k++) await timed(runners[(i + k) % runners.length]!);
  }
  for (const r of runners) await r.reset();
  return runners.map((r) => summarize(r.name, times.get(r.name)!, cpu.get(r.name)));
}

function table(title: string, rows: Summary[], bases: string[], all: Summary[]): string {
  const refs = bases.map((b) => all.find((r) => r.name === b)!);
  const s = (x: number) => `${(x / 1000).toFixed(2)} s`.padStart(9);
  const lines = [
    title,
    `  ${'runner'.padEnd(30)}${'median'.padStart(9)}${'p90'.padStart(9)}${'min'.padStart(9)}${'cpu/run'.padStart(9)}${bases.map((_, i) => `ratio${i + 1}`.padStart(8)).join('')}`,
  ];
  for (const r of rows) {
    lines.push(
      `  ${r.name.padEnd(30)}${s(r.median)}${s(r.p90)}${s(r.min)}${s(r.cpu)}${refs.map((b) => `${(r.median / b.median).toFixed(2)}x`.padStart(8)).join('')}`,
    );
  }
  bases.forEach((b, i) => lines.push(`  ratio${i + 1}: median / median of ${b}`));
  return lines.join('\n');
}

/**
 * One pull + unpack of berth-ctr under the V8 profiler, and one under
 * strace -f -c, each into a fresh root; the files go to PROFILE.
 */
function profileBerth(ref: string): void {
  const dir = PROFILE!;
  console.log(`profile of the ${PROFILE_SHAPE} image`);
  mkdirSync(dir, { recursive: true });
  const root = join(work, 'root-profile');
  const mjs = join(BERTH_CTR, '..', 'berth-ctr.js');
  const env: NodeJS.ProcessEnv = { ...process.env, BERTH_NATIVE_DIR: join(BERTH_CTR, '../../native/build') };
  delete env.NODE_EXTRA_CA_CERTS; // as the launcher would run it
  for (const unpack of [true, false]) {
    wipeDir(root);
    syncDisks();
    const t0 = Date.now();
    run(
      process.execPath,
      [
        '--cpu-prof',
        '--cpu-prof-dir',
        dir,
        '--cpu-prof-name',
        `berth-ctr-pull${unpack ? '' : '-no-unpack'}.cpuprofile`,
        mjs,
        '--root',
        root,
        'images',
        'pull',
        '--plain-http',
        ...(unpack ? [] : ['--no-unpack']),
        ref,
      ],
      { env },
    );
    console.log(
      `profile: berth-ctr pull${unpack ? '' : ' --no-unpack'} under --cpu-prof: ${((Date.now() - t0) / 1000).toFixed(2)} s`,
    );
  }
  if (which('strace')) {
    for (const [what, args] of [
      ['berth-ctr', [process.execPath, mjs, '--root', root, 'images', 'pull', '--plain-http', ref]],
      ['umoci', ['umoci', 'unpack', '--image', `${join(work, 'skopeo-oci')}:latest`, join(work, 'umoci-bundle')]],
    ] as const) {
      wipeDir(root);
      if (what === 'umoci') {
        wipeDir(join(work, 'skopeo-oci'));
        wipeDir(join(work, 'umoci-bundle'));
        skopeo([
          'copy',
          '--quiet',
          '--src-tls-verify=false',
          `docker://${ref}`,
          `oci:${join(work, 'skopeo-oci')}:latest`,
        ]);
      }
      syncDisks();
      run('strace', ['-f', '-c', '-o', join(dir, `strace-${what}.txt`), ...args], { env });
    }
    wipeDir(join(work, 'skopeo-oci'));
    wipeDir(join(work, 'umoci-bundle'));
  }
  wipeDir(root);
  console.log(`profile: files in ${dir}`);
}

// ------------------------------------------------------------------ main

let registry: RegistryInstance | undefined;
let containerd: Containerd | undefined;

interface ShapeResult {
  shape: Shape;
  ref: string;
  image: { layers: BuiltLayer[]; total: number; compressed: number };
  load: { before: string; after: string };
  rows: Summary[];
}

const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

/** Build, push and measure one shape. */
async function benchShape(shape: Shape, reg: RegistryInstance, ctrd: Containerd): Promise<ShapeResult> {
  const t0 = Date.now();
  const layout = join(work, `layout-${shape}`);
  const img = await buildImage(shape, layout, work);
  const ref = `${reg.host}/bench/${shape}:latest`;
  skopeo(['copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:latest`, `docker://${ref}`]);
  rmSync(layout, { recursive: true, force: true });
  const built = ((Date.now() - t0) / 1000).toFixed(1);
  const L = img.layers.length;
  const runners: Runner[] = [
    berthRunner('berth-ctr pull', ref, [], L),
    berthRunner('berth-ctr pull --no-unpack', ref, ['--no-unpack'], L),
    ...containerdRunners(ctrd, ref, L),
    ...skopeoRunners(ref, shape),
    ...ALSO.flatMap(([name, bin]) => [
      berthRunner(`${name} pull`, ref, [], L, resolve(bin)),
      berthRunner(`${name} --no-unpack`, ref, ['--no-unpack'], L, resolve(bin)),
    ]),
  ];
  if (!JSON_OUT) {
    console.log(
      `\n[${shape}] image ${ref}: ${L} layers, ${mb(img.total)} uncompressed, ${mb(img.compressed)} compressed (built and pushed in ${built} s, not measured)`,
    );
    for (const l of img.layers)
      console.log(
        `  ${l.name.padEnd(28)}${String(l.files).padStart(7)} entries ${mb(l.uncompressed).padStart(11)} ${mb(l.size).padStart(11)}`,
      );
  }
  const before = hostLoad();
  const rows = N > 0 ? await measure(runners, N) : [];
  const after = hostLoad();
  if (PROFILE && shape === PROFILE_SHAPE) profileBerth(ref);
  return { shape, ref, image: img, load: { before, after }, rows };
}

function printShape(r: ShapeResult): void {
  const names = new Set(r.rows.map((x) => x.name));
  const unpacked = [
    'berth-ctr pull',
    ...ALSO.map(([name]) => `${name} pull`),
    'ctr images pull',
    'skopeo copy + umoci unpack',
  ].filter((n) => names.has(n));
  const only = [
    'berth-ctr pull --no-unpack',
    ...ALSO.map(([name]) => `${name} --no-unpack`),
    'ctr content fetch',
    'skopeo copy',
  ];
  const pick = (list: string[]) => list.map((n) => r.rows.find((x) => x.name === n)!);
  console.log('');
  console.log(
    `[${r.shape}] ${mb(r.image.total)} in ${r.image.layers.length} layers, ${mb(r.image.compressed)} compressed; load before: ${r.load.before}; after: ${r.load.after}`,
  );
  console.log(
    table('pull + unpack (registry to a root filesystem)', pick(unpacked), ['ctr images pull', 'skopeo copy'], r.rows),
  );
  console.log(
    table(
      'pull only (registry to a content store / OCI layout)',
      pick(only),
      ['ctr content fetch', 'skopeo copy'],
      r.rows,
    ),
  );
}

/** The three shapes side by side, and the issue's targets. */
function printSummary(results: ShapeResult[]): void {
  const med = (r: ShapeResult, n: string) => r.rows.find((x) => x.name === n)!;
  const s = (x: number) => `${(x / 1000).toFixed(2)} s`;
  console.log('');
  console.log('side by side (medians; cpu/run in parentheses)');
  const head = ['shape', 'berth pull', 'ctr pull', 'ratio', 'berth fetch', 'ctr fetch', 'skopeo copy', 'to skopeo'];
  const widths = [7, 18, 18, 7, 18, 18, 18, 10];
  const line = (cells: string[]) =>
    console.log('  ' + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(''));
  line(head);
  const verdicts: string[] = [];
  for (const r of results) {
    const [bp, cp, bf, cf, sk] = [
      'berth-ctr pull',
      'ctr images pull',
      'berth-ctr pull --no-unpack',
      'ctr content fetch',
      'skopeo copy',
    ].map((n) => med(r, n));
    const cell = (x: Summary) => `${s(x.median)} (${s(x.cpu)})`;
    const pr = bp!.median / cp!.median;
    const fr = bf!.median / sk!.median;
    line([r.shape, cell(bp!), cell(cp!), `${pr.toFixed(2)}x`, cell(bf!), cell(cf!), cell(sk!), `${fr.toFixed(2)}x`]);
    // CPU per run too: on a shared host the wall clock waits in the run queue,
    // and a one-threaded Node process waits more than Go's, so the two can disagree.
    const pc = bp!.cpu / cp!.cpu;
    const fc = bf!.cpu / sk!.cpu;
    verdicts.push(
      `  ${r.shape.padEnd(6)} pull+unpack ${pr.toFixed(2)}x of containerd (target 0.8x): ${pr <= 0.8 ? 'met' : 'NOT met'}; fetch ${fr.toFixed(2)}x of skopeo (target 1.2x): ${fr <= 1.2 ? 'met' : 'NOT met'}` +
        `; CPU per run: ${pc.toFixed(2)}x and ${fc.toFixed(2)}x`,
    );
  }
  console.log('');
  console.log('targets (issue 6):');
  for (const v of verdicts) console.log(v);
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the benchmark needs root (overlay mounts, chown, containerd)');
  for (const bin of ['containerd', 'ctr', 'skopeo', 'umoci', 'tar', 'zstd'])
    if (!which(bin)) throw new Error(`${bin} is not installed`);
  if (!existsSync('/usr/bin/docker-registry'))
    throw new Error('docker-registry is not installed (apt-get install docker-registry)');
  if (!existsSync('/bin/busybox')) throw new Error('/bin/busybox is missing (apt-get install busybox-static)');
  if (!existsSync(join(REPO, 'bin/berth-ctr.js'))) throw new Error('build first: node scripts/build.mjs');
  for (const s of SHAPE_LIST)
    if (!(SHAPES as readonly string[]).includes(s))
      throw new Error(`--shapes: unknown shape ${s} (${SHAPES.join(', ')})`);
  snapshotBuild();
  registry = await startRegistry();
  containerd = await startContainerd({ prefix: 'berth-bench-ctrd-', namespace: 'bench' });
  const results: ShapeResult[] = [];
  for (const shape of SHAPE_LIST) results.push(await benchShape(shape, registry, containerd));
  if (N === 0) return;

  const versions = {
    berth: buildInfo,
    node: process.version,
    containerd: run('containerd', ['--version']).trim(),
    skopeo: run('skopeo', ['--version']).trim(),
    umoci: run('umoci', ['--version']).trim(),
  };
  if (JSON_OUT) {
    process.stdout.write(JSON.stringify({ iterations: N, versions, leftovers, results }, null, 2) + '\n');
    return;
  }
  console.log('');
  console.log(`berth images benchmark: ${N} interleaved iterations, each from an empty store; ${cpus().length} CPUs`);
  console.log(`berth: ${versions.berth}`);
  console.log(`${versions.node}, ${versions.containerd}, ${versions.skopeo}, ${versions.umoci}`);
  if (leftovers.length) console.log(`note: ${[...new Set(leftovers)].join('; ')} (removed by hand, untimed)`);
  for (const r of results) printShape(r);
  printSummary(results);
}

try {
  await main();
} finally {
  await containerd?.stop().catch((e: unknown) => console.error(`stopping containerd: ${String(e)}`));
  await registry?.stop().catch((e: unknown) => console.error(`stopping the registry: ${String(e)}`));
  unmountUnder(work);
  rmSync(work, { recursive: true, force: true });
}
