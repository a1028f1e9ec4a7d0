// Benchmark: what a Bun process costs in memory before berth-engine's own
// code, step by step, beside berth-engine and containerd themselves. Each
// step is a Bun executable built here the way scripts/build.mjs builds the
// engine (--compile --bytecode, minified syntax and whitespace), started,
// asked once (a Version call through `ctr version` where it serves gRPC),
// left 0.5 s idle, then measured (VmRSS, its anonymous and file-backed
// parts, PSS). Steps alternate in order and reverse order; medians.
//
//   sudo node --import tsx bench/bun-floor.ts [--iterations 3] [--json]
//
// Needs the build (bin/berth-engine, node_modules/.bin/bun), containerd and ctr.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { memOf, type Mem } from './memory.js';
import { quantile } from './stats.js';

const REPO = resolve(import.meta.dirname, '..');
const BUN = join(REPO, 'node_modules/.bin/bun');
const N = Number(process.argv[process.argv.indexOf('--iterations') + 1] ?? 3) || 3;
const JSON_OUT = process.argv.includes('--json');

// A gRPC Version service by hand (no codecs): the response is the bytes of
// VersionResponse{version: "1"}.
const GRPC = `import * as grpc from '@grpc/grpc-js';
const s = new grpc.Server();
const m = { path: '/containerd.services.version.v1.Version/Version', requestStream: false, responseStream: false,
  requestSerialize: () => Buffer.alloc(0), requestDeserialize: () => ({}),
  responseSerialize: () => Buffer.from([10, 1, 49]), responseDeserialize: () => ({}) };
s.addService({ Version: m }, { Version: (_c, cb) => cb(null, {}) });
s.bindAsync('unix://' + process.argv[2], grpc.ServerCredentials.createInsecure(), () => {});
`;

/** The steps: name, what it adds, its source (argv[2] is the socket path). */
const STEPS: [string, string][] = [
  ['bare Bun', 'setInterval(() => {}, 1 << 30);'],
  [
    '+ node:net server',
    "import { createServer } from 'node:net';\ncreateServer((c) => c.end()).listen(process.argv[2]);",
  ],
  [
    '+ node:http2 server',
    "import { createServer } from 'node:http2';\n" +
      "const s = createServer();\ns.on('stream', (st) => { st.respond({ ':status': 200 }); st.end(); });\n" +
      's.listen(process.argv[2]);',
  ],
  ['+ grpc-js server', GRPC],
  [
    '+ bun:sqlite, child_process, crypto, fs',
    GRPC +
      "import { Database } from 'bun:sqlite';\nimport { execFile } from 'node:child_process';\n" +
      "import { createHash } from 'node:crypto';\nimport { readFile } from 'node:fs/promises';\n" +
      "const db = new Database(process.argv[2] + '.db');\ndb.exec('PRAGMA journal_mode=WAL; CREATE TABLE t (a TEXT)');\n" +
      "db.prepare('SELECT * FROM t').all();\nexecFile('/bin/true', [], () => {});\n" +
      "createHash('sha256').update('x').digest('hex');\nvoid readFile('/etc/hostname');\n",
  ],
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts `cmd`, waits for `ctr version` to answer on `sock` (or just 0.3 s for a program that serves no gRPC). */
async function measure(cmd: string, args: string[], sock: string, grpc: boolean): Promise<Mem> {
  const proc: ChildProcess = spawn(cmd, args, { stdio: 'ignore' });
  try {
    if (grpc) {
      const until = Date.now() + 20_000;
      // ctr version exits non-zero on a server without introspection; its Version answer is what counts
      const answered = () =>
        /Server:\s+Version:\s+\S/.test(spawnSync('ctr', ['-a', sock, 'version'], { encoding: 'utf8' }).stdout);
      while (!answered()) {
        if (Date.now() > until || proc.exitCode !== null) throw new Error(`${cmd}: no answer on ${sock}`);
        await sleep(5);
      }
    } else await sleep(300);
    await sleep(500);
    return memOf(proc.pid!);
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => (proc.exitCode !== null ? r(null) : proc.once('exit', r)));
  }
}

