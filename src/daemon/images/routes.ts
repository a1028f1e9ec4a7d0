// /images/*: pull with Docker's progress stream, list with filters, inspect,
// history, tag, remove. Pulls run client-side into containerd
// (src/client/pull.ts); the credentials are the ones the client sent in
// X-Registry-Auth, never berthd's own.

import type { Writable } from 'node:stream';
import { pullIntoContainerd, type ClientPullProgress } from '../../client/pull.js';
import { isNotFound } from '../../client/errors.js';
import { isBerthError, messageOf } from '../../common/errors.js';
import { pushImage, familiarString, formatReference, type Credentials } from '../../image/storeless.js';
import type { ContainerManager } from '../containers/manager.js';
import { labelMatch, parseFilters } from '../containers/views.js';
import { badRequest, conflict, notFound } from '../http/errors.js';
import { boolParam, type Router } from '../http/router.js';
import { parseRef, type ImageService, type ImageView } from './service.js';
import { bar } from './progress.js';
import { archiveRoutes, importRoute } from './archive-routes.js';
import { isDanglingName, nameImage } from './unpack.js';
import { legacyImageFields } from './legacy-fields.js';

function registryAuth(header: string | string[] | undefined): Credentials | undefined {
  if (typeof header !== 'string' || !header) return undefined;
  try {
    const doc = JSON.parse(Buffer.from(header.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8')) as {
      username?: string;
      password?: string;
      identitytoken?: string;
    };
    if (!doc.username && !doc.identitytoken) return undefined;
    return {
      username: doc.username ?? '<token>',
      password: doc.password ?? '',
      ...(doc.identitytoken ? { identityToken: doc.identitytoken } : {}),
    };
  } catch {
    throw badRequest('invalid X-Registry-Auth header: not base64 JSON', 'X-Registry-Auth');
  }
}

/** One of our progress events as the JSON line `docker pull` renders. */
function progressLine(e: ClientPullProgress): Record<string, unknown> | undefined {
  switch (e.status) {
    case 'Resolving':
    case 'Resolved':
      return undefined;
    case 'Waiting':
      return { status: 'Pulling fs layer', progressDetail: {}, id: e.id };
    case 'Downloading':
      return {
        status: 'Downloading',
        progressDetail: { current: e.current, total: e.total },
        progress: bar(e.current ?? 0, e.total ?? 0),
        id: e.id,
      };
    default:
      return { status: e.status, progressDetail: {}, id: e.id };
  }
}

/**
 * A pull's layer lines as dockerd writes them: a layer already present is
 * "Already exists" and nothing more (no extract, no "Pull complete"), and a
 * pull that finds the image up to date writes no layer line at all. Lines are
 * held while every layer so far was present, until the pull downloads
 * something or ends: only then is it known whether the image was new.
 */
class LayerLines {
  private readonly present = new Set<string>();
  private held: Record<string, unknown>[] | undefined = [];

  constructor(private readonly send: (o: Record<string, unknown>) => void) {}

  add(e: ClientPullProgress): void {
    if (e.status === 'Already exists') this.present.add(e.id);
    else if ((e.status === 'Pull complete' || e.status === 'Extracting') && this.present.has(e.id)) return;
    const line = progressLine(e);
    if (!line) return;
    if (this.held && e.status !== 'Already exists') this.flush();
    if (this.held) this.held.push(line);
    else this.send(line);
  }

  /** True while every layer line so far was "Already exists". */
  nothingFetched(): boolean {
    return this.held !== undefined;
  }

  /** The pull is over: what was held goes out unless the image was already there. */
  end(known: boolean): void {
    if (known) this.held = undefined;
    else this.flush();
  }

  private flush(): void {
    for (const l of this.held ?? []) this.send(l);
    this.held = undefined;
  }
}

/** An image without a tag: only digest names, or only its dangling record. */
export function isDangling(v: ImageView): boolean {
  return v.names.every((n) => n.includes('@'));
}

/**
 * dockerd's layer accounting over a set of images: an image's SharedSize is
 * the size of its layers that another image holds too; LayersSize counts
 * every distinct layer once.
 */
export function layerSharing(all: ImageView[]): { sharedSize(v: ImageView): number; layersSize: number } {
  const holders = new Map<string, { size: number; images: number }>();
  for (const v of all)
    for (const [digest, size] of new Map(v.resolved.layers.map((l) => [l.digest, l.size]))) {
      const h = holders.get(digest) ?? { size, images: 0 };
      h.images++;
      holders.set(digest, h);
    }
  return {
    sharedSize: (v) =>
      [...new Set(v.resolved.layers.map((l) => l.digest))].reduce((n, d) => {
        const h = holders.get(d);
        return h && h.images > 1 ? n + h.size : n;
      }, 0),
    // an image's Size counts its config too: so does the total, or df's reclaimable goes below 0
    layersSize:
      [...holders.values()].reduce((n, h) => n + h.size, 0) +
      all.reduce((n, v) => n + v.resolved.manifest.config.size, 0),
  };
}

/** `sharedSize`: -1 when not computed (dockerd's list without shared-size=1). */
export function imageSummary(v: ImageView, containers: number, sharedSize = -1): Record<string, unknown> {
  const tags = v.names.filter((n) => !n.includes('@')).map((n) => familiarString(parseRef(n)));
  const digests = v.names
    .filter((n) => !isDanglingName(n))
    .map((n) => parseRef(n))
    .map((r) => `${familiarString({ ...r, tag: undefined, digest: undefined })}@${v.target.digest}`);
  return {
    Id: v.id,
    ParentId: '',
    RepoTags: tags,
    RepoDigests: [...new Set(digests)],
    Created: Math.floor((v.created?.getTime() ?? 0) / 1000),
    Size: v.size,
    SharedSize: sharedSize,
    VirtualSize: v.size,
    Labels: v.resolved.config.config?.Labels ?? {},
    Containers: containers,
  };
}

/** An image event's attributes as dockerd's LogImageEvent makes them: the image's labels, then its name. */
function imageEventAttrs(v: ImageView | undefined, name: string): Record<string, string> {
  return { ...(v?.resolved.config.config?.Labels ?? {}), name };
}

export function imageRoutes(router: Router, images: ImageService, m: ContainerManager): void {
  const { client, cfg, events, log } = m.s;

  router.add('POST', '/images/create', async (ctx) => {
    const from = ctx.query.get('fromImage');
    if (ctx.query.get('fromSrc')) return importRoute(ctx, images, m);
    if (!from) throw badRequest('either fromImage or fromSrc must be set', 'fromImage');
    const tag = ctx.query.get('tag');
    const refText = tag ? (/^sha256:/.test(tag) ? `${from}@${tag}` : `${from}:${tag}`) : from;
    const ref = parseRef(refText);
    const name = formatReference(ref);
    const creds = registryAuth(ctx.req.headers['x-registry-auth']);
    let out: Writable | undefined;
    const send = (o: Record<string, unknown>) => {
      if (!out) {
        out = ctx.stream(200, 'application/json');
        // dockerd names the repository's path, without its registry ("library/busybox")
        out.write(JSON.stringify({ status: `Pulling from ${ref.path}`, id: ref.tag ?? ref.digest }) + '\n');
      }
      out.write(JSON.stringify(o) + '\n');
    };
    const layers = new LayerLines(send);
    try {
      const res = await pullIntoContainerd(client, name, {
        snapshotter: cfg.snapshotter,
        platform: ctx.query.get('platform') || undefined,
        registryOptions: {
          insecureRegistries: cfg.insecureRegistries,
          ...(creds ? { credentials: async () => creds } : { credentials: async () => undefined }),
        },
        progress: (e) => layers.add(e),
      });
      images.forget(res.target.digest);
      // dockerd skips the layers of an image it had under another name, too
      const known =
        res.upToDate ||
        (layers.nothingFetched() &&
          ((await images.find(res.config.digest).catch(() => undefined))?.names.length ?? 0) > 1);
      layers.end(known);
      send({ status: `Digest: ${res.target.digest}` });
      send({
        status: `Status: ${res.upToDate ? 'Image is up to date' : 'Downloaded newer image'} for ${familiarString(ref)}`,
      });
      const pulled = await images.find(name, { allNames: false }).catch(() => undefined);
      events.emit('image', 'pull', familiarString(ref), imageEventAttrs(pulled, familiarString(ref)));
      log.info('image pulled', { image: res.config.digest, name });
      out!.end();
    } catch (e) {
      log.warn('pull failed', { name, error: messageOf(e) });
      if (!out) {
        // dockerd's words for a registry's 404 (its "pull access denied" is for a refused login)
        if (isBerthError(e) && e.code === 'not-found')
          throw notFound(`manifest for ${familiarString(ref)} not found: ${e.message}`);
        if (isBerthError(e) && e.code === 'permission-denied')
          throw notFound(
            `pull access denied for ${familiarString({ ...ref, tag: undefined, digest: undefined })}, repository does not exist or may require 'docker login': ${e.message}`,
          );
        throw e;
      }
      out.end(JSON.stringify({ errorDetail: { message: messageOf(e) }, error: messageOf(e) }) + '\n');
    }
  });

  router.add('GET', '/images/json', async (ctx) => {
    const f = parseFilters(ctx.query.get('filters'));
    for (const k of f.keys())
      if (!['dangling', 'label', 'reference', 'before', 'since', 'until'].includes(k))
        throw badRequest(`invalid filter '${k}'`, 'filters');
    const all = await images.list();
    let list = all;
    const dangling = f.get('dangling');
    if (dangling) {
      const want = dangling.includes('true') || dangling.includes('1');
      list = list.filter((v) => isDangling(v) === want);
    }
    for (const want of f.get('label') ?? [])
      list = list.filter((v) => labelMatch(v.resolved.config.config?.Labels ?? {}, want));
    const refs = f.get('reference');
    if (refs) {
      const pats = refs.map(
        (p) =>
          new RegExp(
            `^${p
              .replace(/[.+^${}()|[\]\\]/g, '\\$&')
              .replace(/\*/g, '[^/]*')
              .replace(/\?/g, '.')}$`,
          ),
      );
      list = list.filter((v) =>
        v.names.some((n) => {
          const fam = familiarString(parseRef(n));
          const repo = fam.replace(/[:@].*$/, '');
          return pats.some((p) => p.test(fam) || p.test(repo));
        }),
      );
    }
    const uses = (id: string) => m.all().filter((c) => c.Image === id).length;
    // API 1.42+: shared-size=1 asks for SharedSize, counted over every image (not only the listed ones)
    const sharing = ['1', 'true'].includes(ctx.query.get('shared-size') ?? '') ? layerSharing(all) : undefined;
    ctx.send(
      200,
      list.map((v) => imageSummary(v, uses(v.id), sharing ? sharing.sharedSize(v) : -1)),
    );
  });

  router.add('GET', '/images/{name:.+}/json', async (ctx) => {
    const v = await images.find(ctx.params.name!);
    const c = v.resolved.config;
    const cc = c.config ?? {};
    const s = imageSummary(v, 0);
    ctx.send(200, {
      Id: v.id,
      RepoTags: s.RepoTags,
      RepoDigests: s.RepoDigests,
      Parent: typeof c.parent === 'string' ? c.parent : '',
      Comment: '',
      Created: c.created ?? '',
      DockerVersion: '',
      Author: c.author ?? '',
      Config: {
        Hostname: '',
        Domainname: '',
        User: cc.User ?? '',
        Env: cc.Env ?? null,
        Cmd: cc.Cmd ?? null,
        Entrypoint: cc.Entrypoint ?? null,
        WorkingDir: cc.WorkingDir ?? '',
        Labels: cc.Labels ?? null,
        Volumes: cc.Volumes ?? null,
        ExposedPorts: cc.ExposedPorts ?? null,
        StopSignal: cc.StopSignal,
      },
      Architecture: c.architecture,
      Variant: c.variant,
      Os: c.os,
      Size: v.size,
      GraphDriver: { Name: cfg.snapshotter, Data: null },
      RootFS: { Type: 'layers', Layers: v.resolved.diffIds },
      Metadata: { LastTagTime: '0001-01-01T00:00:00Z' },
      Descriptor: { mediaType: v.target.mediaType, digest: v.target.digest, size: v.target.size },
      ...legacyImageFields(ctx.version, c, v.size),
    });
  });

  router.add('GET', '/images/{name:.+}/history', async (ctx) => {
    const v = await images.find(ctx.params.name!);
    const hist = v.resolved.config.history ?? [];
    let layer = v.resolved.layers.length;
    const rows = [...hist].reverse().map((h, i) => {
      const size = h.empty_layer ? 0 : (v.resolved.layers[--layer]?.size ?? 0);
      return {
        Id: i === 0 ? v.id : '<missing>',
        Created: h.created ? Math.floor(Date.parse(h.created) / 1000) : 0,
        CreatedBy: h.created_by ?? '',
        Tags: i === 0 ? imageSummary(v, 0).RepoTags : null,
        Size: size,
        Comment: h.comment ?? '',
      };
    });
    ctx.send(200, rows);
  });

  router.add('POST', '/images/{name:.+}/tag', async (ctx) => {
    const v = await images.find(ctx.params.name!);
    const repo = ctx.query.get('repo');
    if (!repo) throw badRequest('repository name must have at least one component', 'repo');
    const target = parseRef(ctx.query.get('tag') ? `${repo}:${ctx.query.get('tag')}` : repo);
    if (target.digest) throw badRequest('refusing to create a tag with a digest reference', 'repo');
    const name = formatReference(target);
    await nameImage(client, name, v.target);
    events.emit('image', 'tag', v.id, imageEventAttrs(v, familiarString(target)));
    ctx.send(201);
  });

  router.add('DELETE', '/images/{name:.+}', async (ctx) => {
    const ref = ctx.params.name!;
    const force = boolParam(ctx.query, 'force');
    const v = await images.find(ref);
    const users = m.all().filter((c) => c.Image === v.id);
    const byName = !/^(sha256:)?[a-f0-9]{4,64}$/.test(ref);
    // By name with other names left: only that name goes (untag).
    const names = byName && v.names.length > 1 ? [formatReference(parseRef(ref))] : v.names;
    if (!byName && v.names.length > 1 && !force) {
      throw conflict(
        `conflict: unable to delete ${v.id.slice(7, 19)} (must be forced) - image is referenced in multiple repositories`,
      );
    }
    if (names.length === v.names.length && users.length && !force) {
      const running = users.find((c) => c.State.Status === 'running');
      throw conflict(
        // dockerd's three wordings: by reference, by id with a running user, by id with a stopped one
        byName
          ? `conflict: unable to remove repository reference "${ref}" (must force) - container ${(running ?? users[0]!).Id.slice(0, 12)} is using its referenced image ${v.id.slice(7, 19)}`
          : running
            ? `conflict: unable to delete ${v.id.slice(7, 19)} (cannot be forced) - image is being used by running container ${running.Id.slice(0, 12)}`
            : `conflict: unable to delete ${v.id.slice(7, 19)} (must be forced) - image is being used by stopped container ${users[0]!.Id.slice(0, 12)}`,
      );
    }
    const out: Record<string, string>[] = [];
    const whole = names.length === v.names.length;
    for (const [i, n] of names.entries()) {
      try {
        // the image's last name: a synchronous gc, so its layers are gone when rmi answers, as with dockerd
        await client.images.delete(n, whole && i === names.length - 1);
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
      if (isDanglingName(n)) continue;
      out.push({ Untagged: familiarString(parseRef(n)) });
      // dockerd names the image by its id in untag and delete events
      events.emit('image', 'untag', v.id, imageEventAttrs(v, v.id));
    }
    if (whole) {
      out.push({ Deleted: v.id });
      // the image is gone by then: dockerd finds no labels for it
      events.emit('image', 'delete', v.id, { name: v.id });
    }
    images.forget(v.target.digest);
    ctx.send(200, out);
  });

  router.add('POST', '/images/{name:.+}/push', async (ctx) => {
    const tag = ctx.query.get('tag');
    const refText = tag ? `${ctx.params.name!}:${tag}` : ctx.params.name!;
    const ref = parseRef(refText);
    const v = await images.find(formatReference(ref));
    const creds = registryAuth(ctx.req.headers['x-registry-auth']);
    const out = ctx.stream(200, 'application/json');
    const line = (o: Record<string, unknown>) => out.write(JSON.stringify(o) + '\n');
    line({
      status: `The push refers to repository [${familiarString({ ...ref, tag: undefined, digest: undefined })}]`,
    });
    try {
      const res = await pushImage(ref, {
        store: images.store,
        target: v.target,
        registryOptions: { insecureRegistries: cfg.insecureRegistries, credentials: async () => creds },
        progress: (e) => {
          if (e.status === 'Pushing')
            line({
              status: 'Pushing',
              progressDetail: { current: e.current, total: e.total },
              progress: bar(e.current ?? 0, e.total ?? 0),
              id: e.id,
            });
          else if (e.status === 'Mounted')
            line({ status: `Mounted from ${e.from ?? ''}`, progressDetail: {}, id: e.id });
          else line({ status: e.status, progressDetail: {}, id: e.id });
        },
      });
      line({ status: `${ref.tag ?? 'latest'}: digest: ${res.digest} size: ${v.target.size}` });
      line({ progressDetail: {}, aux: { Tag: ref.tag ?? 'latest', Digest: res.digest, Size: v.target.size } });
      events.emit('image', 'push', familiarString(ref), imageEventAttrs(v, familiarString(ref)));
      log.info('image pushed', { image: v.id, name: formatReference(ref), digest: res.digest });
    } catch (e) {
      log.warn('push failed', { image: v.id, error: messageOf(e) });
      line({ errorDetail: { message: messageOf(e) }, error: messageOf(e) });
    }
    out.end();
  });

  archiveRoutes(router, images, m);
  router.add('GET', '/images/search', async () => {
    throw notFound('berthd does not search registries (docker search): no index service');
  });
}
