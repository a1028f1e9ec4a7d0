// berth-ctr --address images pull|push|ls|rm|tag|inspect: the engine's
// images and content services; pull and push run client-side as ctr's do
// (src/client's pullIntoContainerd: content Write under a lease, diff Apply,
// snapshots), so the registry is reached from here, not from the engine.

import { BerthError, messageOf } from '../../../common/errors.js';
import { isAlreadyExists, pullIntoContainerd, unpackInContainerd } from '../../../client/index.js';
import {
  familiarString,
  formatPlatform,
  imageSize,
  normalizeName,
  parseDockerRef,
  parseReference,
  pushImage,
  readParsed,
  resolveImage,
} from '../../../image/storeless.js';
import { bool, need, parseArgs, str } from '../args.js';
import { platformFlag, platformsOf } from '../describe.js';
import { humanSize, json, labelsString, table } from '../format.js';
import { Progress } from '../progress.js';
import { concurrencyFlag, credentialsFlag, hostFlags, registryOptions } from '../registry.js';
import type { Verb } from '../verbs.js';
import { dateOrEpoch, descriptorOf, findImage, notServed, remoteStore, type RemoteContext } from './context.js';

async function pull(ctx: RemoteContext, argv: string[]): Promise<number> {
  const p = parseArgs(argv, {
    platform: { kind: 'string' },
    'no-unpack': { kind: 'bool' },
    concurrency: { kind: 'string' },
    user: { kind: 'string', alias: 'u' },
    quiet: { kind: 'bool', alias: 'q' },
    ...hostFlags,
  });
  need(p, 1, 'berth-ctr images pull [--platform P] [--plain-http] [--no-unpack] NAME');
  const ref = parseDockerRef(p.args[0]!);
  const opts = registryOptions(p, ref.domain);
  const credentials = credentialsFlag(p);
  if (credentials) opts.credentials = credentials;
  const quiet = bool(p.flags, 'quiet');
  const progress = quiet ? undefined : new Progress((s) => ctx.io.out(s), ctx.io.tty);
  const unpack = !bool(p.flags, 'no-unpack');
  const platform = str(p.flags, 'platform');
  const r = await pullIntoContainerd(ctx.client, p.args[0]!, {
    snapshotter: ctx.snapshotter,
    platform: platform === undefined ? undefined : formatPlatform(platformFlag(platform)),
    requirePlatform: platform !== undefined,
    unpack,
    concurrency: concurrencyFlag(p),
    registryOptions: opts,
    progress: (e) =>
      progress?.update(
        e.digest ?? e.id,
        e.status,
        'current' in e ? e.current : undefined,
        'total' in e ? e.total : undefined,
      ),
  });
  progress?.done();
  if (unpack && !quiet) ctx.io.out(`unpacked to snapshot ${r.topChainId || '(no layers)'} (${ctx.snapshotter})\n`);
  ctx.io.out(`Digest: ${r.target.digest}\n`);
  ctx.io.out(`${r.name}\n`);
  return 0;
}

async function push(ctx: RemoteContext, argv: string[]): Promise<number> {
  const p = parseArgs(argv, {
    'chunk-size': { kind: 'string' },
    concurrency: { kind: 'string' },
    user: { kind: 'string', alias: 'u' },
    quiet: { kind: 'bool', alias: 'q' },
    ...hostFlags,
  });
  need(p, 1, 'berth-ctr images push [--plain-http] NAME [REMOTE]');
  const local = await findImage(ctx, p.args[0]!);
  const remote = parseDockerRef(p.args[1] ?? local.name);
  const opts = registryOptions(p, remote.domain);
  const credentials = credentialsFlag(p);
  if (credentials) opts.credentials = credentials;
  let chunkSize: number | undefined;
  if (str(p.flags, 'chunk-size') !== undefined) {
    chunkSize = Number(str(p.flags, 'chunk-size'));
    if (!Number.isInteger(chunkSize) || chunkSize < 1)
      throw new BerthError('berth-ctr', 'invalid-argument', '--chunk-size must be a positive number of bytes', {
        field: 'chunk-size',
      });
  }
  const quiet = bool(p.flags, 'quiet');
  const progress = new Progress((s) => ctx.io.out(s), ctx.io.tty);
  const r = await pushImage(remote, {
    store: remoteStore(ctx),
    target: descriptorOf(local.target),
    concurrency: concurrencyFlag(p),
    chunkSize,
    registryOptions: opts,
    progress: quiet ? undefined : (e) => progress.update(e.digest, e.status, e.current, e.total),
  });
  progress.done();
  ctx.io.out(`${r.name}: digest: ${r.digest}\n`);
  return 0;
}

