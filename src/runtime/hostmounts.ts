// A container without a mount namespace of its own shares the runtime's (as
// runc allows): its mounts (proc, /dev, binds) are made under its rootfs in
// the host's mount table. runc leaves them there for good; Berth records
// which mounts under the rootfs were there before create, and removes the
// others when the container is deleted (or its create fails), deepest first.

import { spawnSync } from 'node:child_process';
import { closeSync, constants, fstatSync, openSync } from 'node:fs';
import { relative } from 'node:path';
import { mountsUnder } from './linux/mountinfo.js';

/** Ids of the mounts under rootfs now: those are not the container's. */
export function mountIdsUnder(rootfs: string): number[] {
  return mountsUnder(rootfs).map((m) => m.id);
}

/** Lazily unmounts every mount under rootfs that is not in `before`; the errors, if any. */
export function unmountAddedUnder(rootfs: string, before: number[]): string[] {
  const keep = new Set(before);
  const added = mountsUnder(rootfs)
    .filter((m) => !keep.has(m.id))
    .reverse();
  const errors: string[] = [];
  for (const m of added) {
    // Still there? Detaching a parent takes its children with it.
    if (!mountsUnder(rootfs).some((x) => x.id === m.id)) continue;
    let fd: number;
    try {
      fd = openBeneath(rootfs, m.mountpoint);
    } catch (e) {
      errors.push(`umount ${m.mountpoint}: ${(e as Error).message}`);
      continue;
    }
    try {
      // The handle, not the path: no symlink swapped in since can send the
      // unmount to a mount of the host's (runc's CVE-2021-30465 class).
      const r = spawnSync('umount', ['-l', '--no-canonicalize', `/proc/${process.pid}/fd/${fd}`], {
        encoding: 'utf8',
      });
      if (r.status !== 0) errors.push(`umount ${m.mountpoint}: ${(r.stderr || r.error?.message || '').trim()}`);
    } finally {
      closeSync(fd);
    }
  }
  return errors;
}

const O_PATH = 0o10000000;

/**
 * A handle on `path` beneath `rootfs`, each component opened from the handle
 * of the one before without following a symlink: the container can swap a
 * directory of its rootfs for a symlink at any time.
 */
function openBeneath(rootfs: string, path: string): number {
  const parts = relative(rootfs, path).split('/').filter(Boolean);
  let fd = openSync(rootfs, O_PATH | constants.O_DIRECTORY);
  try {
    for (const [i, part] of parts.entries()) {
      if (part === '..') throw new Error('climbs out of the rootfs');
      const last = i === parts.length - 1;
      const next = openSync(
        `/proc/self/fd/${fd}/${part}`,
        O_PATH | constants.O_NOFOLLOW | (last ? 0 : constants.O_DIRECTORY),
      );
      closeSync(fd);
      fd = next;
    }
    if (fstatSync(fd).isSymbolicLink()) throw new Error('is now a symlink, not the mount');
    return fd;
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}
