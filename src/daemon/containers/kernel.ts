// What the host's kernel offers to a container's limits, as dockerd's
// sysinfo probes it: a limit the kernel cannot apply is refused or
// discarded with dockerd's warning instead of failing at start.

import { existsSync } from 'node:fs';

/** Block I/O weight needs CFQ/BFQ (v1) or the io controller's bfq weight (v2). */
export function blkioWeightSupported(): boolean {
  return [
    '/sys/fs/cgroup/blkio/blkio.weight',
    '/sys/fs/cgroup/blkio/blkio.bfq.weight',
    '/sys/fs/cgroup/io.bfq.weight',
  ].some((p) => existsSync(p));
}

export const BLKIO_WARNING =
  'Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.';
