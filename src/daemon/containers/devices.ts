// --device: the host's device nodes a container gets (docker run --device
// /dev/x[:/dev/y[:rwm]]), looked up at each start as dockerd does: a node in
// the spec's linux.devices (runc makes it in the container's /dev) and a
// rule in the device cgroup that lets the container use it. A directory
// gives every device node under it. A path that is missing or not a device
// fails the start in dockerd's words.

import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { badRequest } from '../http/errors.js';
import { messageOf } from '../../common/errors.js';

export interface HostDevice {
  /** Where the node goes in the container. */
  path: string;
  type: 'c' | 'b';
  major: number;
  minor: number;
  fileMode: number;
  uid: number;
  gid: number;
  /** Cgroup permissions: some of r, w, m. */
  access: string;
}

interface DeviceRequest {
  PathOnHost: string;
  PathInContainer?: string;
  CgroupPermissions?: string;
}

// Linux's dev_t split (glibc's gnu_dev_major/minor), on the bigint st_rdev.
const majorOf = (d: bigint) => Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn));
const minorOf = (d: bigint) => Number((d & 0xffn) | ((d >> 12n) & ~0xffn));

async function node(host: string, inContainer: string, access: string): Promise<HostDevice | undefined> {
  const st = await lstat(host, { bigint: true });
  const type = st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : undefined;
  if (!type) return undefined;
  return {
    path: inContainer,
    type,
    major: majorOf(st.rdev),
    minor: minorOf(st.rdev),
    fileMode: Number(st.mode & 0o777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
    access,
  };
}

async function walk(host: string, inContainer: string, access: string, out: HostDevice[]): Promise<void> {
  for (const e of await readdir(host, { withFileTypes: true })) {
    const h = join(host, e.name);
    const c = join(inContainer, e.name);
    if (e.isDirectory()) await walk(h, c, access, out);
    else if (e.isCharacterDevice() || e.isBlockDevice()) {
      const d = await node(h, c, access);
      if (d) out.push(d);
    }
  }
}

/** The device nodes of HostConfig.Devices, read from the host now. */
export async function hostDevices(list: readonly DeviceRequest[]): Promise<HostDevice[]> {
  const out: HostDevice[] = [];
  for (const d of list) {
    const access = d.CgroupPermissions || 'rwm';
    if (!/^[rwm]+$/.test(access)) throw badRequest(`invalid device cgroup permissions: ${access}`, 'Devices');
    const inContainer = d.PathInContainer || d.PathOnHost;
    const fail = (why: string) =>
      badRequest(`error gathering device information while adding custom device "${d.PathOnHost}": ${why}`, 'Devices');
    let st;
    try {
      st = await lstat(d.PathOnHost);
    } catch (e) {
      throw fail((e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : messageOf(e));
    }
    if (st.isDirectory()) {
      await walk(d.PathOnHost, inContainer, access, out);
      continue;
    }
    const n = await node(d.PathOnHost, inContainer, access);
    if (!n) throw fail('not a device node');
    out.push(n);
  }
  return out;
}
