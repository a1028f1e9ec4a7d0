// The layering check (.dependency-cruiser.cjs, run by `npm test`) refuses
// what ARCHITECTURE.md forbids: each case is a tiny tree with one offending
// import, checked with the repository's own configuration; the real tree
// passes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const depcruise = join(repo, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');

function cruise(cwd: string): { status: number | null; out: string } {
  const r = spawnSync(
    process.execPath,
    [depcruise, 'src', '--config', '.dependency-cruiser.cjs', '--output-type', 'err'],
    { cwd, encoding: 'utf8' },
  );
  return { status: r.status, out: r.stdout + r.stderr };
}

/** A tree of `files` (path → source) with the repository's configuration. */
function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-layers-'));
  copyFileSync(join(repo, '.dependency-cruiser.cjs'), join(dir, '.dependency-cruiser.cjs'));
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true },
      include: ['src'],
    }),
  );
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

const base: Record<string, string> = {
  'src/common/errors.ts': 'export const e = 1;\n',
  'src/runtime/index.ts': "import { e } from '../common/errors.js';\nexport const r = e;\n",
  'src/runtime/container.ts': 'export const c = 1;\n',
  'src/image/index.ts': 'export const i = 1;\n',
  'src/image/images.ts': 'export const im = 1;\n',
  'src/image/storeless.ts': "import { im } from './images.js';\nexport const sl = im;\n",
  'src/client/index.ts': "import { sl } from '../image/storeless.js';\nexport const cl = sl;\n",
  'src/snapshot/index.ts': 'export const s = 1;\n',
  'src/storage/index.ts':
    "import { i } from '../image/index.js';\nimport { s } from '../snapshot/index.js';\nexport const st = i + s;\n",
  'src/engine/index.ts':
    "import { st } from '../storage/index.js';\nimport { r } from '../runtime/index.js';\nexport const en = st + r;\n",
  'src/daemon/index.ts': 'export const d = 1;\n',
  'src/api/load.ts': 'export const a = 1;\n',
  'src/cli/ctr/main.ts': "import { st } from '../../storage/index.js';\nexport const m = st;\n",
};

const cases: [string, Record<string, string>, RegExp][] = [
  [
    'runtime imports image',
    { 'src/runtime/x.ts': "import { i } from '../image/index.js';\nexport const x = i;\n" },
    /runtime-imports-only-common/,
  ],
  [
    'image imports snapshot',
    { 'src/image/x.ts': "import { s } from '../snapshot/index.js';\nexport const x = s;\n" },
    /image-is-not-above-anything/,
  ],
  [
    'snapshot imports image',
    { 'src/snapshot/x.ts': "import { i } from '../image/index.js';\nexport const x = i;\n" },
    /snapshot-is-not-above-anything/,
  ],
  [
    'image imports the engine',
    { 'src/image/x.ts': "import { en } from '../engine/index.js';\nexport const x = en;\n" },
    /nothing-below-imports-the-daemons/,
  ],
  [
    'the engine imports the daemon',
    { 'src/engine/x.ts': "import { d } from '../daemon/index.js';\nexport const x = d;\n" },
    /engine-never-imports-the-daemon/,
  ],
  [
    'a CLI imports a module behind an index',
    { 'src/cli/ctr/x.ts': "import { im } from '../../image/images.js';\nexport const x = im;\n" },
    /cli-uses-public-entries/,
  ],
  [
    'the client imports a module of src/image behind its store-free entry',
    { 'src/client/x.ts': "import { im } from '../image/images.js';\nexport const x = im;\n" },
    /clients-use-the-store-free-image-entry/,
  ],
  [
    "the daemon imports src/image's index (which opens SQLite)",
    { 'src/daemon/x.ts': "import { i } from '../image/index.js';\nexport const x = i;\n" },
    /clients-use-the-store-free-image-entry/,
  ],
  [
    'the client imports the storage layer',
    { 'src/client/x.ts': "import { st } from '../storage/index.js';\nexport const x = st;\n" },
    /clients-never-open-a-store/,
  ],
  [
    'the runtime imports the API',
    { 'src/runtime/x.ts': "import { a } from '../api/load.js';\nexport const x = a;\n" },
    /api-for-the-servers-and-clients|runtime-imports-only-common/,
  ],
  [
    'a cycle inside a layer',
    {
      'src/image/a.ts': "import { b } from './b.js';\nexport const a = () => b;\n",
      'src/image/b.ts': "import { a } from './a.js';\nexport const b = () => a;\n",
    },
    /no-cycles/,
  ],
];

test('a tree that keeps the rules passes', () => {
  const dir = tree(base);
  try {
    const r = cruise(dir);
    assert.equal(r.status, 0, r.out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const [what, extra, rule] of cases) {
  test(`refused: ${what}`, () => {
    const dir = tree({ ...base, ...extra });
    try {
      const r = cruise(dir);
      assert.notEqual(r.status, 0, r.out);
      assert.match(r.out, rule);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('the repository keeps the rules', () => {
  const r = cruise(repo);
  assert.equal(r.status, 0, r.out);
});
