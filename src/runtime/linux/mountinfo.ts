// The mount that holds a path, read from /proc/self/mountinfo: what runc
// calls the rootfs's parent mount. pivot_root(2) refuses (EINVAL) when the
// new root's parent mount is shared, so with a "shared" rootfsPropagation
// that mount is made private in the container's mount namespace first.

import { readFileSync } from 'node:fs';

export interface ParentMount {
  /** Its mount point. */
  mountpoint: string;
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function parseParentMount(mountinfo: string, path: string): ParentMount | undefined {
  let best: ParentMount | undefined;
  for (const line of mountinfo.split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-');
    if (sep < 6) continue;
    const mountpoint = unescape(f[4]!);
    const under = mountpoint === '/' || path === mountpoint || path.startsWith(`${mountpoint}/`);
    // The last listed of equal length is the one on top.
    if (!under || (best && mountpoint.length < best.mountpoint.length)) continue;
    best = { mountpoint };
  }
  return best;
}

export function parentMountOf(path: string): ParentMount | undefined {
  return parseParentMount(readFileSync('/proc/self/mountinfo', 'utf8'), path);
}

/** Mounts at or below dir (its realpath), with their ids, in mountinfo order. */
export function mountsUnder(
  dir: string,
  mountinfo = readFileSync('/proc/self/mountinfo', 'utf8'),
): { id: number; mountpoint: string }[] {
  const out: { id: number; mountpoint: string }[] = [];
  for (const line of mountinfo.split('\n')) {
    const f = line.split(' ');
    if (f.length < 5) continue;
    const mountpoint = unescape(f[4]!);
    if (mountpoint === dir || mountpoint.startsWith(`${dir}/`)) out.push({ id: Number(f[0]), mountpoint });
  }
  return out;
}
