// berth-ctr --address images pull|push|ls|rm|tag|inspect: the engine's
// images and content services; pull and push run client-side as ctr's do
// (src/client's pullIntoContainerd: content Write under a lease, diff Apply,
// snapshots), so the registry is reached from here, not from the engine.

import { isAlreadyExists, pullIntoContainerd, unpackInContainerd, type ImageRecord } from '../../../client/index.js';
import { formatPlatform, normalizeName } from '../../../image/storeless.js';
import { bool, need, parseArgs, str } from '../args.js';
import { imageListing, inspectVerb, platformFlag, type ImageRow } from '../describe.js';
import { pullArgs, pullDone, pushVerb } from '../transfer.js';
import { eachArg, LIST_FLAGS, type Verb } from '../verbs.js';
import { dateOrEpoch, descriptorOf, findImage, notServed, remoteStore, type RemoteContext } from './context.js';

async function pull(ctx: RemoteContext, argv: string[]): Promise<number> {
  const a = pullArgs(ctx.io, argv);
  const r = await pullIntoContainerd(ctx.client, a.name, {
    snapshotter: ctx.snapshotter,
    platform: a.platform === undefined ? undefined : formatPlatform(platformFlag(a.platform)),
    requirePlatform: a.platform !== undefined,
    unpack: a.unpack,
    concurrency: a.concurrency,
    registryOptions: a.registryOptions,
    progress: (e) =>
      a.progress?.update(
        e.digest ?? e.id,
        e.status,
        'current' in e ? e.current : undefined,
        'total' in e ? e.total : undefined,
      ),
  });
  pullDone(ctx.io, a, {
    name: r.name,
    digest: r.target.digest,
    unpackedTo: a.unpack ? `${r.topChainId || '(no layers)'} (${ctx.snapshotter})` : undefined,
  });
  return 0;
}

const push = pushVerb<RemoteContext>(async (ctx, name) => {
  const image = await findImage(ctx, name);
  return { name: image.name, target: descriptorOf(image.target), store: remoteStore(ctx) };
});

/** A record of the engine's images service in the daemonless store's shape. */
function imageRow(i: ImageRecord): ImageRow {
  return {
    name: i.name,
    target: descriptorOf(i.target),
    labels: i.labels,
    createdAt: dateOrEpoch(i.created_at),
    updatedAt: dateOrEpoch(i.updated_at),
  };
}

async function ls(ctx: RemoteContext, argv: string[]): Promise<number> {
  const p = parseArgs(argv, LIST_FLAGS);
  const list = (await ctx.client.images.list()).sort((a, b) => a.name.localeCompare(b.name));
  if (bool(p.flags, 'quiet')) ctx.io.out(list.map((i) => i.name + '\n').join(''));
  else ctx.io.out(await imageListing(remoteStore(ctx), list.map(imageRow), bool(p.flags, 'json')));
  return 0;
}

async function rm(ctx: RemoteContext, argv: string[]): Promise<number> {
  const p = parseArgs(argv, { sync: { kind: 'bool' } });
  need(p, 1, 'berth-ctr images rm [--sync] NAME...');
  return eachArg(ctx.io, p.args, async (n) => {
    const r = await findImage(ctx, n);
    // --sync: the engine collects what the image held before answering, as `ctr images rm --sync`.
    await ctx.client.images.delete(r.name, bool(p.flags, 'sync'));
    ctx.io.out(`${r.name}\n`);
  });
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

const inspect = inspectVerb<RemoteContext>(remoteStore, async (ctx, name) => imageRow(await findImage(ctx, name)));

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
