// Mounting what a snapshotter returns, with util-linux's mount(8) and
// umount(8) (Node has no mount(2)). Also the overlayfs probe: overlay support
// is decided by a real test mount on the filesystem that will hold the
// snapshots, since /proc/filesystems says nothing about whether that
// filesystem can be an upper dir (xattrs, d_type).

import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join, dirname, relative } from 'node:path';
import { BerthError, messageOf } from '../common/errors.js';
import { probedBefore, rememberProbe } from './overlay-probe.js';
import type { Mount } from './types.js';

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** Run a program; a non-zero exit becomes an Error with its stderr. */
export function run(file: string, args: string[], opts: { cwd?: string; input?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      { cwd: opts.cwd, maxBuffer: 16 << 20, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err) {
          const msg = (stderr || '').trim() || messageOf(err);
          reject(Object.assign(new Error(`${file}: ${msg}`), { stdout, stderr, cause: err }));
        } else resolve({ stdout, stderr });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

// mount(2) takes the options as one page of data.
const MAX_DATA = 4095;
const PATH_OPTS = ['lowerdir=', 'upperdir=', 'workdir='];

/**
 * Options too long for one page are retried with the paths relative to their
 * common directory and mount(8) run there (overlayfs resolves relative
 * lowerdirs against the mounter's cwd), as containerd does.
 */
export function shortenOverlayOptions(options: string[]): { options: string[]; cwd?: string } {
  if (options.join(',').length <= MAX_DATA) return { options };
  const paths: string[] = [];
  for (const o of options) {
    const p = PATH_OPTS.find((x) => o.startsWith(x));
    if (p) paths.push(...o.slice(p.length).split(':'));
  }
  // Snapshot dirs are <snapshots>/<id>/fs: their common dir is <snapshots>.
  const cwd = paths.length ? dirname(dirname(paths[0]!)) : undefined;
  if (!cwd) return { options };
  const shortened = options.map((o) => {
    const p = PATH_OPTS.find((x) => o.startsWith(x));
    if (!p) return o;
    return (
      p +
      o
        .slice(p.length)
        .split(':')
        .map((q) => relative(cwd, q))
        .join(':')
    );
  });
  if (shortened.join(',').length > MAX_DATA) {
    throw new BerthError(
      'snapshot',
      'invalid-argument',
      `overlay mount options are ${shortened.join(',').length} bytes even with relative paths: too many layers (limit is one page, ${MAX_DATA + 1} bytes)`,
    );
  }
  return { options: shortened, cwd };
}

/** Mount each of `mounts` on `target`, in order (containerd's mount.All). */
export async function mountAll(mounts: Mount[], target: string): Promise<void> {
  for (const m of mounts) {
    let args: string[];
    let cwd: string | undefined;
    if (m.type === 'bind') {
      args = ['-o', m.options.join(','), m.source, target];
    } else {
      const s = m.type === 'overlay' ? shortenOverlayOptions(m.options) : { options: m.options };
      cwd = s.cwd;
      args = ['-t', m.type, ...(s.options.length ? ['-o', s.options.join(',')] : []), m.source, target];
    }
    try {
      await run('mount', args, { cwd });
    } catch (e) {
      throw new BerthError('snapshot', 'internal', `mount ${m.type} on ${target}: ${messageOf(e)}`, { cause: e });
    }
  }
}

/**
 * Unmount everything at `target` (recursively). Not mounted is success, so
 * cleanup paths can call it unconditionally. EBUSY is retried briefly, then
 * `detach` (MNT_DETACH) if asked.
 */
export async function unmountAll(target: string, opts: { detach?: boolean } = {}): Promise<void> {
  for (let attempt = 0, rounds = 0; rounds < 64; attempt++) {
    try {
      await run('umount', ['-R', target]);
    } catch (e) {
      const msg = messageOf(e);
      if (/not mounted|no mount point specified|not found|no such file/i.test(msg)) return;
      if (/busy/i.test(msg) && attempt < 10) {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      if (opts.detach) {
        await run('umount', ['-R', '-l', target]).catch(() => undefined);
        return;
      }
      throw new BerthError('snapshot', 'internal', `unmount ${target}: ${msg}`, { cause: e });
    }
    // umount -R removes one stack; keep going while something is still there.
    if (!(await isMountPoint(target))) return;
    rounds++;
  }
  throw new BerthError('snapshot', 'internal', `unmount ${target}: still a mount point after 64 rounds of umount -R`);
}

export async function isMountPoint(path: string): Promise<boolean> {
  try {
    await run('mountpoint', ['-q', path]);
    return true;
  } catch {
    return false;
  }
}

const probed = new Map<string, Promise<boolean>>();

/**
 * Can `dir`'s filesystem hold overlay upper dirs? Answered by mounting an
 * overlay there (two lowers, an upper, a work dir) and writing through it.
 */
export function overlaySupported(dir: string): Promise<boolean> {
  let p = probed.get(dir);
  if (!p) {
    p = probe(dir);
    probed.set(dir, p);
  }
  return p;
}

// Synchronous up to the spawn of mount(8), on purpose: a caller that starts
// the probe and then does synchronous work (the engine opening its
// databases) has the test mount run meanwhile.
async function probe(dir: string): Promise<boolean> {
  mkdirSync(dir, { recursive: true });
  if (probedBefore(dir)) return true;
  const tmp = mkdtempSync(join(dir, '.overlay-check-'));
  const merged = join(tmp, 'merged');
  try {
    for (const d of ['l1', 'l2', 'upper', 'work', 'merged']) mkdirSync(join(tmp, d));
    await run('mount', [
      '-t',
      'overlay',
      '-o',
      `lowerdir=${tmp}/l1:${tmp}/l2,upperdir=${tmp}/upper,workdir=${tmp}/work`,
      'overlay',
      merged,
    ]);
    try {
      await mkdir(join(merged, 'probe'));
    } finally {
      // Exactly one mount is there (ours): one umount, not unmountAll's
      // rounds of umount -R and mountpoint(1); lazily if it is busy.
      await run('umount', [merged]).catch(() => run('umount', ['-l', merged]));
    }
    await rememberProbe(dir);
    return true;
  } catch {
    return false;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
