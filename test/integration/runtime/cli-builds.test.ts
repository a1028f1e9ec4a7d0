// The two builds of the CLI: bin/berth-runc (compiled by Bun where Bun runs,
// as users and containerd run it) and the Node.js build it falls back to
// elsewhere (bin/berth-runc.js). Both must run a container the same way.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { openSync, readSync, closeSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, REPO, isRoot, suiteBundles, uniqueId } from '../../helpers/runtime.js';

const skip = !isRoot() ? 'needs root (namespaces, cgroups, mounts)' : false;

const NODE_BUILD = join(REPO, 'bin/berth-runc.js');
const BUN = join(REPO, 'node_modules/.bin/bun');

function isElf(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(4);
    readSync(fd, b, 0, 4, 0);
    return b.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  } finally {
    closeSync(fd);
  }
}

const builds: [string, string[], NodeJS.ProcessEnv][] = [
  ['bin/berth-runc', [CLI], {}],
  ['the Node.js build', [process.execPath, NODE_BUILD], { BERTH_NATIVE_DIR: join(REPO, 'native/build') }],
];

describe('the CLI builds', { skip }, () => {
  const bundle = suiteBundles();

  it('bin/berth-runc is the Bun executable where Bun runs here, else the Node.js launcher', () => {
    const bunRuns = existsSync(BUN) && spawnSync(BUN, ['--version']).status === 0;
    assert.equal(
      isElf(CLI),
      bunRuns,
      bunRuns
        ? 'Bun runs here: bin/berth-runc should be its compiled executable'
        : 'no Bun: bin/berth-runc should be the sh launcher',
    );
  });

  for (const [name, argv, env] of builds) {
    it(`${name}: --version, run with output and exit status, list, and a config error`, () => {
      const b = bundle('echo "hello from $(hostname)"; echo to-stderr >&2; exit 7');
      const cli = (args: string[]) =>
        spawnSync(argv[0]!, [...argv.slice(1), '--root', b.root, ...args], {
          encoding: 'utf8',
          env: { ...process.env, ...env },
        });
      const v = cli(['--version']);
      assert.equal(v.status, 0, v.stderr);
      assert.match(v.stdout, /^berth-runc version \S+\nspec: 1\.\d+\.\d+\n/);

      const id = uniqueId('build');
      const r = cli(['run', '--bundle', b.dir, id]);
      assert.equal(r.status, 7, r.stderr);
      assert.equal(r.stdout, `hello from ${b.spec.hostname}\n`);
      assert.equal(r.stderr, 'to-stderr\n');
      const l = cli(['list', '-q']);
      assert.equal(l.status, 0, l.stderr);
      assert.equal(l.stdout, '', 'run deleted the container');

      b.spec.linux!.namespaces!.push({ type: 'nosuch' as never });
      b.write();
      const bad = cli(['run', '--bundle', b.dir, uniqueId('build')]);
      assert.equal(bad.status, 1);
      assert.match(
        bad.stderr,
        /^berth-runc: config\.json: linux\.namespaces\[\d+\]\.type: unknown namespace "nosuch"\n$/,
      );
    });
  }
});
