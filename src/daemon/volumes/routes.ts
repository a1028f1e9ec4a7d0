// /volumes/* (the local driver). /networks/* are in ../networking/routes.ts.

import { z } from 'zod';
import { compareVersions, type Router } from '../http/router.js';
import { badRequest, notFound } from '../http/errors.js';
import type { ContainerManager } from '../containers/manager.js';
import { filterMatch, labelMatch, parseFilters } from '../containers/views.js';
import type { Volume } from './store.js';

const CreateBody = z.looseObject({
  Name: z.string().optional(),
  Driver: z.string().optional(),
  DriverOpts: z.record(z.string(), z.string()).nullish(),
  Labels: z.record(z.string(), z.string()).nullish(),
});

/** The API's view of a volume (no record-only fields); `usage` for /system/df. */
export function volumeView(v: Volume, usage?: { Size: number; RefCount: number }): Record<string, unknown> {
  const { Anonymous, ...rest } = v;
  void Anonymous;
  return { ...rest, ...(usage ? { UsageData: usage } : {}) };
}
const view = (v: Volume) => volumeView(v);

export function volumeRoutes(router: Router, m: ContainerManager): void {
  const vols = m.s.volumes;
  router.add('POST', '/volumes/create', async (ctx) => {
    const p = CreateBody.safeParse((await ctx.json()) ?? {});
    if (!p.success)
      throw badRequest(`invalid volume config: ${p.error.issues[0]!.path.join('.')}: ${p.error.issues[0]!.message}`);
    if (p.data.Driver && p.data.Driver !== 'local')
      throw notFound(
        `create ${p.data.Name ?? ''}: error looking up volume plugin ${p.data.Driver}: plugin "${p.data.Driver}" not found`,
      );
    const { volume, created } = await vols.create(p.data.Name || undefined, {
      labels: p.data.Labels ?? {},
      options: p.data.DriverOpts ?? {},
      anonymous: false,
    });
    if (created) m.s.events.emit('volume', 'create', volume.Name, { driver: 'local' });
    ctx.send(201, view(volume));
  });
  router.add('GET', '/volumes', async (ctx) => {
    const f = parseFilters(ctx.query.get('filters'));
    for (const k of f.keys())
      if (!['name', 'label', 'dangling', 'driver'].includes(k)) throw badRequest(`invalid filter '${k}'`, 'filters');
    let list = await vols.list();
    if (f.has('name')) list = list.filter((v) => f.get('name')!.some((n) => filterMatch(n, v.Name)));
    for (const l of f.get('label') ?? []) list = list.filter((v) => labelMatch(v.Labels, l));
    if (f.has('dangling')) {
      const want = f.get('dangling')!.includes('true') || f.get('dangling')!.includes('1');
      list = list.filter((v) => (m.volumeUsers(v.Name).length === 0) === want);
    }
    ctx.send(200, { Volumes: list.map((v) => view(v)), Warnings: [] });
  });
  router.add('GET', '/volumes/{name}', async (ctx) => ctx.send(200, view(await vols.get(ctx.params.name!))));
  router.add('DELETE', '/volumes/{name}', async (ctx) => {
    const name = ctx.params.name!;
    await vols.remove(name, m.volumeUsers(name));
    m.s.events.emit('volume', 'destroy', name, { driver: 'local' });
    ctx.send(204);
  });
  router.add('POST', '/volumes/prune', async (ctx) => {
    const f = parseFilters(ctx.query.get('filters'));
    // Before API 1.42 a prune took named volumes too (docker-py and older CLIs count on it).
    const all =
      compareVersions(ctx.version, '1.42') < 0 || f.get('all')?.includes('true') || f.get('all')?.includes('1');
    const gone: string[] = [];
    let reclaimed = 0;
    for (const v of await vols.list()) {
      if (m.volumeUsers(v.Name).length) continue;
      if (!all && !v.Anonymous) continue; // API >= 1.42: only anonymous volumes unless all=true
      if (!(f.get('label') ?? []).every((l) => labelMatch(v.Labels, l))) continue;
      const size = await vols.size(v.Name);
      await vols.remove(v.Name, []);
      m.s.events.emit('volume', 'destroy', v.Name, { driver: 'local' });
      gone.push(v.Name);
      if (size > 0) reclaimed += size;
    }
    ctx.send(200, { VolumesDeleted: gone, SpaceReclaimed: reclaimed });
  });
}
