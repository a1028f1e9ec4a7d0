// Helpers for runtime tests: a bundle with a busybox rootfs and a config
// derived from the default spec, a private state root, and the CLI.

import { after } from 'node:test';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import {
  mkdtempSync,
  rmSync,
  writeFileSync,
  existsSync,
  openSync,
  closeSync,
  readFileSync,
  readdirSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { makeBusyboxRootfs } from './busybox.js';
import { defaultSpec } from '../../src/runtime/spec/defaults.js';
import type { Spec } from '../../src/runtime/spec/types.js';

export const REPO = resolve(import.meta.dirname, '../..');
/** The real entry point, as users and containerd run it (the bin/ launcher). */
export const CLI = join(REPO, 'bin/berth-runc');

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

export interface Bundle {
  dir: string;
  rootfs: string;
  root: string;
  spec: Spec;
  write(): void;
  cleanup(): void;
}

let counter = 0;
export function uniqueId(prefix = 'bt'): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter++}`;
}

/** A bundle whose process runs `sh -c script`, no terminal. */
export function makeBundle(script = 'true', edit?: (s: Spec) => void): Bundle {
  const dir = mkdtempSync(join(tmpdir(), 'berth-rt-'));
  const rootfs = join(dir, 'rootfs');
  makeBusyboxRootfs(rootfs);
  const spec = defaultSpec({ cgroupNamespace: false });
  spec.root = { path: 'rootfs', readonly: false };
  spec.process!.terminal = false;
  spec.process!.args = ['/bin/sh', '-c', script];
  edit?.(spec);
  const b: Bundle = {
    dir,
    rootfs,
    root: join(dir, 'state'),
    spec,
    write() {
      writeFileSync(join(dir, 'config.json'), JSON.stringify(b.spec, null, 2));
    },
    cleanup() {
      // Leave no container behind even when a test failed half-way.
      if (existsSync(b.root)) {
        const ids = spawnSync(CLI, ['--root', b.root, 'list', '-q'], { encoding: 'utf8' })
          .stdout.split('\n')
          .filter(Boolean);
        for (const id of ids) spawnSync(CLI, ['--root', b.root, 'delete', '--force', id]);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  b.write();
  return b;
}

/**
 * makeBundle for the suite it is called in: every bundle it makes is cleaned
 * up (its containers deleted, its files removed) after that suite.
 */
export function suiteBundles(): typeof makeBundle {
  const made: Bundle[] = [];
  after(() => made.forEach((b) => b.cleanup()));
  return (script, edit) => {
    const b = makeBundle(script, edit);
    made.push(b);
    return b;
  };
}

/**
 * The CLI with stdout/stderr captured in files, not pipes: a detached
 * container inherits them, and a pipe would keep the call waiting until the
 * container exits.
 */
export function runc(
  b: Bundle | { root: string },
  args: string[],
  opts: { input?: string; timeout?: number } = {},
): SpawnSyncReturns<string> {
  const dir = mkdtempSync(join(tmpdir(), 'berth-out-'));
  const outFd = openSync(join(dir, 'out'), 'w+');
  const errFd = openSync(join(dir, 'err'), 'w+');
  try {
    const r = spawnSync(CLI, ['--root', b.root, ...args], {
      encoding: 'utf8',
      input: opts.input,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', outFd, errFd],
      timeout: opts.timeout ?? 30000,
    });
    r.stdout = readFileSync(join(dir, 'out'), 'utf8');
    r.stderr = readFileSync(join(dir, 'err'), 'utf8');
    return r;
  } finally {
    closeSync(outFd);
    closeSync(errFd);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Run the bundle in the foreground and return the container's stdout. */
export function runOut(b: Bundle, id = uniqueId()): { code: number | null; out: string; err: string } {
  const r = runc(b, ['run', '--bundle', b.dir, id]);
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** What a failed create of container `id` left behind: state under the bundle's root, a cgroup, its rootfs mounted. */
export function leftovers(b: Bundle, id: string): string[] {
  const out: string[] = [];
  if (existsSync(b.root) && readdirSync(b.root).length) out.push(`state: ${readdirSync(b.root).join(',')}`);
  for (const c of ['memory', 'pids', 'cpu', 'devices', 'freezer', 'unified']) {
    if (existsSync(`/sys/fs/cgroup/${c}/${id}`)) out.push(`cgroup ${c}`);
  }
  if (readFileSync('/proc/self/mountinfo', 'utf8').includes(b.rootfs)) out.push('mount');
  return out;
}
