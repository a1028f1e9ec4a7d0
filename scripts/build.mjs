// Builds Berth: the C helpers with make, then the command lines.
//
// Start-up time matters for a runtime that containerd and dockerd invoke once
// per operation (create, start, state, kill, delete...). Node.js 20 needs
// ~40 ms here before it runs a line of ours, about as long as runc's whole
// `run` of a container. So berth-runc is compiled by Bun (a pinned build
// dependency, `bun build --compile --bytecode`) into one executable,
// bin/berth-runc, that starts in ~15 ms: the same TypeScript, with JSC
// bytecode made at build time. Where Bun is not available (another CPU or
// libc), bin/berth-runc is a /bin/sh launcher for the Node.js build below.
//
// Every CLI also has a Node.js build: one CommonJS bundle (Node 20's ES module
// loader alone costs ~40 ms), loaded through bin/<name>.js with a V8 code
// cache made at build time, started by a launcher that drops
// NODE_EXTRA_CA_CERTS where the CLI never opens a TLS connection (it makes
// Node read a whole CA bundle first).
//
// berth (the docker-compatible CLI), berth-ctr, berth-engine and berthd are
// Bun executables too, where Bun runs: for the CLIs it is start-up again; for
// the daemons it is memory as well (Node.js alone idles at ~40 MB RSS here,
// Bun at ~23 MB) and start-up. SQLite is
// bun:sqlite in them and better-sqlite3 (a Node.js addon Bun cannot load) in
// the Node.js builds: src/common/sqlite.ts picks at run time.
//
// `node scripts/build.mjs [native|js|berth-runc|berth-ctr|berth-engine|berth|berthd]` builds a part;
// BERTH_NO_BUN=1 builds every one for Node.js even where Bun is there (the
// fallback, tested as such).
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync, chmodSync, existsSync, mkdtempSync, rmSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin');
const only = process.argv.slice(2);
const wants = (name) => only.length === 0 || only.includes(name) || (only.includes('js') && name !== 'native');

// containerd's API types and descriptor, from Debian's .proto files.
if (wants('api')) {
  const { generate } = await import('./gen-api.mjs');
  generate();
}

if (wants('native')) {
  execFileSync('make', ['-s', '-C', join(root, 'native')], { stdio: 'inherit' });
}

mkdirSync(bin, { recursive: true });
// bin/*.js are CommonJS whatever the package's "type" says.
writeFileSync(join(bin, 'package.json'), '{ "type": "commonjs" }\n');

function launcher(name, target, tls, nodeFlags = '') {
  const file = join(bin, name);
  rmSync(file, { force: true });
  writeFileSync(
    file,
    `#!/bin/sh
# ${name} launcher, written by scripts/build.mjs (node: the one that built it, else PATH's).
${tls ? '' : 'unset NODE_EXTRA_CA_CERTS\n'}self=$0
[ -L "$self" ] && self=$(readlink -f "$self")
dir=\${self%/*}
export BERTH_NATIVE_DIR="$dir/../native/build"
node=${process.execPath}
[ -x "$node" ] || node=$(command -v node)
exec "$node" ${nodeFlags}"$dir/${target}" "$@"
`,
  );
  chmodSync(file, 0o755);
}

/** node_modules' Bun, if it runs on this machine. */
function findBun() {
  if (process.env.BERTH_NO_BUN) return undefined;
  const candidate = join(root, 'node_modules/.bin/bun');
  try {
    execFileSync(candidate, ['--version'], { stdio: 'ignore' });
    return candidate;
  } catch {
    return undefined;
  }
}

