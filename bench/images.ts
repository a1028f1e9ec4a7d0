// Benchmark: pull (and unpack) of a multi-layer image of ~300 MB from a local
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
//                       and + `umoci unpack` of that layout (pull + unpack)
// The image (busybox base, random files, many small text files, a mix of
// medium files, hard links, symlinks, whiteouts; gzip -6) is built on the spot
// and pushed with skopeo; building it is not measured. Iterations are
// interleaved (A B C D, B C D A, ...) after one warm-up each; `sync` runs
// (untimed) after every iteration so that nobody pays for the previous
// runner's dirty pages. Only ratios measured in the same run mean anything.
//
//   sudo node --import tsx bench/images.ts [--iterations 5] [--json] [--profile DIR] [--also NAME=PATH ...]
//
// Needs root, the build (node scripts/build.mjs), /bin/busybox,
// docker-registry, containerd + ctr, skopeo and umoci (apt-get install ...).

import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  cpSync,
  statSync,
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
  linkSync,
  symlinkSync,
  renameSync,
} from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { busyboxLayerTar, hostArch, skopeo, startRegistry, type RegistryInstance } from '../test/helpers/registry.js';
import { startContainerd, unmountUnder, which, type Containerd } from '../test/helpers/daemons.js';
import { quantile } from './stats.js';

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

// /var/tmp, not a tmpfs: the stores must be on a real disk filesystem, as they would be.
const work = mkdtempSync(join(process.env.BENCH_DIR ?? '/var/tmp', 'berth-bench-img-'));

// ------------------------------------------------------------------ the image

/** A pool of word-like text: slices of it compress about 3x with gzip, as source, docs and configs do. */
function textPool(bytes: number): Buffer {
  const alphabet = 'etaoinshrdlcumwfgypbvkjxqz';
  const words: string[] = [];
  for (let i = 0; i < 20000; i++) {
    const r = randomBytes(11);
    words.push([...r.subarray(1, 2 + (r[0]! % 10))].map((b) => alphabet[b % 26]).join(''));
  }
  const out = Buffer.alloc(bytes);
  const pick = randomBytes(bytes);
  let off = 0;
  let j = 0;
  while (off < bytes) {
    const w = words[((pick[j]! << 8) | pick[j + 1]!) % words.length]!;
    j = (j + 2) % (bytes - 2);
    off += out.write(w, off);
    if (off < bytes) out[off++] = pick[j]! % 13 === 0 ? 0x0a : 0x20;
  }
  return out;
}

function rnd(n: number): number {
  return randomBytes(4).readUInt32LE() % n;
}

interface LayerSpec {
  name: string;
  build: (dir: string) => void;
}

