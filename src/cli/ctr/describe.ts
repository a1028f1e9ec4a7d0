// What berth-ctr prints about an image, read through any ContentStore: the
// local store (daemonless) or an engine's content service (--address):
// platforms, `images ls` and `images inspect`.

import { messageOf } from '../../common/errors.js';
import {
  familiarString,
  formatPlatform,
  imageSize,
  parseReference,
  resolveImage,
  hostPlatform,
  parseImageConfig,
  parsePlatform,
  readParsed,
  type ContentStore,
  type Descriptor,
  type NormalPlatform,
} from '../../image/storeless.js';
import { need, parseArgs, str } from './args.js';
import { humanSize, json, labelsString, table } from './format.js';
import type { Output, Verb } from './verbs.js';

export function platformFlag(v: string | undefined): NormalPlatform {
  return v ? parsePlatform(v) : hostPlatform();
}

/** The platforms an image offers (an index's entries, or a manifest's config); [] when unreadable. */
export async function platformsOf(store: ContentStore, target: Descriptor): Promise<string[]> {
  try {
    const p = await readParsed(store, target);
    if (p.kind === 'index') {
      return p.index.manifests
        .filter((m) => m.platform && m.platform.os !== 'unknown')
        .map((m) => formatPlatform(m.platform!));
    }
    const cfg = parseImageConfig(await store.readBytes(p.manifest.config.digest));
    return [formatPlatform(cfg)];
  } catch {
    return [];
  }
}

/** An image record as both stores keep it (the engine's as dateOrEpoch and descriptorOf turn it). */
export interface ImageRow {
  name: string;
  target: Descriptor;
  labels: Record<string, string>;
  createdAt: Date;
  updatedAt: Date;
}

/** `images ls` (but --quiet's names): each image with its size and platforms as JSON, or as a table. */
export async function imageListing(store: ContentStore, list: ImageRow[], asJson: boolean): Promise<string> {
  const rows: string[][] = [];
  const docs: unknown[] = [];
  for (const i of list) {
    const size = await imageSize(store, i.target);
    const plats = await platformsOf(store, i.target);
    rows.push([
      i.name,
      i.target.mediaType,
      i.target.digest,
      humanSize(size),
      plats.join(',') || '-',
      labelsString(i.labels),
    ]);
    const { name, target, labels, createdAt, updatedAt } = i;
    docs.push({ name, target, size, platforms: plats, labels, createdAt, updatedAt });
  }
  return asJson ? json(docs) : table(['REF', 'TYPE', 'DIGEST', 'SIZE', 'PLATFORMS', 'LABELS'], rows);
}

/** ctr accepts any name; one that is not a Docker reference keeps its own spelling. */
function familiarOf(name: string): string {
  try {
    return familiarString(parseReference(name));
  } catch {
    return name;
  }
}

/** images inspect of one image: the record, its index if any, and the manifest and config for `platform`. */
async function inspectImage(store: ContentStore, rec: ImageRow, platform: string | undefined): Promise<unknown> {
  const top = await readParsed(store, rec.target);
  let resolved: unknown;
  try {
    const r = await resolveImage(store, rec.target, platformFlag(platform));
    resolved = { manifestDescriptor: r.manifestDesc, manifest: r.manifest, config: r.config, chainIds: r.chainIds };
  } catch (e) {
    resolved = { error: messageOf(e) };
  }
  return {
    name: rec.name,
    familiarName: familiarOf(rec.name),
    target: rec.target,
    labels: rec.labels,
    createdAt: rec.createdAt,
    updatedAt: rec.updatedAt,
    size: await imageSize(store, rec.target),
    ...(top.kind === 'index' ? { index: top.index } : {}),
    ...(resolved as object),
  };
}

/** images inspect, for a context whose images `find` looks up by name and whose content `storeOf` reads. */
export function inspectVerb<C extends { io: Output }>(
  storeOf: (ctx: C) => ContentStore,
  find: (ctx: C, name: string) => Promise<ImageRow>,
): Verb<C> {
  return async (ctx, argv) => {
    const p = parseArgs(argv, { platform: { kind: 'string' } });
    need(p, 1, 'berth-ctr images inspect [--platform P] NAME');
    const out: unknown[] = [];
    for (const n of p.args) out.push(await inspectImage(storeOf(ctx), await find(ctx, n), str(p.flags, 'platform')));
    ctx.io.out(json(out.length === 1 ? out[0] : out));
    return 0;
  };
}
