// Builds Berth: the C helpers with make, then one bundled file per CLI with
// esbuild. Start-up time matters for a runtime that containerd invokes once
// per operation, so berth-runc is built for it:
//  - one CommonJS bundle (Node 20's ES module loader alone costs ~40 ms);
//  - loaded through bin/berth-runc.js with a V8 code cache made at build
//    time (skips most parsing and compiling, ~20 ms);
//  - started by a /bin/sh launcher that drops NODE_EXTRA_CA_CERTS, which
//    makes Node read a whole CA bundle before any code runs; berth-runc never
//    opens a TLS connection.
// `node scripts/build.mjs [native|js|berth-runc|berth-ctr]` builds a part.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync, chmodSync, existsSync, mkdtempSync, rmSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin');
const only = process.argv.slice(2);
const wants = (name) => only.length === 0 || only.includes(name) || (only.includes('js') && name !== 'native');

if (wants('native')) {
  execFileSync('make', ['-s', '-C', join(root, 'native')], { stdio: 'inherit' });
}

mkdirSync(bin, { recursive: true });
// bin/*.js are CommonJS whatever the package's "type" says.
writeFileSync(join(bin, 'package.json'), '{ "type": "commonjs" }\n');

function launcher(name, target, tls, blob) {
  const file = join(bin, name);
  // With a startup snapshot, node starts with the bundle already loaded; it
  // is only used with the node binary that built it (not one installed since).
  const snapshot = blob
    ? `if [ -f "$dir/${blob}" ] && [ "$node" -ot "$dir/${blob}" ]; then
  exec "$node" --snapshot-blob "$dir/${blob}" -- "$@"
fi
`
    : '';
  writeFileSync(file, `#!/bin/sh
# ${name} launcher, written by scripts/build.mjs (node: the one that built it, else PATH's).
${tls ? '' : 'unset NODE_EXTRA_CA_CERTS\n'}self=$0
[ -L "$self" ] && self=$(readlink -f "$self")
dir=\${self%/*}
export BERTH_NATIVE_DIR="$dir/../native/build"
node=${process.execPath}
[ -x "$node" ] || node=$(command -v node)
${snapshot}exec "$node" "$dir/${target}" "$@"
`);
  chmodSync(file, 0o755);
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

if (wants('berth-runc')) {
  const bundle = await buildCli({
    name: 'berth-runc',
    entry: 'src/runtime/cli/main.ts',
    cacheArgs: (tmp) => ['--root', join(tmp, 'state'), 'list'],
  });
  // The startup snapshot: the same code as one script (no module wrapper),
  // evaluated once at build time with main deferred to deserialization.
  const entry = join(bin, 'berth-runc.snapshot-entry.js');
  const blob = join(bin, 'berth-runc.blob');
  rmSync(blob, { force: true });
  await build({
    entryPoints: [join(root, 'src/runtime/cli/main.ts')],
    outfile: entry,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'iife',
    define: { 'import.meta.url': '__berthModuleUrl' },
    banner: { js: `var __berthModuleUrl = ${JSON.stringify(pathToFileURL(bundle).href)};` },
    logLevel: 'warning',
  });
  try {
    execFileSync(process.execPath, ['--snapshot-blob', blob, '--build-snapshot', entry], { stdio: 'ignore', cwd: bin });
  } catch {
    rmSync(blob, { force: true });
    console.warn('build: no V8 startup snapshot for berth-runc (this Node.js cannot build one); the CLI starts without it');
  }
  launcher('berth-runc', 'berth-runc.js', false, 'berth-runc.blob');
}

if (wants('berth-ctr') && existsSync(join(root, 'src/cli/ctr/main.ts'))) {
  // No startup snapshot: better-sqlite3 is a native addon, which V8 cannot
  // serialise; the code cache still saves most of the compiling.
  rmSync(join(bin, 'berth-ctr.mjs'), { force: true });
  rmSync(join(bin, 'berth-ctr.mjs.map'), { force: true });
  await buildCli({
    name: 'berth-ctr',
    entry: 'src/cli/ctr/main.ts',
    external: ['better-sqlite3'],
    cacheArgs: (tmp) => ['--root', join(tmp, 'store'), 'images', 'ls'],
  });
  launcher('berth-ctr', 'berth-ctr.js', true);
}
