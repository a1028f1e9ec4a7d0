// docker image prune: dangling images (no tag) by default, every image no
// container uses with dangling=false (`-a`), narrowed by `until` and
// `label`/`label!` as dockerd filters them. Each image's records are deleted
// (the last one with a synchronous gc, so containerd has removed the blobs
// and snapshots no other image holds when the answer is made);
// SpaceReclaimed is what containerd freed: the sizes of the blobs gone from
// its content store and the disk usage of the image snapshots gone.

import type { ContainerdClient } from '../../client/index.js';
import { isNotFound } from '../../client/errors.js';
import { familiarString } from '../../image/storeless.js';
import { labelMatch } from '../containers/views.js';
import { badRequest } from '../http/errors.js';
import type { ImageView } from './service.js';
import { parseRef } from './service.js';
import { isDanglingName } from './unpack.js';

export interface PruneReport {
  ImagesDeleted: ({ Untagged: string } | { Deleted: string })[] | null;
  SpaceReclaimed: number;
}

/** "2026-01-01T00:00:00Z", a Unix time, or a duration before now ("24h", "90m", "10s"). */
export function parseUntil(v: string, now = Date.now()): number {
  const d = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)$/.exec(v);
  if (d) {
    const unit = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1e3, m: 60e3, h: 3600e3 }[d[2] as 'h'];
    return now - Number(d[1]) * unit;
  }
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw badRequest(`failed to parse value as time or duration: "${v}"`, 'filters');
  return t;
}

export interface PruneFilters {
  dangling: boolean;
  until?: number;
  labels: string[];
  notLabels: string[];
}

export function pruneFilters(f: Map<string, string[]>): PruneFilters {
  for (const k of f.keys())
    if (!['dangling', 'until', 'label', 'label!'].includes(k)) throw badRequest(`invalid filter '${k}'`, 'filters');
  const d = f.get('dangling') ?? ['true'];
  let dangling = true;
  for (const v of d) {
    if (['true', '1'].includes(v.toLowerCase())) dangling = true;
    else if (['false', '0'].includes(v.toLowerCase())) dangling = false;
    else throw badRequest(`invalid filter 'dangling=${v}'`, 'filters');
  }
  const until = f.get('until');
  return {
    dangling,
    ...(until?.length ? { until: Math.min(...until.map((u) => parseUntil(u))) } : {}),
    labels: f.get('label') ?? [],
    notLabels: f.get('label!') ?? [],
  };
}

export async function pruneImages(
  client: ContainerdClient,
  snapshotter: string,
  all: ImageView[],
  inUse: Set<string>,
  f: PruneFilters,
): Promise<PruneReport> {
  const victims = all.filter((v) => {
    if (inUse.has(v.id)) return false;
    if (f.dangling && !v.names.every((n) => n.includes('@'))) return false;
    if (f.until !== undefined && (v.created?.getTime() ?? 0) >= f.until) return false;
    const labels = v.resolved.config.config?.Labels ?? {};
    if (!f.labels.every((l) => labelMatch(labels, l))) return false;
    if (f.notLabels.some((l) => labelMatch(labels, l))) return false;
    return true;
  });
  if (!victims.length) return { ImagesDeleted: null, SpaceReclaimed: 0 };
  const sizes = new Map((await client.content.list()).map((i) => [i.digest, Number(i.size)]));
  const snaps = client.snapshots(snapshotter);
  const snapUsage = new Map<string, number>();
  for (const v of victims)
    for (const c of v.resolved.chainIds)
      if (!snapUsage.has(c)) {
        const u = await snaps.usage(c).catch(() => undefined);
        if (u) snapUsage.set(c, Number(u.size));
      }
  const deleted: PruneReport['ImagesDeleted'] & object = [];
  for (const [i, v] of victims.entries()) {
    for (const n of v.names) {
      const last = i === victims.length - 1 && n === v.names.at(-1);
      await client.images.delete(n, last).catch((e: unknown) => {
        if (!isNotFound(e)) throw e;
      });
      if (!isDanglingName(n)) deleted.push({ Untagged: familiarString(parseRef(n)) });
    }
    deleted.push({ Deleted: v.id });
  }
  const left = new Set((await client.content.list()).map((i) => i.digest));
  let reclaimed = 0;
  for (const [d, s] of sizes) if (!left.has(d)) reclaimed += s;
  for (const [c, s] of snapUsage) {
    const gone = await snaps.stat(c).then(
      () => false,
      (e: unknown) => isNotFound(e),
    );
    if (gone) reclaimed += s;
  }
  return { ImagesDeleted: deleted, SpaceReclaimed: reclaimed };
}
