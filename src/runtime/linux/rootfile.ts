// Reading a file of a container's root filesystem from the host, for the few
// facts the runtime takes from it (HOME from /etc/passwd, as runc does).
//
// The root is the container's: it may hold symlinks to host files, FIFOs and
// device nodes, and a running container may swap any of them at any moment.
// So nothing is looked up by a path string that the kernel would resolve
// again later. Each component is opened with O_PATH | O_NOFOLLOW relative to
// the handle of its parent (through the host's /proc/self/fd/<fd>, Node.js
// having no openat), a symlink anywhere ends the lookup, the final handle
// must be a regular file before it is reopened for reading (non-blocking, so
// that even a swap after the check cannot make us wait on a FIFO), and at
// most `limit` bytes are read.

import { closeSync, constants as fsc, fstatSync, openSync, readSync } from 'node:fs';

// Not in Node's fs.constants: the Linux values (asm-generic/fcntl.h).
const O_PATH = 0o10000000;

/** The file's first `limit` bytes, or undefined when it is missing, not a regular file, or reached through a symlink. */
export function readRootFile(rootfs: string, rel: string, limit: number): Buffer | undefined {
  const parts = rel.split('/').filter((p) => p && p !== '.');
  if (parts.length === 0 || parts.includes('..')) return undefined;
  const fds: number[] = [];
  try {
    // The root itself is a host path the runtime was given (the bundle's).
    fds.push(openSync(rootfs, O_PATH | fsc.O_DIRECTORY));
    for (let i = 0; i < parts.length; i++) {
      const last = i === parts.length - 1;
      const flags = O_PATH | fsc.O_NOFOLLOW | (last ? 0 : fsc.O_DIRECTORY);
      fds.push(openSync(`/proc/self/fd/${fds.at(-1)}/${parts[i]}`, flags));
    }
    const handle = fds.at(-1)!;
    if (!fstatSync(handle).isFile()) return undefined;
    // Reopening the O_PATH handle gives this very inode, whatever the name
    // now names; O_NONBLOCK in case it is not what was checked (it is).
    const fd = openSync(`/proc/self/fd/${handle}`, fsc.O_RDONLY | fsc.O_NONBLOCK | fsc.O_NOCTTY);
    fds.push(fd);
    if (!fstatSync(fd).isFile()) return undefined;
    const buf = Buffer.alloc(limit);
    let n = 0;
    while (n < limit) {
      const got = readSync(fd, buf, n, limit - n, null);
      if (got === 0) break;
      n += got;
    }
    return buf.subarray(0, n);
  } catch {
    // ENOENT, ELOOP (a symlink), ENOTDIR, EACCES: no such file for us.
    return undefined;
  } finally {
    for (const fd of fds) closeSync(fd);
  }
}
