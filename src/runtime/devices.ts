// The devices every container gets, in one table (as runc's specconv keeps
// AllowedDevices): each entry is a device cgroup rule, and the entries with
// a path are also created as nodes in the container's /dev (the plan
// compiler's job). The rules come after the config's own, so a "deny all"
// in config.json still leaves /dev/null usable.

import type { LinuxDeviceCgroup } from './spec/types.js';

interface DefaultDevice {
  type: 'c' | 'b';
  /** Absent: any major (or minor). */
  major?: number;
  minor?: number;
  access: string;
  /** Created as a node (mode 0666, root-owned) when the config does not list it. */
  path?: string;
}

const DEFAULT_DEVICES: readonly DefaultDevice[] = [
  // mknod of any device, but no access to it: a container may create nodes it cannot open.
  { type: 'c', access: 'm' },
  { type: 'b', access: 'm' },
  { type: 'c', major: 1, minor: 3, access: 'rwm', path: '/dev/null' },
  { type: 'c', major: 1, minor: 8, access: 'rwm', path: '/dev/random' },
  { type: 'c', major: 1, minor: 7, access: 'rwm', path: '/dev/full' },
  { type: 'c', major: 5, minor: 0, access: 'rwm', path: '/dev/tty' },
  { type: 'c', major: 1, minor: 5, access: 'rwm', path: '/dev/zero' },
  { type: 'c', major: 1, minor: 9, access: 'rwm', path: '/dev/urandom' },
  // Allowed, not created: devpts provides /dev/pts/* and /dev/ptmx; /dev/net/tun only if listed.
  { type: 'c', major: 136, access: 'rwm' },
  { type: 'c', major: 5, minor: 2, access: 'rwm' },
  { type: 'c', major: 10, minor: 200, access: 'rwm' },
];

/** The cgroup rules of the default devices. */
export const DEFAULT_DEVICE_RULES: readonly LinuxDeviceCgroup[] = DEFAULT_DEVICES.map((d) => ({
  allow: true,
  type: d.type,
  ...(d.major === undefined ? {} : { major: d.major }),
  ...(d.minor === undefined ? {} : { minor: d.minor }),
  access: d.access,
}));

/** The nodes every container's /dev gets. */
export const DEFAULT_DEVICE_NODES: readonly { path: string; type: 'c' | 'b'; major: number; minor: number }[] =
  DEFAULT_DEVICES.filter(
    (d): d is DefaultDevice & { path: string; major: number; minor: number } => d.path !== undefined,
  ).map((d) => ({ path: d.path, type: d.type, major: d.major, minor: d.minor }));
