// --device: host device nodes given to a container, as dockerd gives them
// (a node, or every node under a directory, with the cgroup permissions
// asked for). The path is the client's input: a path that is no device is
// refused in dockerd's words rather than dropped, so a run never starts
// without the device it asked for.

import { readdirSync, statSync, type Stats } from 'node:fs';
import { join, posix } from 'node:path';
import { badRequest } from '../http/errors.js';

interface Device {
  PathOnHost: string;
  PathInContainer?: string;
  CgroupPermissions?: string;
}

export interface LinuxDevice {
  path: string;
  type: 'c' | 'b';
  major: number;
  minor: number;
  fileMode: number;
  uid: number;
  gid: number;
}

export interface DeviceRule {
  allow: boolean;
  type: 'c' | 'b';
  major: number;
  minor: number;
  access: string;
}

// Linux's dev_t split (glibc's gnu_dev_major/minor), for the 32-bit values Node's stat gives exactly.
const major = (rdev: number) => (rdev >>> 8) & 0xfff;
const minor = (rdev: number) => (rdev & 0xff) | ((rdev >>> 12) & 0xfff00);

function node(st: Stats): Omit<LinuxDevice, 'path'> | undefined {
  const type = st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : undefined;
  if (!type) return undefined;
  return { type, major: major(st.rdev), minor: minor(st.rdev), fileMode: st.mode & 0o777, uid: st.uid, gid: st.gid };
}

/** The spec's devices and device cgroup rules for HostConfig.Devices. */
export function hostDevices(list: readonly Device[]): { devices: LinuxDevice[]; rules: DeviceRule[] } {
  const devices: LinuxDevice[] = [];
  const rules: DeviceRule[] = [];
  for (const d of list) {
    const access = d.CgroupPermissions || 'rwm';
    if (!/^[rwm]{1,3}$/.test(access)) throw badRequest(`invalid device mode: ${access}`, 'Devices');
    const into = d.PathInContainer || d.PathOnHost;
    if (!posix.isAbsolute(into)) throw badRequest(`${into} is not an absolute path`, 'Devices');
    const fail = (why: string) =>
      badRequest(`error gathering device information while adding custom device "${d.PathOnHost}": ${why}`, 'Devices');
    let st: Stats;
    try {
      st = statSync(d.PathOnHost);
    } catch {
      throw fail('no such file or directory');
    }
    const add = (s: Stats, at: string) => {
      const n = node(s);
      if (!n) return false;
      devices.push({ path: at, ...n });
      rules.push({ allow: true, type: n.type, major: n.major, minor: n.minor, access });
      return true;
    };
    if (st.isDirectory()) {
      // Every node beneath it, at the same place under the container's path.
      const walk = (dir: string, at: string) => {
        for (const e of readdirSync(dir, { withFileTypes: true })) {
          const p = join(dir, e.name);
          if (e.isDirectory()) walk(p, posix.join(at, e.name));
          else if (e.isCharacterDevice() || e.isBlockDevice()) add(statSync(p), posix.join(at, e.name));
        }
      };
      walk(d.PathOnHost, into);
    } else if (!add(st, into)) throw fail('not a device node');
  }
  return { devices, rules };
}
