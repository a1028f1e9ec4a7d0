// Shared pieces of the image integration tests: a temporary store with its
// services, root filesystem tarballs made on the spot from busybox, and the
// external tools the round trips are cross-checked with.

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { openMetadata } from '../../../src/image/metadata/db.js';
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
