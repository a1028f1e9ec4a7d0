// mount(8)-style options of an OCI mount, split into mount(2) flags, the
// propagation to apply after mounting, and the filesystem-specific data
// string. The table follows what runc accepts, so configs written for runc
// mean the same thing here.

import { BerthError } from '../../common/errors.js';
import { MOUNT_ATTR, MS } from '../linux/constants.js';

interface FlagEffect {
  clear: boolean;
  flag: number;
}

const FLAGS: Record<string, FlagEffect> = {
  acl: { clear: false, flag: MS.POSIXACL },
  async: { clear: true, flag: MS.SYNCHRONOUS },
  atime: { clear: true, flag: MS.NOATIME },
  bind: { clear: false, flag: MS.BIND },
  defaults: { clear: false, flag: 0 },
  dev: { clear: true, flag: MS.NODEV },
  diratime: { clear: true, flag: MS.NODIRATIME },
  dirsync: { clear: false, flag: MS.DIRSYNC },
  exec: { clear: true, flag: MS.NOEXEC },
  iversion: { clear: false, flag: MS.I_VERSION },
  lazytime: { clear: false, flag: MS.LAZYTIME },
  loud: { clear: true, flag: MS.SILENT },
  mand: { clear: false, flag: MS.MANDLOCK },
  noacl: { clear: true, flag: MS.POSIXACL },
  noatime: { clear: false, flag: MS.NOATIME },
  nodev: { clear: false, flag: MS.NODEV },
  nodiratime: { clear: false, flag: MS.NODIRATIME },
  noexec: { clear: false, flag: MS.NOEXEC },
  noiversion: { clear: true, flag: MS.I_VERSION },
  nolazytime: { clear: true, flag: MS.LAZYTIME },
  nomand: { clear: true, flag: MS.MANDLOCK },
  norelatime: { clear: true, flag: MS.RELATIME },
  nostrictatime: { clear: true, flag: MS.STRICTATIME },
  nosuid: { clear: false, flag: MS.NOSUID },
  nosymfollow: { clear: false, flag: MS.NOSYMFOLLOW },
  rbind: { clear: false, flag: MS.BIND | MS.REC },
  relatime: { clear: false, flag: MS.RELATIME },
  remount: { clear: false, flag: MS.REMOUNT },
  ro: { clear: false, flag: MS.RDONLY },
  rw: { clear: true, flag: MS.RDONLY },
  silent: { clear: false, flag: MS.SILENT },
  strictatime: { clear: false, flag: MS.STRICTATIME },
  suid: { clear: true, flag: MS.NOSUID },
  sync: { clear: false, flag: MS.SYNCHRONOUS },
};

export const PROPAGATION: Record<string, number> = {
  private: MS.PRIVATE,
  rprivate: MS.PRIVATE | MS.REC,
  shared: MS.SHARED,
  rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE,
  rslave: MS.SLAVE | MS.REC,
  unbindable: MS.UNBINDABLE,
  runbindable: MS.UNBINDABLE | MS.REC,
};

/**
 * runc's recursive options: applied with mount_setattr(2) and AT_RECURSIVE to
 * the mount and every mount below it (a plain "ro" bind leaves submounts
 * writable). An access-time mode replaces the whole access-time field.
 */
const RECURSIVE: Record<string, FlagEffect> = {
  rro: { clear: false, flag: MOUNT_ATTR.RDONLY },
  rrw: { clear: true, flag: MOUNT_ATTR.RDONLY },
  rnosuid: { clear: false, flag: MOUNT_ATTR.NOSUID },
  rsuid: { clear: true, flag: MOUNT_ATTR.NOSUID },
  rnodev: { clear: false, flag: MOUNT_ATTR.NODEV },
  rdev: { clear: true, flag: MOUNT_ATTR.NODEV },
  rnoexec: { clear: false, flag: MOUNT_ATTR.NOEXEC },
  rexec: { clear: true, flag: MOUNT_ATTR.NOEXEC },
  rnodiratime: { clear: false, flag: MOUNT_ATTR.NODIRATIME },
  rdiratime: { clear: true, flag: MOUNT_ATTR.NODIRATIME },
  rnosymfollow: { clear: false, flag: MOUNT_ATTR.NOSYMFOLLOW },
  rsymfollow: { clear: true, flag: MOUNT_ATTR.NOSYMFOLLOW },
};
const RECURSIVE_ATIME: Record<string, number> = {
  rrelatime: MOUNT_ATTR.RELATIME,
  rnoatime: MOUNT_ATTR.NOATIME,
  rstrictatime: MOUNT_ATTR.STRICTATIME,
};
// Clearing one access-time mode does not say which mode to use instead (the
// kernel refuses it with EINVAL): name the ones that do.
const RECURSIVE_ATIME_CLEAR = new Set(['ratime', 'rnorelatime', 'rnostrictatime']);

// Options runc knows that Berth does not implement yet: refusing them is
// better than passing them to the filesystem as data and failing obscurely.
const UNSUPPORTED = new Set(['idmap', 'ridmap']);

export interface ParsedMountOptions {
  flags: number;
  propagation: number;
  data: string;
  /** mount_setattr(2) attributes to set and clear recursively (both 0: none). */
  recursive: { set: number; clear: number };
  /** runc's "tmpcopyup": the new tmpfs starts with what the directory under it held. */
  copyUp: boolean;
}

export function parseMountOptions(options: string[] | undefined, field: string): ParsedMountOptions {
  let flags = 0;
  let propagation = 0;
  const data: string[] = [];
  const recursive = { set: 0, clear: 0 };
  let copyUp = false;
  (options ?? []).forEach((opt, i) => {
    if (opt === 'tmpcopyup') {
      copyUp = true;
      return;
    }
    const f = FLAGS[opt];
    if (f) {
      flags = f.clear ? flags & ~f.flag : flags | f.flag;
      return;
    }
    const r = RECURSIVE[opt];
    if (r) {
      // The last of a pair wins, as with the plain flags.
      if (r.clear) {
        recursive.set &= ~r.flag;
        recursive.clear |= r.flag;
      } else {
        recursive.clear &= ~r.flag;
        recursive.set |= r.flag;
      }
      return;
    }
    const atime = RECURSIVE_ATIME[opt];
    if (atime !== undefined) {
      recursive.set = (recursive.set & ~MOUNT_ATTR.ATIME_MASK) | atime;
      recursive.clear |= MOUNT_ATTR.ATIME_MASK;
      return;
    }
    if (RECURSIVE_ATIME_CLEAR.has(opt)) {
      throw new BerthError(
        'runtime',
        'invalid-argument',
        `${field}.options[${i}]: "${opt}" does not say which access-time mode to use; use rrelatime, rnoatime or rstrictatime`,
        { field: `${field}.options[${i}]` },
      );
    }
    const p = PROPAGATION[opt];
    if (p !== undefined) {
      propagation = p;
      return;
    }
    if (UNSUPPORTED.has(opt)) {
      throw new BerthError(
        'runtime',
        'unavailable',
        `${field}.options[${i}]: mount option "${opt}" is not supported by berth-runc`,
        { field: `${field}.options[${i}]` },
      );
    }
    data.push(opt);
  });
  return { flags, propagation, data: data.join(','), recursive, copyUp };
}

/** Flags that a bind mount can only get through a second, remounting mount(2). */
export function bindRemountFlags(flags: number): number {
  const extra = flags & ~(MS.BIND | MS.REC | MS.REMOUNT);
  return extra === 0 ? 0 : MS.BIND | MS.REMOUNT | extra;
}
