// Shared pieces of the image integration tests: a temporary store with its
// services, root filesystem tarballs made on the spot from busybox, the
// external tools the round trips are cross-checked with, and a private build
// of berth-ctr.

import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { openMetadata } from '../../../src/common/metadb.js';
import { LocalContentStore } from '../../../src/image/content/store.js';
import { ImageStore } from '../../../src/image/images.js';
import { LeaseManager } from '../../../src/image/leases.js';
import { makeBusyboxRootfs, haveBusybox } from '../../helpers/busybox.js';

export interface Services {
  root: string;
  content: LocalContentStore;
  images: ImageStore;
  leases: LeaseManager;
  close(): void;
}

export function openServices(root: string): Services {
  const md = openMetadata(root);
  const content = new LocalContentStore(root, { metadata: md });
  return {
    root,
    content,
    images: new ImageStore(md),
    leases: new LeaseManager(md),
    close: () => {
      content.close();
      md.close();
    },
  };
}

export function tempDir(prefix = 'berth-img-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A busybox root filesystem as a tar file at `out` (plus `extra` files), via GNU tar. */
export function busyboxTar(out: string, extra: Record<string, string> = {}): void {
  const t = tempDir('berth-rootfs-');
  try {
    makeBusyboxRootfs(t.dir);
    for (const [p, content] of Object.entries(extra)) {
      mkdirSync(join(t.dir, p, '..'), { recursive: true });
      writeFileSync(join(t.dir, p), content);
    }
    execFileSync('tar', ['--numeric-owner', '-C', t.dir, '-cf', out, '.']);
  } finally {
    t.cleanup();
  }
}

export function have(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
}

export function run(cmd: string, args: string[], opts: { cwd?: string } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: opts.cwd, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

export const toolsMissing = (() => {
  const missing = ['skopeo', 'umoci', 'tar'].filter((t) => !have(t));
  if (!haveBusybox()) missing.push('/bin/busybox (busybox-static)');
  return missing.length ? `needs ${missing.join(', ')} (scripts/setup.sh installs them)` : false;
})();

export interface CtrCli {
  /** The built file: a Bun executable, or a bundle that argv runs with node. */
  bin: string;
  /** Run `berth-ctr --root ROOT ARGS...` (stdin from `input`). */
  ctr(root: string, args: string[], input?: string): { code: number; out: string; err: string; raw: Buffer };
  /** The same, asserting exit 0; its stdout. */
  ok(root: string, args: string[], input?: string): string;
  /** The program and its first arguments, for a caller that spawns berth-ctr itself. */
  argv: [string, ...string[]];
}

/**
 * berth-ctr built for one test file under <repo>/tmp (git-ignored;
 * node_modules resolves from there), so a concurrent `scripts/build.mjs`
 * elsewhere cannot swap it mid-test. Built as scripts/build.mjs builds
 * bin/berth-ctr: a Bun executable where Bun runs (SQLite through
 * bun:sqlite), a Node.js bundle with BERTH_NO_BUN=1 or without Bun (the
 * fallback, better-sqlite3). Call at the top of the file: it is built in a
 * `before` hook (not when `skip` says why not) and removed in an `after`.
 */
export function privateCtr(name: string, skip: string | false = false): CtrCli {
  const repo = join(import.meta.dirname, '../../..');
  const dir = join(repo, 'tmp', `${name}-${process.pid}`);
  const bunBin = join(repo, 'node_modules/.bin/bun');
  const useBun = !process.env.BERTH_NO_BUN && spawnSync(bunBin, ['--version'], { stdio: 'ignore' }).status === 0;
  const bin = join(dir, useBun ? 'berth-ctr' : 'berth-ctr.mjs');
  const argv: [string, ...string[]] = useBun ? [bin] : [process.execPath, bin];
  before(async () => {
    if (skip) return;
    if (useBun) {
      mkdirSync(dir, { recursive: true });
      execFileSync(bunBin, ['build', '--compile', '--bytecode', join(repo, 'src/cli/ctr/main.ts'), '--outfile', bin], {
        stdio: ['ignore', 'ignore', 'inherit'],
        cwd: repo,
      });
      return;
    }
    const { build } = await import('esbuild');
    await build({
      entryPoints: [join(repo, 'src/cli/ctr/main.ts')],
      outfile: bin,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'esm',
      external: ['better-sqlite3'],
      banner: {
        js: "import { createRequire as __berthCreateRequire } from 'node:module'; const require = __berthCreateRequire(import.meta.url);",
      },
      logLevel: 'warning',
    });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const ctr: CtrCli['ctr'] = (root, args, input) => {
    const r = spawnSync(argv[0], [...argv.slice(1), '--root', root, ...args], { input, maxBuffer: 64 * 1024 * 1024 });
    return { code: r.status ?? -1, out: r.stdout.toString('utf8'), err: r.stderr.toString('utf8'), raw: r.stdout };
  };
  const ok: CtrCli['ok'] = (root, args, input) => {
    const r = ctr(root, args, input);
    assert.equal(r.code, 0, `berth-ctr ${args.join(' ')}: ${r.err}${r.out}`);
    return r.out;
  };
  return { bin, ctr, ok, argv };
}
