// A container without a mount namespace of its own shares the runtime's (as
// runc allows): its mounts (proc, /dev, binds) are made under its rootfs in
// the host's mount table. runc leaves them there for good; Berth records
// which mounts under the rootfs were there before create, and removes the
// others when the container is deleted (or its create fails), deepest first.

import { spawnSync } from 'node:child_process';
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
    const r = spawnSync('umount', ['-l', m.mountpoint], { encoding: 'utf8' });
    if (r.status !== 0) errors.push(`umount ${m.mountpoint}: ${(r.stderr || r.error?.message || '').trim()}`);
  }
  return errors;
}
