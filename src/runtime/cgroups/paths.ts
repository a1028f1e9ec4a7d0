// Where a container's cgroup lives, following runc's cgroupfs driver:
// - an absolute cgroupsPath is taken from the root of each hierarchy;
// - a relative one is joined to this process's own cgroup in each v1
//   hierarchy (runc fs/paths.go subsysPath), and on pure v2 to the *parent*
//   of this process's cgroup, because a cgroup with processes in it cannot
//   enable controllers for its children (runc fs2/defaultpath.go);
// - on hybrid hosts the unified directory is joined like a v1 hierarchy (to
//   this process's own cgroup there), as runc's "" subsystem does;
// - an empty cgroupsPath means "/<containerId>", runc's cgroupfs default.
// Unlike runc, which cleans ".." away, a ".." component is rejected: a path
// that tries to climb is a mistake or an attack, not something to rewrite.

import { posix } from 'node:path';
import { cgroupError } from './errors.js';
import type { CgroupLayout, CgroupMount } from './detect.js';

const FIELD = 'linux.cgroupsPath';

export interface InnerPath {
  /** Cleaned, with a leading "/" when absolute, none when relative. */
  path: string;
  absolute: boolean;
}

export function innerPath(cgroupsPath: string | undefined, containerId: string): InnerPath {
  let p = cgroupsPath ?? '';
  if (/^[^/:]*:[^:/]*:[^:/]+$/.test(p)) {
    throw cgroupError(
      'unavailable',
      `${JSON.stringify(p)} is a systemd cgroup path (slice:prefix:name); the systemd cgroup driver is not supported, use a cgroupfs path`,
      FIELD,
    );
  }
  if (p === '') {
    if (!containerId || containerId.includes('/') || containerId === '.' || containerId === '..') {
      throw cgroupError(
        'invalid-argument',
        `cannot derive a cgroup path from container id ${JSON.stringify(containerId)}`,
        FIELD,
      );
    }
    p = `/${containerId}`;
  }
  if (p.includes('\0')) throw cgroupError('invalid-argument', 'contains a NUL byte', FIELD);
  const parts = p.split('/').filter((c) => c !== '' && c !== '.');
  if (parts.includes('..'))
    throw cgroupError('invalid-argument', `${JSON.stringify(p)} must not contain ".." components`, FIELD);
  const absolute = p.startsWith('/');
  if (parts.length === 0) {
    throw cgroupError(
      'invalid-argument',
      `${JSON.stringify(p)} names the root of the hierarchy; a container needs its own cgroup`,
      FIELD,
    );
  }
  return { path: (absolute ? '/' : '') + parts.join('/'), absolute };
}

/** Path of `cgroup` (as /proc/self/cgroup shows it) under a mount whose root is mount.root. */
function underMount(mount: CgroupMount, cgroup: string): string {
  const rel = posix.relative(mount.root, cgroup);
  // Our cgroup outside the mount's view (another cgroup namespace): use the mount's root.
  if (rel.startsWith('..')) return mount.mountpoint;
  return posix.join(mount.mountpoint, rel);
}

/** The directory of the container's cgroup in one v1 hierarchy. */
export function v1Dir(layout: CgroupLayout, controller: string, inner: InnerPath): string | undefined {
  const mount = layout.v1[controller];
  if (!mount) return undefined;
  if (inner.absolute) return posix.join(mount.mountpoint, inner.path);
  return posix.join(underMount(mount, layout.own.v1[controller] ?? mount.root), inner.path);
}

/** The directory of the container's cgroup in the unified hierarchy. */
export function unifiedDir(layout: CgroupLayout, inner: InnerPath): string | undefined {
  const mount = layout.unified;
  if (!mount) return undefined;
  if (inner.absolute) return posix.join(mount.mountpoint, inner.path);
  let own = layout.own.unified ?? mount.root;
  if (layout.mode === 'v2') own = posix.dirname(own);
  return posix.join(underMount(mount, own), inner.path);
}
