// Which sysctls a container may set. /proc/sys is only partly namespaced, so a
// key is allowed only when the container has its own copy of the namespace that
// owns it; anything else would change the host for everyone.

import { fieldKey, type Fail } from './field.js';
import type { NamespaceType } from './types.js';

// runc's rules: the SysV IPC keys and fs.mqueue.* need an IPC namespace,
// net.* a network namespace, kernel.domainname a UTS namespace (kernel.hostname
// never: the hostname field owns it), user.* a user namespace; nothing else.
const IPC_SYSCTLS = new Set([
  'kernel.msgmax',
  'kernel.msgmnb',
  'kernel.msgmni',
  'kernel.sem',
  'kernel.shmall',
  'kernel.shmmax',
  'kernel.shmmni',
  'kernel.shm_rmid_forced',
]);

/** sysctl(8) accepts "/" as the separator too ("net/ipv4/ip_forward"); normalise to dots. */
export function sysctlDots(name: string): string {
  const first = name.search(/[./]/);
  if (first < 0 || name[first] === '.') return name;
  return name.replace(/[./]/g, (c) => (c === '.' ? '/' : '.'));
}

/** Refuses any key the container's namespaces (`has`) do not own. */
export function checkSysctl(sysctl: Record<string, string>, has: ReadonlySet<NamespaceType>, fail: Fail): void {
  for (const raw of Object.keys(sysctl)) {
    const f = fieldKey('linux.sysctl', raw);
    const s = sysctlDots(raw);
    if (IPC_SYSCTLS.has(s) || s.startsWith('fs.mqueue.')) {
      if (!has.has('ipc')) fail(f, `"${s}" needs an IPC namespace (add {"type": "ipc"} to linux.namespaces)`);
      continue;
    }
    if (s.startsWith('net.')) {
      // A netns joined by a path that is in fact the host's is caught when the
      // plan is compiled (it needs a stat of the host's /proc/self/ns/net).
      if (!has.has('network'))
        fail(f, `"${s}" needs a network namespace (add {"type": "network"} to linux.namespaces)`);
      continue;
    }
    if (s === 'kernel.domainname' && has.has('uts')) continue;
    if (s === 'kernel.hostname') fail(f, 'is not allowed: set the "hostname" field instead');
    if (s === 'kernel.domainname') fail(f, `"${s}" needs a UTS namespace (add {"type": "uts"} to linux.namespaces)`);
    if (s.startsWith('user.')) {
      if (!has.has('user')) fail(f, `"${s}" needs a user namespace (add {"type": "user"} to linux.namespaces)`);
      continue;
    }
    fail(f, `"${s}" is not namespaced: a container may not set it`);
  }
}
