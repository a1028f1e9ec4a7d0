// Builds Berth: the C helpers with make, then one bundled ESM file per CLI with
// esbuild (a bundle starts far faster than a tree of modules, which matters for
// a runtime that containerd invokes once per operation).
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const only = process.argv.slice(2);

if (only.length === 0 || only.includes('native')) {
  execFileSync('make', ['-C', join(root, 'native')], { stdio: 'inherit' });
}

const clis = [
  { name: 'berth-runc', entry: 'src/runtime/cli/main.ts' },
  { name: 'berth-ctr', entry: 'src/cli/ctr/main.ts' },
];

mkdirSync(join(root, 'bin'), { recursive: true });
for (const cli of clis) {
  if (!existsSync(join(root, cli.entry))) continue;
  if (only.length && !only.includes(cli.name) && !only.includes('js')) continue;
  await build({
    entryPoints: [join(root, cli.entry)],
    outfile: join(root, 'bin', `${cli.name}.js`),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    minify: false,
    sourcemap: 'linked',
    // native addons stay outside the bundle and are loaded from node_modules
    external: ['better-sqlite3'],
    banner: {
      js: "import { createRequire as __berthCreateRequire } from 'node:module'; const require = __berthCreateRequire(import.meta.url);",
    },
    logLevel: 'warning',
  });
  const launcher = join(root, 'bin', cli.name);
  writeFileSync(launcher, `#!/usr/bin/env node\nimport './${cli.name}.js';\n`);
  chmodSync(launcher, 0o755);
}
