// The container endpoints that came after the first set (./routes.ts):
// update, changes, prune with dockerd's filters (until, label, label!), and
// checkpoints, which dockerd serves only in experimental mode (with CRIU):
// berthd answers as a dockerd without it, 501 with dockerd's message.

import type { Router } from '../http/router.js';
import { badRequest, HttpError } from '../http/errors.js';
import type { ContainerManager } from './manager.js';
import type { Runtime } from './runtime.js';
import { labelMatch, parseFilters } from './views.js';
import { updateContainer } from './update.js';
import { containerChanges } from './changes.js';

const EXPERIMENTAL =
  'This experimental feature is disabled by default. Start the Docker daemon in experimental mode in order to enable it.';

/** Docker's timestamps in filters: unix seconds (with fraction), RFC 3339, or a duration back from now (10m, 1h30m). */
export function timestampOf(v: string, now = Date.now()): number {
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const dur = /^(\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$/.test(v);
  if (dur) {
    let ms = 0;
    const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
    for (const m of v.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) ms += Number(m[1]) * unit[m[2]!]!;
    return now - ms;
  }
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw badRequest(`failed to parse value as time or duration: "${v}"`, 'filters');
  return t;
}

export function moreContainerRoutes(router: Router, m: ContainerManager, rt: Runtime): void {
  router.add('POST', '/containers/{id}/update', async (ctx) => {
    const r = m.get(ctx.params.id!);
    ctx.send(200, await updateContainer(rt, r, await ctx.json()));
  });

  router.add('GET', '/containers/{id}/changes', async (ctx) => {
    const r = m.get(ctx.params.id!);
    const changes = await containerChanges(rt, r);
    ctx.send(200, changes.length ? changes : null);
  });

  for (const [method, path] of [
    ['GET', '/containers/{id}/checkpoints'],
    ['POST', '/containers/{id}/checkpoints'],
    ['DELETE', '/containers/{id}/checkpoints/{checkpoint}'],
  ] as const) {
    router.add(method, path, async () => {
      throw new HttpError(501, EXPERIMENTAL);
    });
  }

  router.add('POST', '/containers/prune', async (ctx) => {
    const f = parseFilters(ctx.query.get('filters'));
    for (const k of f.keys())
      if (!['label', 'label!', 'until'].includes(k)) throw badRequest(`invalid filter '${k}'`, 'filters');
    const until = f.get('until')?.map((v) => timestampOf(v));
    if (until && until.length > 1) throw badRequest('more than one until filter specified', 'filters');
    const gone: string[] = [];
    let reclaimed = 0;
    const snaps = m.s.client.snapshots(m.s.cfg.snapshotter);
    for (const r of m.all()) {
      if (!['exited', 'created', 'dead'].includes(r.State.Status)) continue;
      const labels = r.Config.Labels ?? {};
      if (!(f.get('label') ?? []).every((v) => labelMatch(labels, v))) continue;
      if ((f.get('label!') ?? []).some((v) => labelMatch(labels, v))) continue;
      if (until && !(Date.parse(r.Created) < until[0]!)) continue;
      const size = (await snaps.usage(r.Id).catch(() => ({ size: 0 }))).size;
      await rt.remove(r, { force: false, volumes: false });
      gone.push(r.Id);
      reclaimed += size;
    }
    m.s.events.emit('container', 'prune', '', { reclaimed: String(reclaimed) });
    ctx.send(200, { ContainersDeleted: gone.length ? gone : null, SpaceReclaimed: reclaimed });
  });
}
