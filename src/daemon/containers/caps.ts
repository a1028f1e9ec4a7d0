// Capabilities as Docker hands them out: a default set of 14, `--cap-add` and
// `--cap-drop` with or without the CAP_ prefix, "ALL" in either, and every
// capability the host's kernel knows for --privileged.

import { readFileSync } from 'node:fs';
import { badRequest } from '../http/errors.js';

/** In capability number order (linux/capability.h). */
const ALL = [
  'CHOWN',
  'DAC_OVERRIDE',
  'DAC_READ_SEARCH',
  'FOWNER',
  'FSETID',
  'KILL',
  'SETGID',
  'SETUID',
  'SETPCAP',
  'LINUX_IMMUTABLE',
  'NET_BIND_SERVICE',
  'NET_BROADCAST',
  'NET_ADMIN',
  'NET_RAW',
  'IPC_LOCK',
  'IPC_OWNER',
  'SYS_MODULE',
  'SYS_RAWIO',
  'SYS_CHROOT',
  'SYS_PTRACE',
  'SYS_PACCT',
  'SYS_ADMIN',
  'SYS_BOOT',
  'SYS_NICE',
  'SYS_RESOURCE',
  'SYS_TIME',
  'SYS_TTY_CONFIG',
  'MKNOD',
  'LEASE',
  'AUDIT_WRITE',
  'AUDIT_CONTROL',
  'SETFCAP',
  'MAC_OVERRIDE',
  'MAC_ADMIN',
  'SYSLOG',
  'WAKE_ALARM',
  'BLOCK_SUSPEND',
  'AUDIT_READ',
  'PERFMON',
  'BPF',
  'CHECKPOINT_RESTORE',
].map((c) => `CAP_${c}`);

/** Docker's default set (moby's oci/caps/defaults.go lists the same 14). */
export const DEFAULT_CAPS = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

let hostCaps: string[] | undefined;
/**
 * The capabilities berthd can hand out (--privileged, "ALL"): those of this
 * kernel (cap_last_cap) that are in berthd's own bounding set. A host whose
 * root lacks one (CAP_SYS_RESOURCE on some VMs) would make runc fail on it.
 */
export function allCaps(): string[] {
  if (!hostCaps) {
    let last = ALL.length - 1;
    let bounding = (1n << 64n) - 1n;
    try {
      last = Math.min(last, Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim()));
      const m = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
      if (m) bounding = BigInt(`0x${m[1]}`);
    } catch {
      /* older kernels: assume the list */
    }
    hostCaps = ALL.slice(0, last + 1).filter((_, i) => (bounding >> BigInt(i)) & 1n);
  }
  return hostCaps;
}

function normalize(c: string, field: string): string {
  const up = c.toUpperCase();
  if (up === 'ALL') return 'ALL';
  const name = up.startsWith('CAP_') ? up : `CAP_${up}`;
  if (!ALL.includes(name)) throw badRequest(`invalid ${field}: unknown capability: "${c}"`, field);
  return name;
}

export function capabilities(privileged: boolean, add: string[] = [], drop: string[] = []): string[] {
  if (privileged) return allCaps();
  const a = add.map((c) => normalize(c, 'CapAdd'));
  const d = drop.map((c) => normalize(c, 'CapDrop'));
  const base = d.includes('ALL') ? [] : DEFAULT_CAPS.filter((c) => !d.includes(c));
  const added = a.includes('ALL') ? allCaps() : a;
  return [...new Set([...base, ...added])].filter((c) => allCaps().includes(c));
}