/** Layers of a few hundred MB in all, shaped like a real application image. */
function layerSpecs(pool: Buffer): LayerSpec[] {
  const text = (size: number) => {
    const start = rnd(pool.length - size);
    return pool.subarray(start, start + size);
  };
  return [
    {
      // 2: incompressible blobs (model weights, archives, media): ~100 MB in 36 files
      name: 'random blobs',
      build: (d) => {
        mkdirSync(join(d, 'opt/blobs'), { recursive: true });
        for (let i = 0; i < 36; i++)
          writeFileSync(join(d, 'opt/blobs', `blob-${i}.bin`), randomBytes(1_500_000 + rnd(3_000_000)));
      },
    },
    {
      // 3: many small text files (docs, sources): ~12,000 files, ~50 MB, in 300 directories
      name: 'small text files',
      build: (d) => {
        for (let k = 0; k < 300; k++) {
          const dir = join(d, 'usr/share/doc', `pkg-${String(k).padStart(4, '0')}`);
          mkdirSync(dir, { recursive: true });
          for (let i = 0; i < 40; i++) writeFileSync(join(dir, `file-${i}.txt`), text(200 + rnd(8000)));
        }
      },
    },
    {
      // 4: medium files, half text (scripts, .py, .js) half random (.so, compressed assets): ~85 MB
      name: 'medium mixed files',
      build: (d) => {
        for (let k = 0; k < 18; k++) {
          const dir = join(d, 'usr/lib/app', `mod-${k}`);
          mkdirSync(dir, { recursive: true });
          for (let i = 0; i < 10; i++) {
            const size = 64 * 1024 + rnd(900 * 1024);
            writeFileSync(join(dir, i % 2 ? `lib${i}.so` : `part${i}.js`), i % 2 ? randomBytes(size) : text(size));
          }
        }
        mkdirSync(join(d, 'usr/bin'), { recursive: true });
        symlinkSync('../lib/app/mod-0/part0.js', join(d, 'usr/bin/app'));
      },
    },
    {
      // 5: small binary files owned by a user, with hard links and symlinks: ~4,000 files, ~35 MB
      name: 'small binary files, links',
      build: (d) => {
        for (let k = 0; k < 100; k++) {
          const dir = join(d, 'var/lib/data', `shard-${k}`);
          mkdirSync(dir, { recursive: true });
          for (let i = 0; i < 40; i++) writeFileSync(join(dir, `rec-${i}.dat`), randomBytes(1024 + rnd(15 * 1024)));
          linkSync(join(dir, 'rec-0.dat'), join(dir, 'rec-0.hardlink'));
          symlinkSync('rec-1.dat', join(dir, 'latest'));
        }
        spawnSync('chown', ['-R', '1000:1000', join(d, 'var/lib/data')]);
      },
    },
    {
      // 6: deletions: a whiteout of a directory of layer 3, an opaque directory, changed files
      name: 'whiteouts, edits',
      build: (d) => {
        const doc = join(d, 'usr/share/doc');
        mkdirSync(join(doc, 'pkg-0008'), { recursive: true });
        writeFileSync(join(doc, '.wh.pkg-0007'), '');
        writeFileSync(join(doc, 'pkg-0008/.wh..wh..opq'), '');
        writeFileSync(join(doc, 'pkg-0008/replaced.txt'), text(4000));
        mkdirSync(join(d, 'opt/blobs'), { recursive: true });
        writeFileSync(join(d, 'opt/blobs/.wh.blob-29.bin'), '');
        writeFileSync(join(d, 'opt/blobs/blob-28.bin'), randomBytes(200_000));
      },
    },
    {
      // 7: configuration: a few small files
      name: 'config',
      build: (d) => {
        mkdirSync(join(d, 'etc/app'), { recursive: true });
        for (let i = 0; i < 50; i++) writeFileSync(join(d, 'etc/app', `conf-${i}.yaml`), text(100 + rnd(2000)));
      },
    },
  ];
}

/** sha256 and byte count of what passes through. */
class Hasher extends Transform {
  readonly h = createHash('sha256');
  n = 0;
  override _transform(c: Buffer, _e: BufferEncoding, cb: (e?: Error | null, d?: Buffer) => void): void {
    this.h.update(c);
    this.n += c.length;
    cb(null, c);
  }
}

interface Blob {
  mediaType: string;
  digest: string;
  size: number;
}

/**
 * Build the image as an OCI layout in `layout` (tar, gzip -6, digests),
 * returning its description. Every layer is a real tar made by tar(1).
 */