function containerdConfig(dir: string, sock: string): string {
  const p = join(dir, 'config.toml');
  writeFileSync(
    p,
    `version = 2
root = "${dir}/root"
state = "${dir}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.internal.v1.tracing", "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "${sock}"
[ttrpc]
  address = "${sock}.ttrpc"
[debug]
  level = "warn"
[metrics]
  address = ""
`,
  );
  return p;
}

async function main(): Promise<void> {
  if (!existsSync(BUN)) throw new Error(`no ${BUN}: run npm ci`);
  const work = mkdtempSync('/tmp/berth-bench-floor-');
  const load0 = loadavg();
  try {
    const exes = STEPS.map(([name, src], i) => {
      const entry = join(REPO, `bench/.floor-step-${process.pid}-${i}.ts`);
      writeFileSync(entry, src);
      try {
        const exe = join(work, `step${i}`);
        const r = spawnSync(
          BUN,
          [
            'build',
            '--compile',
            '--bytecode',
            '--target=bun',
            '--minify-syntax',
            '--minify-whitespace',
            entry,
            '--outfile',
            exe,
          ],
          { encoding: 'utf8', cwd: REPO },
        );
        if (r.status !== 0) throw new Error(`bun build of step ${name}: ${r.stderr}`);
        return { name, exe, grpc: src.includes('grpc-js') };
      } finally {
        rmSync(entry, { force: true });
      }
    });
    const runs: { name: string; run: (k: number) => Promise<Mem> }[] = [
      ...exes.map((e) => ({
        name: e.name,
        run: (k: number) => {
          const sock = join(work, `s${k}.sock`);
          return measure(e.exe, [sock], sock, e.grpc);
        },
      })),
      {
        name: 'berth-engine',
        run: (k: number) => {
          const d = join(work, `engine${k}`);
          const sock = join(d, 'engine.sock');
          return measure(
            join(REPO, 'bin/berth-engine'),
            ['--root', join(d, 'root'), '--state', join(d, 'state'), '--address', sock, '--log-level', 'warn'],
            sock,
            true,
          );
        },
      },
      {
        name: 'containerd 1.6',
        run: (k: number) => {
          const d = mkdtempSync(join(work, `ctrd${k}-`));
          const sock = join(d, 'containerd.sock');
          return measure('containerd', ['--config', containerdConfig(d, sock)], sock, true);
        },
      },
    ];
    const got = new Map<string, Mem[]>(runs.map((r) => [r.name, []]));
    let k = 0;
    for (let i = 0; i < N; i++) {
      for (const r of i % 2 === 0 ? runs : [...runs].reverse()) got.get(r.name)!.push(await r.run(k++));
    }
    const med = (xs: number[]) =>
      quantile(
        [...xs].sort((a, b) => a - b),
        0.5,
      );
    const rows = runs.map((r) => {
      const xs = got.get(r.name)!;
      return {
        name: r.name,
        rss: med(xs.map((x) => x.rss)),
        anon: med(xs.map((x) => x.anon)),
        file: med(xs.map((x) => x.file)),
        pss: med(xs.map((x) => x.pss)),
      };
    });
    const load = { before: load0, after: loadavg() };
    if (JSON_OUT) {
      console.log(JSON.stringify({ iterations: N, rows, load }, null, 2));
      return;
    }
    console.log(
      `${N} iterations, medians in MiB; load ${load0.map((x) => x.toFixed(2)).join(' ')} before, ` +
        `${load.after.map((x) => x.toFixed(2)).join(' ')} after`,
    );
    console.log(
      `${'program'.padEnd(42)} ${'RSS'.padStart(6)} ${'anon'.padStart(6)} ${'file'.padStart(6)} ${'PSS'.padStart(6)}`,
    );
    for (const r of rows)
      console.log(
        `${r.name.padEnd(42)} ${[r.rss, r.anon, r.file, r.pss].map((x) => x.toFixed(1).padStart(6)).join(' ')}`,
      );
  } finally {
    spawnSync('sh', ['-c', `grep " ${work}" /proc/mounts | cut -d' ' -f2 | sort -r | xargs -r umount`]);
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
