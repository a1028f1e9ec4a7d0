// mount(8)-style options of an OCI mount, split into mount(2) flags, the
// propagation to apply after mounting, and the filesystem-specific data
// string. The table follows what runc accepts, so configs written for runc
// mean the same thing here.

import { BerthError } from '../../common/errors.js';
import { MS } from '../linux/constants.js';

interface FlagEffect { clear: boolean; flag: number }

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

// Options runc knows that Berth does not implement yet: refusing them is
// better than passing them to the filesystem as data and failing obscurely.
const UNSUPPORTED = new Set([
  'idmap', 'ridmap', 'tmpcopyup', 'rro', 'rrw', 'rnosuid', 'rsuid', 'rnodev', 'rdev', 'rnoexec', 'rexec',
  'rnodiratime', 'rdiratime', 'rrelatime', 'rnorelatime', 'rnoatime', 'ratime', 'rstrictatime',
  'rnostrictatime', 'rnosymfollow', 'rsymfollow',
]);

export interface ParsedMountOptions {
  flags: number;
  propagation: number;
  data: string;
}

export function parseMountOptions(options: string[] | undefined, field: string): ParsedMountOptions {
  let flags = 0;
  let propagation = 0;
  const data: string[] = [];
  (options ?? []).forEach((opt, i) => {
    const f = FLAGS[opt];
    if (f) {
      flags = f.clear ? flags & ~f.flag : flags | f.flag;
      return;
    }
    const p = PROPAGATION[opt];
    if (p !== undefined) {
      propagation = p;
      return;
    }
    if (UNSUPPORTED.has(opt)) {
      throw new BerthError('berth-runc', 'unavailable', `${field}.options[${i}]: mount option "${opt}" is not supported by berth-runc`, { field: `${field}.options[${i}]` });
    }
    data.push(opt);
  });
  return { flags, propagation, data: data.join(',') };
}

/** Flags that a bind mount can only get through a second, remounting mount(2). */
export function bindRemountFlags(flags: number): number {
  const extra = flags & ~(MS.BIND | MS.REC | MS.REMOUNT);
  return extra === 0 ? 0 : MS.BIND | MS.REMOUNT | extra;
}
