// The image endpoints that move whole images in and out of containerd:
// save (GET /images/get, /images/{name}/get), load (POST /images/load),
// import (POST /images/create?fromSrc=), commit (POST /commit), prune
// (POST /images/prune), and /build, which berthd answers as dockerd does
// when the builder asked for is not there.

import type { Writable } from 'node:stream';
import { messageOf } from '../../common/errors.js';
import {
  familiarString,
  parseReference,
  repositoryName,
  formatReference,
  type Reference,
} from '../../image/storeless.js';
import type { ContainerManager } from '../containers/manager.js';
import { badRequest, HttpError, notFound } from '../http/errors.js';
import { boolParam, type Ctx, type Router } from '../http/router.js';
import { loadImages } from './load.js';
import { commitContainer } from './commit.js';
import { fetchSource, importTarball } from './import.js';
import { pruneFilters, pruneImages } from './prune.js';
import { parseFilters } from '../containers/views.js';
import { hostPlatform, parsePlatform } from '../../image/storeless.js';
import type { ContainerConfig } from '../../image/storeless.js';
import { bar } from './progress.js';
import { saveImages, type SaveItem } from './save.js';
import { parseRef, type ImageService } from './service.js';
import { isDanglingName } from './unpack.js';

const ID_LIKE = /^(sha256:)?[a-f0-9]{4,64}$/;

/** What `docker save NAME...` names: a tag, an id, or a repository (all its tags), as dockerd resolves them. */
async function saveItems(images: ImageService, names: string[]): Promise<SaveItem[]> {
  const items: SaveItem[] = [];
  for (const name of names) {
    let ref: Reference | undefined;
    try {
      ref = parseReference(name);
    } catch {
      ref = undefined;
    }
    if (ref && !ref.tag && !ref.digest && !ID_LIKE.test(name)) {
      const repo = repositoryName(ref);
      const hits: SaveItem[] = [];
      for (const v of await images.list())
        for (const n of v.names) {
          if (isDanglingName(n)) continue;
          const r = parseRef(n);
          if (repositoryName(r) === repo && r.tag) hits.push({ view: v, name: formatReference(r) });
        }
      if (!hits.length) throw notFound(`No such image: ${name}`);
      items.push(...hits);
      continue;
    }
    const view = await images.find(name);
    items.push({ view, ...(ref?.tag ? { name: formatReference(ref) } : {}) });
  }
  return items;
}

/** A JSON-lines answer started by its first line, so an error before it still gets its HTTP status. */
function jsonLines(ctx: Ctx): {
  line(o: Record<string, unknown>): void;
  /** The error as the stream's last line; before any line, an HTTP error unless `inStream`. */
  fail(e: unknown, inStream?: boolean): void;
  end(): void;
  started(): boolean;
} {
  let out: Writable | undefined;
  return {
    line(o) {
      out ??= ctx.stream(200, 'application/json');
      out.write(JSON.stringify(o) + '\n');
    },
    fail(e, inStream = false) {
      if (!out && !inStream) throw e;
      out ??= ctx.stream(200, 'application/json');
      out.end(JSON.stringify({ errorDetail: { message: messageOf(e) }, error: messageOf(e) }) + '\n');
    },
    end() {
      out ??= ctx.stream(200, 'application/json');
      out.end();
    },
    started: () => out !== undefined,
  };
}

/** repo (which may carry the tag, as the docker CLI sends it) and tag as one full name; none without a repo. */
function targetName(ctx: Ctx): string | undefined {
  const repo = ctx.query.get('repo');
  if (!repo) return undefined;
  const tag = ctx.query.get('tag');
  const r = parseRef(repo);
  if (r.digest) throw badRequest('refusing to create a tag with a digest reference', 'repo');
  return formatReference(tag ? { ...r, tag } : r);
}

/** POST /images/create?fromSrc=- (the body) or =URL: docker import. */
export async function importRoute(ctx: Ctx, images: ImageService, m: ContainerManager): Promise<void> {
  const { client, cfg, events, log } = m.s;
  const src = ctx.query.get('fromSrc')!;
  const name = targetName(ctx);
  let platform = hostPlatform();
  const p = ctx.query.get('platform');
  if (p) {
    try {
      platform = parsePlatform(p);
    } catch (e) {
      throw badRequest(`invalid platform "${p}": ${messageOf(e)}`, 'platform');
    }
  }
  const body = ctx.body();
  const out = jsonLines(ctx);
  try {
    let input = body;
    if (src !== '-') {
      body.resume();
      out.line({ status: `Downloading from ${src}`, progressDetail: {} });
      input = await fetchSource(src);
    }
    const r = await importTarball(input, {
      client,
      snapshotter: cfg.snapshotter,
      source: src,
      changes: ctx.query.getAll('changes'),
      message: ctx.query.get('message') ?? undefined,
      platform,
      ...(name ? { name } : {}),
    });
    images.forget(r.target);
    out.line({ status: r.id });
    out.end();
    events.emit('image', 'import', r.id, {});
    log.info('image imported', { image: r.id, source: src, name });
  } catch (e) {
    body.resume();
    log.warn('import failed', { source: src, error: messageOf(e) });
    out.fail(e);
  }
}

/** save and load work on the host's platform; another one is refused, not silently ignored. */
function hostPlatformOnly(ctx: Ctx): void {
  const p = ctx.query.get('platform');
  if (!p) return;
  let want;
  try {
    want = parsePlatform(p);
  } catch (e) {
    throw badRequest(`invalid platform "${p}": ${messageOf(e)}`, 'platform');
  }
  const host = hostPlatform();
  if (want.os !== host.os || want.architecture !== host.architecture || (want.variant || '') !== (host.variant || ''))
    throw new HttpError(501, `berthd saves and loads images for the host's platform only, not ${p}`);
}

