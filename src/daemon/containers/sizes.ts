// A container's sizes as dockerd reports them with size=1 (docker ps -s,
// /system/df): SizeRw, what its writable snapshot holds (left out when 0,
// dockerd's omitempty), and SizeRootFs, that plus its image's layers.

import type { ContainerManager } from './manager.js';
import type { ContainerRecord } from './record.js';

export async function containerSizes(
  m: ContainerManager,
  list: readonly ContainerRecord[],
): Promise<{ SizeRw?: number; SizeRootFs: number }[]> {
  const images = new Map((await m.s.images.list()).map((v) => [v.id, v.size]));
  const snaps = m.s.client.snapshots(m.s.cfg.snapshotter);
  return Promise.all(
    list.map(async (r) => {
      const rw = (await snaps.usage(r.Id).catch(() => ({ size: 0 }))).size;
      return { ...(rw > 0 ? { SizeRw: rw } : {}), SizeRootFs: rw + (images.get(r.Image) ?? 0) };
    }),
  );
}
