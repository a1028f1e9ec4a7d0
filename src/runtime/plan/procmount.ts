// What may be mounted on /proc or inside it: a container's /proc must be the
// kernel's procfs, since the runtime and its users trust what they read and
// write there (runc's checkProcMount, the class of CVE-2023-27561 and
// CVE-2023-28642). berth-init also refuses proc on anything but an ordinary
// directory (MOUNT_IN_ROOT's realdir) and checks /proc after the mounts.

import { statfsSync } from 'node:fs';
import { posix } from 'node:path';
import { BerthError } from '../../common/errors.js';

function fail(field: string, message: string): never {
  throw new BerthError('runtime', 'invalid-argument', `${field}: ${message}`, { field });
}

// runc's list of files under /proc that a bind may cover (what lxcfs emulates).
const PROC_MOUNT_ALLOWED = new Set([
  '/proc/cpuinfo',
  '/proc/diskstats',
  '/proc/meminfo',
  '/proc/stat',
  '/proc/swaps',
  '/proc/uptime',
  '/proc/loadavg',
  '/proc/slabinfo',
  '/proc/sys/kernel/ns_last_pid',
  '/proc/sys/crypto/fips_enabled',
]);
const PROC_SUPER_MAGIC = 0x9fa0;

/**
 * As runc: on /proc itself only a procfs (a fresh one, or a bind of one);
 * beneath it only the few files lxcfs emulates. A volume over /proc would
 * give the container's own files where the kernel's are expected.
 */
export function checkProcMount(
  m: { destination: string; type?: string; source?: string },
  isBind: boolean,
  field: string,
): void {
  const dest = posix.normalize(m.destination);
  if (dest === '/proc') {
    if (!isBind && m.type === 'proc') return;
    if (isBind && m.source) {
      let magic: number | undefined;
      try {
        magic = Number(statfsSync(m.source).type);
      } catch (e) {
        fail(`${field}.source`, `cannot bind ${m.source}: ${(e as Error).message}`);
      }
      if (magic === PROC_SUPER_MAGIC) return;
    }
    fail(`${field}.destination`, '/proc cannot be mounted because it is not of type proc');
  }
  if (dest.startsWith('/proc/') && !PROC_MOUNT_ALLOWED.has(dest)) {
    fail(`${field}.destination`, `${dest} cannot be mounted because it is inside /proc`);
  }
}
