// A task's rootfs mount as one mount(2) call made by its shim (native/README.md,
// berth-shim `mount` and `umount`), when one call means what mount(8) would
// do with the same options: a filesystem with its data (a snapshot's
// overlay), or a plain bind. Anything else (a read-only or nosuid bind,
// which mount(8) makes with a second, remounting call; a propagation or
// recursive option; data past a page) is left to mount(8).

import { MS } from '../../runtime/linux/constants.js';
import { parseMountOptions } from '../../runtime/plan/mountopts.js';
import type { ShimClient } from '../../shim/client.js';

export interface Mounter {
  mount(source: string, target: string, fstype: string, flags: number, data: string): Promise<void>;
  /** true: nothing is mounted on target any more; false: the caller's umount(8) decides. */
  umount(target: string): Promise<boolean>;
}

/** mount(2)'s type, flags and data for a rootfs mount, or undefined when one call would not do. */
export function asSyscall(m: {
  type: string;
  options: string[];
}): { fstype: string; flags: number; data: string } | undefined {
  let p: ReturnType<typeof parseMountOptions>;
  try {
    p = parseMountOptions(
      m.options.filter((o) => o !== ''),
      'rootfs',
    );
  } catch {
    return undefined; // mount(8) says what is wrong with it
  }
  if (p.propagation || p.recursive.set || p.recursive.clear || p.copyUp || p.flags & MS.REMOUNT) return undefined;
  // the kernel takes one page of data; mount(8) may do better (the new mount API)
  if (Buffer.byteLength(p.data) >= 4000) return undefined;
  const bind = m.type === 'bind' || m.type === '';
  if (bind) {
    // any other flag on a bind needs mount(8)'s remount
    if (!(p.flags & MS.BIND) || p.flags & ~(MS.BIND | MS.REC) || p.data) return undefined;
    return { fstype: '', flags: p.flags, data: '' };
  }
  return p.flags & MS.BIND ? undefined : { fstype: m.type, flags: p.flags, data: p.data };
}

/** The mounts of a task's bundle through its shim. */
export function shimMounter(client: ShimClient): Mounter {
  return {
    async mount(source, target, fstype, flags, data) {
      await client.request('mount', source, target, fstype, flags, data);
    },
    async umount(target) {
      // { unmounted: 0 }: nothing was mounted there (a create cut short before its mount)
      return client.request('umount', target).then(
        () => true,
        () => false, // EBUSY, a shim gone or older than the request: umount(8) --recursive, then lazily
      );
    },
  };
}
