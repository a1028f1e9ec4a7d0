// Runs the suites with Node's own test runner (node:test) through tsx.
// `node scripts/test.mjs [unit|integration] [filter]`
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { differences, snapshot } from './host-guard.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [suite, filter] = process.argv.slice(2);
const suites = suite ? [suite] : ['unit', 'integration'];

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out.sort();
}

// The suites test what the build produces: build first (make and esbuild are
// incremental and fast).
const b = spawnSync(process.execPath, [join(root, 'scripts/build.mjs')], { stdio: 'inherit', cwd: root });
if (b.status !== 0) process.exit(1);

// Static checks are part of the test (the whole run, not a filtered one):
// strict TypeScript, the layering of ARCHITECTURE.md (dependency-cruiser,
// .dependency-cruiser.cjs), the linter (eslint.config.js), unused exports
// and files (knip.json), and the format.
function check(what, bin, args) {
  const t = spawnSync(process.execPath, [join(root, 'node_modules', bin), ...args], { stdio: 'inherit', cwd: root });
  if (t.status !== 0) {
    console.error(`${what} failed`);
    process.exit(1);
  }
}
if (!filter) {
  check('typecheck', 'typescript/bin/tsc', ['-p', join(root, 'tsconfig.json'), '--noEmit']);
  check('layering check', 'dependency-cruiser/bin/dependency-cruise.mjs', [
    'src',
    '--config',
    '.dependency-cruiser.cjs',
    '--output-type',
    'err',
  ]);
  check('lint', 'eslint/bin/eslint.js', ['--max-warnings', '0', 'src', 'test', 'bench', 'scripts']);
  check('unused exports and files', 'knip/bin/knip.js', ['--no-progress']);
  // One formatting of every file: prettier for the TypeScript and scripts,
  // clang-format (native/.clang-format) for the C.
  check('format check', 'prettier/bin/prettier.cjs', ['--check', '--log-level', 'warn', '.']);
  const c = spawnSync('make', ['-s', '-C', join(root, 'native'), 'format-check'], { stdio: 'inherit' });
  if (c.status !== 0) {
    console.error('native format check failed (make -C native format)');
    process.exit(1);
  }
}

// The host as it was; compared after the run (scripts/host-guard.mjs).
// BERTH_HOST_GUARD=off skips the comparison, for a machine where other runs
// mount and make cgroups at the same time (the comparison would blame us).
const guard = process.env.BERTH_HOST_GUARD !== 'off';
const before = snapshot();

let failed = false;
for (const s of suites) {
  const files = walk(join(root, 'test', s)).filter((f) => !filter || f.includes(filter));
  if (files.length === 0) continue;
  console.log(`\n== ${s} tests (${files.length} files) ==`);
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '--test',
      '--test-reporter=spec',
      `--test-concurrency=${s === 'unit' ? 4 : 1}`,
      // A test left hanging fails after 10 minutes instead of stalling the run,
      // and a file whose tests are done ends even if a handle is left open.
      '--test-timeout=600000',
      '--test-force-exit',
      ...files,
    ],
    { stdio: 'inherit', cwd: root, env: { ...process.env, BERTH_ROOT_DIR: root } },
  );
  if (r.status !== 0) failed = true;
}
if (guard) {
  const diff = differences(before, snapshot());
  if (diff.length > 0) {
    console.error(`\nhost guard: the run changed the host:\n  ${diff.join('\n  ')}`);
    failed = true;
  } else {
    console.log('\nhost guard: hostname, domainname, core_pattern, mounts and top-level cgroups unchanged');
  }
}
process.exit(failed ? 1 : 0);