async function buildImage(layout: string): Promise<{
  layers: (Blob & { diffId: string; uncompressed: number; name: string; files: number })[];
  total: number;
  compressed: number;
}> {
  const blobs = join(layout, 'blobs/sha256');
  mkdirSync(blobs, { recursive: true });
  const pool = textPool(16 * 2 ** 20);
  const specs: LayerSpec[] = [
    {
      name: 'busybox base',
      build: (d) => {
        // The tests' busybox tree, from the same tar they use.
        spawnSync('tar', ['-C', d, '-xf', '-'], { input: busyboxLayerTar() });
      },
    },
    ...layerSpecs(pool),
  ];
  const layers = [];
  for (const [i, spec] of specs.entries()) {
    const dir = join(work, `gen-${i}`);
    mkdirSync(dir);
    spec.build(dir);
    const tarFile = join(work, `gen-${i}.tar`);
    const t = spawnSync(
      'tar',
      ['-C', dir, '--numeric-owner', '--sort=name', '--mtime=@1767225600', '-cf', tarFile, '.'],
      { encoding: 'utf8' },
    );
    if (t.status !== 0) throw new Error(`tar: ${t.stderr}`);
    const files = Number(spawnSync('sh', ['-c', `find . | wc -l`], { cwd: dir, encoding: 'utf8' }).stdout.trim());
    rmSync(dir, { recursive: true, force: true });
    const raw = new Hasher();
    const gz = new Hasher();
    const tmp = join(blobs, `tmp-${i}`);
    await pipeline(createReadStream(tarFile), raw, createGzip({ level: 6 }), gz, createWriteStream(tmp));
    rmSync(tarFile);
    const digest = `sha256:${gz.h.digest('hex')}`;
    renameSync(tmp, join(blobs, digest.slice(7)));
    layers.push({
      name: spec.name,
      files,
      mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
      digest,
      size: gz.n,
      diffId: `sha256:${raw.h.digest('hex')}`,
      uncompressed: raw.n,
    });
  }
  const put = (bytes: Buffer): string => {
    const d = createHash('sha256').update(bytes).digest('hex');
    writeFileSync(join(blobs, d), bytes);
    return `sha256:${d}`;
  };
  const config = Buffer.from(
    JSON.stringify({
      architecture: hostArch(),
      os: 'linux',
      created: '2026-01-01T00:00:00Z',
      config: { Cmd: ['/bin/sh'], Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history: layers.map((l) => ({ created: '2026-01-01T00:00:00Z', created_by: `berth bench: ${l.name}` })),
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: put(config), size: config.length },
      layers: layers.map(({ mediaType, digest, size }) => ({ mediaType, digest, size })),
    }),
  );
  const mdigest = put(manifest);
  writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    join(layout, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: mdigest,
          size: manifest.length,
          annotations: { 'org.opencontainers.image.ref.name': 'latest' },
        },
      ],
    }),
  );
  return {
    layers,
    total: layers.reduce((a, l) => a + l.uncompressed, 0),
    compressed: layers.reduce((a, l) => a + l.size, 0),
  };
}

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

/** utime + stime of a process (all its threads), in ms. */
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;
function procCpuMs(pid: number): number {
  const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
}
function childrenCpuMs(): number {
  const st = readFileSync('/proc/self/stat', 'utf8');
  const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[13]) + Number(f[14])) * 1000) / CLK_TCK;
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

function skopeoRunners(ref: string): Runner[] {
  const dir = join(work, 'skopeo-oci');
  const dir2 = join(work, 'skopeo-umoci');
  const bundle = join(work, 'umoci-bundle');
  return [
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
        if (
          !existsSync(join(bundle, 'rootfs/bin/busybox')) ||
          existsSync(join(bundle, 'rootfs/usr/share/doc/pkg-0007'))
        )
          throw new Error('umoci unpack: unexpected rootfs');
      },
    },
  ];
}

// ------------------------------------------------------------------ statistics

interface Summary {
  name: string;
  n: number;
  median: number;
  p90: number;
  min: number;
  mean: number;
  cpu: number;
  times: number[];
}

function summarize(name: string, ms: number[], cpuTotal: number): Summary {
  const s = [...ms].sort((a, b) => a - b);
  return {
    name,
    n: s.length,
    median: quantile(s, 0.5),
    p90: quantile(s, 0.9),
    min: s[0] ?? NaN,
    mean: s.reduce((a, b) => a + b, 0) / s.length,
    cpu: cpuTotal / s.length,
    times: ms,
  };
}

