// /containers/* and /exec/*: each handler is argument handling plus one call
// into the manager, the runtime or the streams, answered with dockerd's
// statuses (201 create, 204 done, 304 already so, 404, 409).

import type { Router } from '../http/router.js';
import { boolParam } from '../http/router.js';
import { badRequest, HttpError, wrapped } from '../http/errors.js';
import type { ContainerManager } from './manager.js';
import { cgroupV2Only, parseSignal, type Runtime } from './runtime.js';
import { dockerRuntimeName } from './inspect-defaults.js';
import { attach, logs } from './streams.js';
import { archiveGet, archiveHead, archivePut, exportRootfs } from './archive.js';
import { stats } from './stats.js';
import { filterContainers, inspectView, parseFilters, summaryView } from './views.js';
import type { Execs } from './exec.js';
import { moreContainerRoutes } from './routes-more.js';
import { top } from './top.js';
import { containerSizes } from './sizes.js';

function intParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  if (!/^-?\d+$/.test(v)) throw badRequest(`invalid value for "${name}": ${v}`, name);
  return Number(v);
}

/**
 * dockerd's CheckForJSON on a body it decodes: a Content-Type other than
 * application/json (parameters allowed) is refused; none is fine only without a body.
 */
function checkForJson(ct: string | undefined, len: string | undefined): void {
  if (!ct && (!len || len === '0')) return;
  const type = (ct ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json')
    throw badRequest(`Content-Type specified (${ct ?? ''}) must be 'application/json'`, 'Content-Type');
}

export function containerRoutes(router: Router, m: ContainerManager, rt: Runtime, execs: Execs): void {
  const snapshotter = m.s.cfg.snapshotter;

  router.add('POST', '/containers/create', async (ctx) => {
    checkForJson(ctx.req.headers['content-type'], ctx.req.headers['content-length']);
    const res = await m.create(await ctx.json(), ctx.query.get('name'), ctx.query.get('platform'));
    ctx.send(201, { Id: res.id, Warnings: res.warnings });
  });

  router.add('GET', '/containers/json', async (ctx) => {
    const f = parseFilters(ctx.query.get('filters'));
    let list = m.all().filter((r) => r.State.Status !== 'removing');
    if (!boolParam(ctx.query, 'all') && !f.has('status') && !f.has('exited'))
      list = list.filter((r) => rt.running(r) || r.State.Status === 'restarting');
    list = filterContainers(list, f, (ref) => m.get(ref)).sort((a, b) => Date.parse(b.Created) - Date.parse(a.Created));
    const limit = intParam(ctx.query, 'limit');
    if (limit && limit > 0) list = list.slice(0, limit);
    // docker ps -s: the writable layer's size and, with the image's, the container's whole (virtual) size
    const sizes = boolParam(ctx.query, 'size') ? await containerSizes(m, list) : undefined;
    ctx.send(
      200,
      list.map((r, i) => ({ ...summaryView(r), ...m.s.nets.summary(r, rt.running(r)), ...sizes?.[i] })),
    );
  });

  router.add('GET', '/containers/{id}/json', async (ctx) => {
    const r = m.get(ctx.params.id!);
    const defaults = { runtime: dockerRuntimeName(m.s.cfg.runtime), cgroupV2: cgroupV2Only() };
    const view = inspectView(r, snapshotter, defaults, execs.pendingOf(r.Id));
    view.NetworkSettings = m.s.nets.settings(r, rt.running(r));
    if (boolParam(ctx.query, 'size')) {
      const u = await m.s.client
        .snapshots(snapshotter)
        .usage(r.Id)
        .catch(() => ({ size: 0 }));
      view.SizeRw = u.size;
    }
    ctx.send(200, view);
  });

  router.add('POST', '/containers/{id}/start', async (ctx) => {
    const r = m.get(ctx.params.id!);
    // dockerd looks for the checkpoint on disk; without experimental mode none was ever made.
    const cp = ctx.query.get('checkpoint');
    if (cp) throw new HttpError(500, `checkpoint ${cp} does not exist for container ${r.Name.slice(1)}`);
    await rt.start(r);
    ctx.send(204);
  });

  router.add('POST', '/containers/{id}/stop', async (ctx) => {
    const r = m.get(ctx.params.id!);
    await rt.stop(r, intParam(ctx.query, 't'), ctx.query.get('signal') ?? undefined);
    ctx.send(204);
  });

  router.add('POST', '/containers/{id}/restart', async (ctx) => {
    const r = m.get(ctx.params.id!);
    if (rt.running(r)) await rt.stop(r, intParam(ctx.query, 't'), ctx.query.get('signal') ?? undefined);
    await rt.start(r);
    m.s.events.emit('container', 'restart', r.Id, { image: r.ImageRef, name: r.Name.slice(1) });
    ctx.send(204);
  });

  router.add('POST', '/containers/{id}/kill', async (ctx) => {
    const ref = ctx.params.id!;
    const signal = parseSignal(ctx.query.get('signal'), 'SIGKILL');
    try {
      await rt.kill(m.get(ref), signal);
    } catch (e) {
      throw wrapped(`cannot kill container: ${ref}`, e);
    }
    ctx.send(204);
  });

  router.add('POST', '/containers/{id}/pause', async (ctx) => {
    await rt.pause(m.get(ctx.params.id!));
    ctx.send(204);
  });

  router.add('POST', '/containers/{id}/unpause', async (ctx) => {
    await rt.unpause(m.get(ctx.params.id!));
    ctx.send(204);
  });

  router.add('POST', '/containers/{id}/rename', async (ctx) => {
    const name = ctx.query.get('name');
    if (!name) throw badRequest('Neither old nor new names may be empty', 'name');
    await m.rename(m.get(ctx.params.id!), name);
    ctx.send(204);
  });

  router.add('POST', '/containers/{id}/wait', async (ctx) => {
    const r = m.get(ctx.params.id!);
    const cond = ctx.query.get('condition') || 'not-running';
    if (!['not-running', 'next-exit', 'removed'].includes(cond))
      throw badRequest(`invalid condition: "${cond}"`, 'condition');
    let code: Promise<number>;
    if (cond === 'removed') code = rt.removed(r);
    else if (cond === 'next-exit' || rt.running(r) || r.State.Status === 'restarting') code = rt.nextExit(r);
    else code = Promise.resolve(r.State.ExitCode);
    // dockerd sends the headers at once: the CLI starts the container only after it has them.
    const out = ctx.stream(200, 'application/json');
    const n = await code;
    // dockerd answers a wait for removal without the start's error (docker
    // run --rm of a missing command would log "Error waiting for container").
    const error = cond !== 'removed' && r.State.Error ? { Message: r.State.Error } : null;
    out.end(JSON.stringify({ StatusCode: n, Error: error }) + '\n');
  });

  router.add('DELETE', '/containers/{id}', async (ctx) => {
    const r = m.get(ctx.params.id!);
    if (boolParam(ctx.query, 'link')) throw badRequest('links are not supported by berthd', 'link');
    await rt.remove(r, { force: boolParam(ctx.query, 'force'), volumes: boolParam(ctx.query, 'v') });
    ctx.send(204);
  });

  router.add('HEAD', '/containers/{id}/archive', async (ctx) => archiveHead(ctx, m.get(ctx.params.id!), rt));
  router.add('GET', '/containers/{id}/archive', async (ctx) => archiveGet(ctx, m.get(ctx.params.id!), rt));
  router.add('PUT', '/containers/{id}/archive', async (ctx) => archivePut(ctx, m.get(ctx.params.id!), rt));
  router.add('GET', '/containers/{id}/stats', async (ctx) => stats(ctx, m.get(ctx.params.id!), rt));
  router.add('GET', '/containers/{id}/export', async (ctx) => exportRootfs(ctx, m.get(ctx.params.id!), rt));
  router.add('POST', '/containers/{id}/attach', async (ctx) => attach(ctx, m.get(ctx.params.id!), rt));
  router.add('GET', '/containers/{id}/logs', async (ctx) => logs(ctx, m.get(ctx.params.id!), rt));

  router.add('POST', '/containers/{id}/resize', async (ctx) => {
    const r = m.get(ctx.params.id!);
    if (!rt.running(r)) throw new HttpError(409, `Container ${r.Id} is not running`);
    await m.s.client.tasks.resize(r.Id, '', Number(ctx.query.get('w') ?? 0), Number(ctx.query.get('h') ?? 0));
    ctx.send(200);
  });

  router.add('GET', '/containers/{id}/top', async (ctx) =>
    ctx.send(200, await top(rt, m.get(ctx.params.id!), ctx.query.get('ps_args'))),
  );

  router.add('POST', '/containers/{id}/exec', async (ctx) => {
    const id = await execs.create(m.get(ctx.params.id!), await ctx.json());
    ctx.send(201, { Id: id });
  });
  router.add('POST', '/exec/{id}/start', async (ctx) => execs.start(ctx, ctx.params.id!, await ctx.json()));
  router.add('GET', '/exec/{id}/json', async (ctx) => ctx.send(200, execs.inspect(ctx.params.id!)));
  router.add('POST', '/exec/{id}/resize', async (ctx) => {
    await execs.resize(ctx.params.id!, ctx.query);
    ctx.send(200);
  });

  moreContainerRoutes(router, m, rt);
}
