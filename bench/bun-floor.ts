// Benchmark: what a Bun process costs in memory before berth-engine's own
// code, step by step, beside berth-engine and containerd themselves. Each
// step is a Bun executable built here the way scripts/build.mjs builds the
// engine (--compile --bytecode, minified syntax and whitespace), started,
// asked once (a Version call through `ctr version` where it serves gRPC),
// left 0.5 s idle, then measured (VmRSS, its anonymous and file-backed
// parts, PSS). Steps alternate in order and reverse order; medians.
//
//   sudo node --import tsx bench/bun-floor.ts [--iterations 3] [--json] [--berthd]
//
// --berthd: the same ladder for berthd (the dockerd role), whose steps are an
// HTTP server on a unix socket (asked once for /_ping with curl), a grpc-js
// client that asks a containerd for its Version, the Node.js modules berthd
// uses, then berthd itself on that containerd (its own temp roots, asked for
// /_ping), built as scripts/build.mjs builds it (--compile-jit-policy=1000).
//
// Needs the build (bin/berth-engine, bin/berthd, node_modules/.bin/bun),
// containerd, ctr and curl.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { startContainerd, type Containerd } from '../test/helpers/daemons.js';
import { memOf, type Mem } from './memory.js';
import { containerdConfig } from './proc.js';
import { median as med } from './stats.js';

const REPO = resolve(import.meta.dirname, '..');
const BUN = join(REPO, 'node_modules/.bin/bun');
const N = Number(process.argv[process.argv.indexOf('--iterations') + 1] ?? 3) || 3;
const JSON_OUT = process.argv.includes('--json');
const BERTHD = process.argv.includes('--berthd');

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

// berthd's ladder: argv[2] is the HTTP socket, argv[3] containerd's.
const HTTP =
  "import { createServer } from 'node:http';\n" +
  "createServer((q, r) => { r.writeHead(200, { 'content-type': 'text/plain' }); r.end('OK'); }).listen(process.argv[2]);\n";
const GRPC_CLIENT =
  HTTP +
  `import * as grpc from '@grpc/grpc-js';
const Client = grpc.makeGenericClientConstructor({ Version: { path: '/containerd.services.version.v1.Version/Version',
  requestStream: false, responseStream: false, requestSerialize: () => Buffer.alloc(0), requestDeserialize: () => ({}),
  responseSerialize: () => Buffer.alloc(0), responseDeserialize: (b) => b } }, 'Version');
const c = new Client('unix://' + process.argv[3], grpc.credentials.createInsecure());
c.Version({}, (e) => { if (e) throw e; });
`;
const BERTHD_STEPS: [string, string][] = [
  ['bare Bun', 'setInterval(() => {}, 1 << 30);'],
  ['+ node:http server', HTTP],
  ['+ grpc-js client (one Version call)', GRPC_CLIENT],
  [
    '+ child_process, crypto, zlib, stream, fs',
    GRPC_CLIENT +
      "import { execFile } from 'node:child_process';\nimport { createHash } from 'node:crypto';\n" +
      "import { gzipSync } from 'node:zlib';\nimport { pipeline } from 'node:stream/promises';\n" +
      "import { createReadStream, createWriteStream } from 'node:fs';\n" +
      "execFile('/bin/true', [], () => {});\ncreateHash('sha256').update(gzipSync('x')).digest('hex');\n" +
      "void pipeline(createReadStream('/etc/hostname'), createWriteStream('/dev/null'));\n",
  ],
];

/** A GET of /_ping on an HTTP unix socket answers OK. */
const pinged = (sock: string) =>
  spawnSync('curl', ['-sf', '--max-time', '2', '--unix-socket', sock, 'http://d/_ping'], { encoding: 'utf8' })
    .stdout === 'OK';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts `cmd`, waits for it to answer on `sock` (`ctr version` for gRPC,
 * /_ping for HTTP; or just 0.3 s for a program that serves nothing).
 */
async function measure(cmd: string, args: string[], sock: string, serves: boolean | 'http'): Promise<Mem> {
  const proc: ChildProcess = spawn(cmd, args, { stdio: 'ignore' });
  try {
    if (serves) {
      const until = Date.now() + 20_000;
      // ctr version exits non-zero on a server without introspection; its Version answer is what counts
      const answered =
        serves === 'http'
          ? () => pinged(sock)
          : () =>
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

async function main(): Promise<void> {
  if (!existsSync(BUN)) throw new Error(`no ${BUN}: run npm ci`);
  const work = mkdtempSync('/tmp/berth-bench-floor-');
  const load0 = loadavg();
  let ctrd: Containerd | undefined;
  try {
    const steps = BERTHD ? BERTHD_STEPS : STEPS;
    const exes = steps.map(([name, src], i) => {
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
            ...(BERTHD ? ['--compile-jit-policy=1000'] : []),
            entry,
            '--outfile',
            exe,
          ],
          { encoding: 'utf8', cwd: REPO },
        );
        if (r.status !== 0) throw new Error(`bun build of step ${name}: ${r.stderr}`);
        const serves: boolean | 'http' = BERTHD ? src.includes('node:http') && 'http' : src.includes('grpc-js');
        return { name, exe, serves };
      } finally {
        rmSync(entry, { force: true });
      }
    });
    // berthd's ladder talks to one containerd, started here for the whole run.
    ctrd = BERTHD ? await startContainerd({ prefix: 'berth-bench-floor-ctrd-' }) : undefined;
    const ctrdSock = ctrd?.sock ?? '';
    const runs: { name: string; run: (k: number) => Promise<Mem> }[] = [
      ...exes.map((e) => ({
        name: e.name,
        run: (k: number) => {
          const sock = join(work, `s${k}.sock`);
          return measure(e.exe, [sock, ctrdSock], sock, e.serves);
        },
      })),
      ...(BERTHD
        ? [
            {
              name: 'berthd (on that containerd)',
              run: (k: number) => {
                const d = join(work, `berthd${k}`);
                const sock = join(d, 'berthd.sock');
                return measure(
                  join(REPO, 'bin/berthd'),
                  [
                    ...['--containerd', ctrdSock, '--data-root', join(d, 'data'), '--exec-root', join(d, 'exec')],
                    ...['-H', `unix://${sock}`, '--log-level', 'warn', '--containerd-namespace', `floor${k}`],
                    ...['--bridge', 'none', '--iptables=false', '--ip-forward=false'],
                  ],
                  sock,
                  'http',
                );
              },
            },
          ]
        : [
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
          ]),
    ];
    const got = new Map<string, Mem[]>(runs.map((r) => [r.name, []]));
    let k = 0;
    for (let i = 0; i < N; i++) {
      for (const r of i % 2 === 0 ? runs : [...runs].reverse()) got.get(r.name)!.push(await r.run(k++));
    }
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
    await ctrd?.stop();
    spawnSync('sh', ['-c', `grep " ${work}" /proc/mounts | cut -d' ' -f2 | sort -r | xargs -r umount`]);
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