function hostLoad(): string {
  const la = loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');
  let psi = '';
  try {
    const m = /some avg10=([\d.]+)/.exec(readFileSync('/proc/pressure/cpu', 'utf8'));
    if (m) psi = `, cpu pressure ${m[1]}%`;
    const io = /some avg10=([\d.]+)/.exec(readFileSync('/proc/pressure/io', 'utf8'));
    if (io) psi += `, io pressure ${io[1]}%`;
  } catch {
    /* no PSI */
  }
  return `loadavg ${la}${psi}`;
}

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
  return runners.map((r) => summarize(r.name, times.get(r.name)!, cpu.get(r.name)!));
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

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the benchmark needs root (overlay mounts, chown, containerd)');
  for (const bin of ['containerd', 'ctr', 'skopeo', 'umoci', 'tar'])
    if (!which(bin)) throw new Error(`${bin} is not installed`);
  if (!existsSync('/usr/bin/docker-registry'))
    throw new Error('docker-registry is not installed (apt-get install docker-registry)');
  if (!existsSync('/bin/busybox')) throw new Error('/bin/busybox is missing (apt-get install busybox-static)');
  if (!existsSync(join(REPO, 'bin/berth-ctr.js'))) throw new Error('build first: node scripts/build.mjs');
  snapshotBuild();

  const t0 = Date.now();
  const layout = join(work, 'layout');
  const img = await buildImage(layout);
  registry = await startRegistry();
  const ref = `${registry.host}/bench/img:latest`;
  skopeo(['copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:latest`, `docker://${ref}`]);
  rmSync(layout, { recursive: true, force: true });
  const built = ((Date.now() - t0) / 1000).toFixed(1);
  containerd = await startContainerd({ prefix: 'berth-bench-ctrd-', namespace: 'bench' });

  const L = img.layers.length;
  const runners: Runner[] = [
    berthRunner('berth-ctr pull', ref, [], L),
    berthRunner('berth-ctr pull --no-unpack', ref, ['--no-unpack'], L),
    ...containerdRunners(containerd, ref, L),
    ...skopeoRunners(ref),
    ...ALSO.map(([name, bin]) => berthRunner(`${name} pull`, ref, [], L, resolve(bin))),
  ];
  const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  if (!JSON_OUT) {
    console.log(
      `image ${ref}: ${L} layers, ${mb(img.total)} uncompressed, ${mb(img.compressed)} gzip (built and pushed in ${built} s, not measured)`,
    );
    for (const l of img.layers)
      console.log(
        `  ${l.name.padEnd(28)}${String(l.files).padStart(7)} entries ${mb(l.uncompressed).padStart(11)} ${mb(l.size).padStart(11)} gz`,
      );
  }
  const before = hostLoad();
  const rows = N > 0 ? await measure(runners, N) : [];
  const after = hostLoad();
  if (PROFILE) profileBerth(ref);
  if (N === 0) return;

  const versions = {
    berth: buildInfo,
    node: process.version,
    containerd: run('containerd', ['--version']).trim(),
    skopeo: run('skopeo', ['--version']).trim(),
    umoci: run('umoci', ['--version']).trim(),
  };
  if (JSON_OUT) {
    process.stdout.write(
      JSON.stringify({ iterations: N, image: img, load: { before, after }, versions, leftovers, rows }, null, 2) + '\n',
    );
    return;
  }
  const unpacked = [
    'berth-ctr pull',
    ...ALSO.map(([name]) => `${name} pull`),
    'ctr images pull',
    'skopeo copy + umoci unpack',
  ];
  const only = ['berth-ctr pull --no-unpack', 'ctr content fetch', 'skopeo copy'];
  const pick = (names: string[]) => names.map((n) => rows.find((r) => r.name === n)!);
  console.log('');
  console.log(`berth images benchmark: ${N} interleaved iterations, each from an empty store; ${cpus().length} CPUs`);
  console.log(`load before: ${before}; after: ${after}`);
  console.log(`berth: ${versions.berth}`);
  console.log(`${versions.node}, ${versions.containerd}, ${versions.skopeo}, ${versions.umoci}`);
  if (leftovers.length) console.log(`note: ${[...new Set(leftovers)].join('; ')} (removed by hand, untimed)`);
  console.log('');
  console.log(
    table('pull + unpack (registry to a root filesystem)', pick(unpacked), ['ctr images pull', 'skopeo copy'], rows),
  );
  console.log('');
  console.log(
    table(
      'pull only (registry to a content store / OCI layout)',
      pick(only),
      ['ctr content fetch', 'skopeo copy'],
      rows,
    ),
  );
  const med = (n: string) => rows.find((r) => r.name === n)!.median;
  const ratio = med('berth-ctr pull') / med('ctr images pull');
  console.log('');
  console.log('target (issue 3):');
  console.log(
    `  berth-ctr pull+unpack faster than containerd:  ${ratio.toFixed(2)}x of ctr images pull  ${ratio < 1 ? 'met' : 'NOT met'}`,
  );
}

try {
  await main();
} finally {
  await containerd?.stop().catch((e: unknown) => console.error(`stopping containerd: ${String(e)}`));
  await registry?.stop().catch((e: unknown) => console.error(`stopping the registry: ${String(e)}`));
  unmountUnder(work);
  rmSync(work, { recursive: true, force: true });
}