export function archiveRoutes(router: Router, images: ImageService, m: ContainerManager): void {
  const { client, cfg, events, log } = m.s;

  const save = async (ctx: Ctx, names: string[]) => {
    if (!names.length) throw badRequest('no images named', 'names');
    hostPlatformOnly(ctx);
    const items = await saveItems(images, names);
    const out = ctx.stream(200, 'application/x-tar');
    try {
      await saveImages(client, items, out);
      for (const it of items) events.emit('image', 'save', it.view.id, {});
      log.info('images saved', { images: [...new Set(items.map((i) => i.view.id))] });
    } catch (e) {
      // The tar has begun: all that can be said now is a cut connection.
      log.warn('save failed', { error: messageOf(e) });
      out.destroy(e as Error);
    }
  };
  router.add('GET', '/images/get', (ctx) => save(ctx, ctx.query.getAll('names')));
  router.add('GET', '/images/{name:.+}/get', (ctx) => save(ctx, [ctx.params.name!]));

  router.add('POST', '/images/load', async (ctx) => {
    hostPlatformOnly(ctx);
    const quiet = boolParam(ctx.query, 'quiet');
    const out = jsonLines(ctx);
    const body = ctx.body();
    try {
      const loaded = await loadImages(body, {
        client,
        snapshotter: cfg.snapshotter,
        progress: quiet
          ? undefined
          : (s) => {
              if (s.stage !== 'done') return;
              out.line({
                status: 'Loading layer',
                progressDetail: { current: s.layer.size, total: s.layer.size },
                progress: bar(s.layer.size, s.layer.size),
                id: s.layer.digest.slice(7, 19),
              });
            },
      });
      for (const l of loaded) {
        images.forget(l.target.digest);
        if (l.names.length === 0) out.line({ stream: `Loaded image ID: ${l.id}\n` });
        for (const n of l.names) out.line({ stream: `Loaded image: ${n}\n` });
        events.emit('image', 'load', l.id, {});
        log.info('image loaded', { image: l.id, names: l.names, target: l.target.digest });
      }
      out.end();
    } catch (e) {
      // What the client still sends is read and dropped, so that it reads the answer.
      body.resume();
      log.warn('load failed', { error: messageOf(e) });
      // dockerd answers a load 200 whatever happens, its error as the stream's line (docker-py's
      // images.load raises ImageLoadError from it; the docker CLI prints it and exits 1).
      out.fail(e, true);
    }
  });

  router.add('POST', '/commit', async (ctx) => {
    const cid = ctx.query.get('container');
    if (!cid) throw badRequest('container is required', 'container');
    const r = m.get(cid);
    const config = (await ctx.json<ContainerConfig | null>()) ?? undefined;
    if (config !== undefined && (typeof config !== 'object' || Array.isArray(config)))
      throw badRequest('the body must be a container config object', 'body');
    const name = targetName(ctx);
    const image = await images.find(r.Image);
    const res = await commitContainer({
      client,
      snapshotter: cfg.snapshotter,
      container: r,
      image,
      pause: ctx.query.get('pause') === null ? true : boolParam(ctx.query, 'pause'),
      changes: ctx.query.getAll('changes'),
      ...(config ? { config } : {}),
      author: ctx.query.get('author') ?? undefined,
      comment: ctx.query.get('comment') ?? undefined,
      ...(name ? { name } : {}),
    });
    images.forget(res.target);
    // dockerd: the new name's tag event (the image's labels and the name), then the container's commit
    const ref = name ? familiarString(parseRef(name)) : '';
    if (name) {
      const made = await images.find(res.id).catch(() => undefined);
      events.emit('image', 'tag', res.id, { ...(made?.resolved.config.config?.Labels ?? {}), name: ref });
    }
    events.emit('container', 'commit', r.Id, {
      comment: ctx.query.get('comment') ?? '',
      image: r.ImageRef,
      imageID: res.id,
      imageRef: ref,
      name: r.Name.slice(1),
    });
    log.info('container committed', { container: r.Id, image: res.id, name });
    ctx.send(201, { Id: res.id });
  });

  router.add('POST', '/images/prune', async (ctx) => {
    const f = pruneFilters(parseFilters(ctx.query.get('filters')));
    const inUse = new Set(m.all().map((c) => c.Image));
    const report = await pruneImages(client, cfg.snapshotter, await images.list(), inUse, f);
    for (const d of report.ImagesDeleted ?? []) if ('Deleted' in d) events.emit('image', 'delete', d.Deleted, {});
    log.info('images pruned', { deleted: report.ImagesDeleted?.length ?? 0, reclaimed: report.SpaceReclaimed });
    ctx.send(200, report);
  });

  router.add('POST', '/build', async (ctx) => {
    ctx.body().resume();
    const version = ctx.query.get('version') ?? '';
    // dockerd's words when BuildKit is asked for and its builder is the classic one.
    if (version === '2') throw badRequest('buildkit is not enabled on daemon', 'version');
    if (version !== '' && version !== '1') throw badRequest(`invalid version ${version}`, 'version');
    throw new HttpError(501, 'berthd has no image builder: docker build is not available (not implemented yet)');
  });

  // Without a builder there is no build cache (/system/df lists none): docker system prune and
  // docker builder prune find nothing to delete, as on a dockerd that never built.
  router.add('POST', '/build/prune', async (ctx) => {
    ctx.send(200, { CachesDeleted: null, SpaceReclaimed: 0 });
  });
}