async function ls(ctx: RemoteContext, argv: string[]): Promise<number> {
  const p = parseArgs(argv, { quiet: { kind: 'bool', alias: 'q' }, json: { kind: 'bool' } });
  const list = (await ctx.client.images.list()).sort((a, b) => a.name.localeCompare(b.name));
  if (bool(p.flags, 'quiet')) {
    for (const i of list) ctx.io.out(i.name + '\n');
    return 0;
  }
  const store = remoteStore(ctx);
  const rows: string[][] = [];
  const docs: unknown[] = [];
  for (const i of list) {
    const target = descriptorOf(i.target);
    const size = await imageSize(store, target);
    const plats = await platformsOf(store, target);
    rows.push([
      i.name,
      target.mediaType,
      target.digest,
      humanSize(size),
      plats.join(',') || '-',
      labelsString(i.labels),
    ]);
    docs.push({
      name: i.name,
      target,
      size,
      platforms: plats,
      labels: i.labels,
      createdAt: dateOrEpoch(i.created_at),
      updatedAt: dateOrEpoch(i.updated_at),
    });
  }
  ctx.io.out(
    bool(p.flags, 'json') ? json(docs) : table(['REF', 'TYPE', 'DIGEST', 'SIZE', 'PLATFORMS', 'LABELS'], rows),
  );
  return 0;
}

async function rm(ctx: RemoteContext, argv: string[]): Promise<number> {
  const p = parseArgs(argv, { sync: { kind: 'bool' } });
  need(p, 1, 'berth-ctr images rm [--sync] NAME...');
  let status = 0;
  for (const n of p.args) {
    try {
      const r = await findImage(ctx, n);
      // --sync: the engine collects what the image held before answering, as `ctr images rm --sync`.
      await ctx.client.images.delete(r.name, bool(p.flags, 'sync'));
      ctx.io.out(`${r.name}\n`);
    } catch (e) {
      ctx.io.err(`berth-ctr: ${messageOf(e)}\n`);
      status = 1;
    }
  }
  return status;
}

async function tag(ctx: RemoteContext, argv: string[]): Promise<number> {
  const p = parseArgs(argv, {});
  need(p, 2, 'berth-ctr images tag SOURCE TARGET...');
  const [srcName, ...targets] = p.args as [string, ...string[]];
  const src = await findImage(ctx, srcName);
  for (const t of targets) {
    const name = normalizeName(t);
    const image = { name, target: src.target ?? undefined, labels: src.labels };
    try {
      await ctx.client.images.create(image);
    } catch (e) {
      // As the daemonless store's tag: an existing name is pointed at the source's target.
      if (!isAlreadyExists(e)) throw e;
      await ctx.client.images.update(image, ['target', 'labels']);
    }
    ctx.io.out(`${name}\n`);
  }
  return 0;
}

async function inspect(ctx: RemoteContext, argv: string[]): Promise<number> {
  const p = parseArgs(argv, { platform: { kind: 'string' } });
  need(p, 1, 'berth-ctr images inspect [--platform P] NAME');
  const store = remoteStore(ctx);
  const out: unknown[] = [];
  for (const n of p.args) {
    const rec = await findImage(ctx, n);
    const target = descriptorOf(rec.target);
    const top = await readParsed(store, target);
    let resolved: unknown;
    try {
      const r = await resolveImage(store, target, platformFlag(str(p.flags, 'platform')));
      resolved = { manifestDescriptor: r.manifestDesc, manifest: r.manifest, config: r.config, chainIds: r.chainIds };
    } catch (e) {
      resolved = { error: messageOf(e) };
    }
    out.push({
      name: rec.name,
      familiarName: familiarOf(rec.name),
      target,
      labels: rec.labels,
      createdAt: dateOrEpoch(rec.created_at),
      updatedAt: dateOrEpoch(rec.updated_at),
      size: await imageSize(store, target),
      ...(top.kind === 'index' ? { index: top.index } : {}),
      ...(resolved as object),
    });
  }
  ctx.io.out(json(out.length === 1 ? out[0] : out));
  return 0;
}

/** Layers already in the engine's content store, unpacked through its diff and snapshots services. */
async function unpack(ctx: RemoteContext, argv: string[]): Promise<number> {
  const p = parseArgs(argv, { platform: { kind: 'string' } });
  need(p, 1, 'berth-ctr images unpack [--platform P] NAME');
  const rec = await findImage(ctx, p.args[0]!);
  const top = await unpackInContainerd(ctx.client, rec.name, {
    snapshotter: ctx.snapshotter,
    platform: platformFlag(str(p.flags, 'platform')),
    progress: (e) => {
      if (e.status === 'Pull complete') ctx.io.out(`layer ${e.digest ?? e.id}: unpacked\n`);
    },
  });
  ctx.io.out(`unpacked ${rec.name} to snapshot ${top || '(no layers)'} (${ctx.snapshotter})\n`);
  return 0;
}

/** ctr accepts any name; one that is not a Docker reference keeps its own spelling. */
function familiarOf(name: string): string {
  try {
    return familiarString(parseReference(name));
  } catch {
    return name;
  }
}

const daemonlessOnly =
  (verb: string): Verb<RemoteContext> =>
  async () => {
    throw notServed(
      `images ${verb}`,
      'berth-ctr does this on a daemonless store only (no --address); through the engine it is not done yet',
    );
  };

export const remoteImageVerbs: Record<string, Verb<RemoteContext>> = {
  pull,
  push,
  ls,
  list: ls,
  rm,
  remove: rm,
  tag,
  inspect,
  import: daemonlessOnly('import'),
  export: daemonlessOnly('export'),
  unpack,
};