/** The loader: runs <name>.bundle.js through its V8 code cache. */
function loaderScript(name) {
  return `'use strict';
// Loads ${name}.bundle.js through a V8 code cache (see scripts/build.mjs).
// A cache that does not match this Node.js is rejected by V8 and ignored.
const fs = require('fs');
const vm = require('vm');
const path = require('path');
const Module = require('module');
const file = path.join(__dirname, '${name}.bundle.js');
const cacheFile = path.join(__dirname, '${name}.bundle.cache');
let cachedData;
try { cachedData = fs.readFileSync(cacheFile); } catch { /* no cache: compile */ }
const script = new vm.Script(Module.wrap(fs.readFileSync(file, 'utf8')), { filename: file, cachedData });
const mod = { exports: {}, filename: file, id: file, loaded: false };
script.runInThisContext().call(mod.exports, mod.exports, require, mod, file, __dirname);
if (process.env.BERTH_WRITE_CODE_CACHE) {
  process.on('exit', () => fs.writeFileSync(process.env.BERTH_WRITE_CODE_CACHE, script.createCachedData()));
}
`;
}

/** A CommonJS bundle, its loader, and a code cache from one ordinary invocation. */
async function buildCli({ name, entry, external = [], cacheArgs }) {
  const bundle = join(bin, `${name}.bundle.js`);
  await build({
    entryPoints: [join(root, entry)],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    sourcemap: 'linked',
    external,
    define: { 'import.meta.url': '__berthModuleUrl' },
    banner: { js: "const __berthModuleUrl = require('url').pathToFileURL(__filename).href;" },
    logLevel: 'warning',
  });
  writeFileSync(join(bin, `${name}.js`), loaderScript(name));
  const tmp = mkdtempSync(join(tmpdir(), 'berth-build-'));
  try {
    const out = join(tmp, 'cache');
    execFileSync(process.execPath, [join(bin, `${name}.js`), ...cacheArgs(tmp)], {
      env: { ...process.env, BERTH_WRITE_CODE_CACHE: out },
      stdio: 'ignore',
    });
    if (existsSync(out)) renameSync(out, join(bin, `${name}.bundle.cache`));
  } catch {
    // No cache: the CLI compiles at start, a little slower.
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return bundle;
}

/**
 * bin/<name> as a Bun executable of `entry`, where Bun runs; false where it
 * does not (the caller writes the Node.js launcher instead). Written beside,
 * then renamed over bin/<name>: a container manager may be running the old
 * one this very moment. `external`: packages left out of the executable
 * (a require of one at run time fails).
 */
function bunCompile(name, entry, external = [], flags = []) {
  const bun = findBun();
  if (!bun) return false;
  // In a folder of its own, under its own name: the program sees that name
  // as its argv[1] (/$bunfs/root/<name>), as berth-ctr's entry check expects.
  const tmpDir = join(bin, `.${name}.new`);
  rmSync(tmpDir, { recursive: true, force: true });
  mkdirSync(tmpDir);
  const tmp = join(tmpDir, name);
  execFileSync(
    bun,
    [
      'build',
      '--compile',
      '--bytecode',
      '--target=bun',
      '--minify-syntax',
      '--minify-whitespace',
      ...external.flatMap((p) => ['--external', p]),
      ...flags,
      join(root, entry),
      '--outfile',
      tmp,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'], cwd: root },
  );
  execFileSync(tmp, ['--version'], { stdio: 'ignore' });
  renameSync(tmp, join(bin, name));
  rmSync(tmpDir, { recursive: true, force: true });
  return true;
}

if (wants('berth-runc')) {
  await buildCli({
    name: 'berth-runc',
    entry: 'src/cli/runc/main.ts',
    cacheArgs: (tmp) => ['--root', join(tmp, 'state'), 'list'],
  });
  for (const old of ['berth-runc.blob', 'berth-runc.snapshot-entry.js']) rmSync(join(bin, old), { force: true });
  if (!bunCompile('berth-runc', 'src/cli/runc/main.ts')) {
    console.warn('build: no Bun (or BERTH_NO_BUN set); bin/berth-runc runs on Node.js (slower to start)');
    launcher('berth-runc', 'berth-runc.js', false);
  }
}

if (wants('berth-ctr') && existsSync(join(root, 'src/cli/ctr/main.ts'))) {
  rmSync(join(bin, 'berth-ctr.mjs'), { force: true });
  rmSync(join(bin, 'berth-ctr.mjs.map'), { force: true });
  await buildCli({
    name: 'berth-ctr',
    entry: 'src/cli/ctr/main.ts',
    external: ['better-sqlite3'],
    cacheArgs: (tmp) => ['--root', join(tmp, 'store'), 'images', 'ls'],
  });
  if (!bunCompile('berth-ctr', 'src/cli/ctr/main.ts')) launcher('berth-ctr', 'berth-ctr.js', true);
}

if (wants('berth-engine') && existsSync(join(root, 'src/cli/engine/main.ts'))) {
  // The daemon starts once, so the code cache matters less than for the
  // CLIs; it is made from `--version` (the whole bundle is compiled lazily).
  await buildCli({
    name: 'berth-engine',
    entry: 'src/cli/engine/main.ts',
    external: ['better-sqlite3'],
    cacheArgs: () => ['--version'],
  });
  // A Bun executable keeps its whole bundle resident (the `.bun` section,
  // source and bytecode, is read at start-up), so what the engine never runs
  // costs RSS all the same: @grpc/proto-loader (with the full protobufjs,
  // long and lodash.camelcase) is required by grpc-js only to build the
  // channelz and ORCA services' definitions, which the engine never serves.
  // JSC's tier-up thresholds 10x (as berthd's, less far): most of the
  // engine's functions are call glue that runs a few hundred times per burst
  // of `docker run`, and compiling them kept ~10 MB (91 against 82 MB after
  // 10 runs and 20 parallel ones; 63 against 60 MB idle), while the pull's
  // per-entry unpack code runs thousands of times and is still compiled: its
  // CPU per pull did not move (bench/README.md, engine.ts).
  if (!bunCompile('berth-engine', 'src/cli/engine/main.ts', ['@grpc/proto-loader'], ['--compile-jit-policy=10']))
    launcher('berth-engine', 'berth-engine.js', false);
}

if (wants('berth') && existsSync(join(root, 'src/cli/berth/main.ts'))) {
  // The docker-compatible CLI: pure Node.js, no addon; the code cache is made
  // from `berth --help`, which needs no daemon.
  await buildCli({
    name: 'berth',
    entry: 'src/cli/berth/main.ts',
    cacheArgs: () => ['--help'],
  });
  // Like berth-runc: a Bun executable where Bun runs (about 20 ms to start,
  // as the Go docker CLI; Node.js needs 100+ ms), else the Node.js launcher.
  if (!bunCompile('berth', 'src/cli/berth/main.ts')) launcher('berth', 'berth.js', false);
}

// berthd: a Bun executable where Bun runs, like berth-engine: for memory
// (Node.js alone idles at ~40 MB RSS here, Bun at ~23 MB) more than for
// start-up. BERTHD_BUN=0 (or BERTH_NO_BUN) builds the Node.js launcher as
// bin/berthd instead; bin/berthd.js, the Node.js build, is made either way,
// for comparison (`node bin/berthd.js ...`, as bench/daemon.ts --node does).
// Under Bun, the content Write streams to containerd use a connection each
// and small messages (src/client/content-store.ts says why: Bun's HTTP/2
// client and grpc-go's window growth).
if (wants('berthd') && existsSync(join(root, 'src/cli/berthd/main.ts'))) {
  await buildCli({
    name: 'berthd',
    entry: 'src/cli/berthd/main.ts',
    external: ['better-sqlite3'],
    cacheArgs: () => ['--version'],
  });
  // On Node.js, a small young generation: a daemon's garbage is small and
  // steady, and V8's default semi-spaces (16 MiB each) are most of its idle RSS.
  // JSC's tier-up thresholds 1000x higher: berthd's work is I/O and small
  // JSON documents, and its functions, JIT-compiled at the default
  // thresholds, kept ~15 MB more anonymous memory for no CPU gain
  // (bench/README.md, daemon.ts); truly hot loops (tar, copies) still get
  // compiled.
  if (!(
    process.env.BERTHD_BUN !== '0' && bunCompile('berthd', 'src/cli/berthd/main.ts', [], ['--compile-jit-policy=1000'])
  ))
    launcher('berthd', 'berthd.js', true, '--max-semi-space-size=1 ');
}
