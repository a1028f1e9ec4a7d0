// berth-ctr content ls|get|rm|label|ingests: one set of verbs over a
// ContentPort, the daemonless store (below) or the engine's content service
// (./remote/content.ts); and gc, daemonless only. Store-free: the local port
// reaches the store through its Context only.

import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createWriteStream } from 'node:fs';
import { validateDigest, type Digest } from '../../image/storeless.js';
import { bool, need, parseArgs, str } from './args.js';
import type { Context } from './context.js';
import { age, humanSize, labelsString, listing, table } from './format.js';
import { eachArg, labelUpdates, LIST_FLAGS, type Output, type Verb } from './verbs.js';

/** A blob as `content ls` prints it (--json prints the whole object). */
export interface BlobRow {
  digest: string;
  size: number;
  createdAt: Date;
  labels: Record<string, string>;
}

/** What the content verbs need of a content store, wherever it runs. */
export interface ContentPort {
  /** Every blob, sorted by digest. */
  list(): Promise<BlobRow[]>;
  read(digest: Digest): Readable;
  delete(digest: Digest): Promise<void>;
  /** Sets the labels given a value and removes those given null; answers the blob's labels after. */
  label(digest: Digest, updates: Record<string, string | null>): Promise<Record<string, string>>;
  /** The table of ingests in progress, as this store can tell them. */
  ingests(): Promise<string>;
}

/** The content verbs for a context whose content store `portOf` opens. */
export function contentVerbsOf<C extends { io: Output }>(portOf: (ctx: C) => ContentPort): Record<string, Verb<C>> {
  const ls: Verb<C> = async (ctx, argv) => {
    const p = parseArgs(argv, LIST_FLAGS);
    const mode = { quiet: bool(p.flags, 'quiet'), json: bool(p.flags, 'json') };
    const header = ['DIGEST', 'SIZE', 'AGE', 'LABELS'];
    const cells = (b: BlobRow) => [b.digest, humanSize(b.size), age(b.createdAt), labelsString(b.labels)];
    ctx.io.out(listing(await portOf(ctx).list(), mode, (b) => b.digest, header, cells));
    return 0;
  };
  const get: Verb<C> = async (ctx, argv) => {
    const p = parseArgs(argv, { output: { kind: 'string', alias: 'o' } });
    need(p, 1, 'berth-ctr content get [-o FILE] DIGEST');
    const src = portOf(ctx).read(validateDigest(p.args[0]!));
    const out = str(p.flags, 'output');
    await pipeline(src, out ? createWriteStream(out) : process.stdout, { end: out !== undefined });
    return 0;
  };
  const rm: Verb<C> = async (ctx, argv) => {
    const p = parseArgs(argv, {});
    need(p, 1, 'berth-ctr content rm DIGEST...');
    const store = portOf(ctx);
    return eachArg(ctx.io, p.args, async (d) => {
      await store.delete(validateDigest(d));
      ctx.io.out(`${d}\n`);
    });
  };
  const label: Verb<C> = async (ctx, argv) => {
    const p = parseArgs(argv, {});
    need(p, 2, 'berth-ctr content label DIGEST KEY=VALUE|KEY...');
    const [digest, ...rest] = p.args as [string, ...string[]];
    // "key" alone removes the label, as ctr does.
    ctx.io.out(labelsString(await portOf(ctx).label(validateDigest(digest), labelUpdates(rest))) + '\n');
    return 0;
  };
  const ingests: Verb<C> = async (ctx, argv) => {
    parseArgs(argv, {});
    ctx.io.out(await portOf(ctx).ingests());
    return 0;
  };
  return { ls, list: ls, get, rm, remove: rm, ingests, active: ingests, label };
}

export const contentVerbs = contentVerbsOf<Context>((ctx) => {
  const content = ctx.storage.content;
  return {
    list: async () => (await content.list()).sort((a, b) => a.digest.localeCompare(b.digest)),
    read: (digest) => content.readStream(digest),
    delete: (digest) => content.delete(digest),
    label: async (digest, updates) => {
      await content.setLabels(digest, updates);
      return (await content.info(digest)).labels;
    },
    ingests: async () =>
      table(
        ['REF', 'OFFSET', 'TOTAL', 'STATUS', 'UPDATED'],
        (await content.ingests()).map((i) => [
          i.ref || i.key,
          String(i.offset),
          i.expected ? String(i.expected.size) : '?',
          i.active ? 'active' : 'interrupted',
          `${age(i.updatedAt)} ago`,
        ]),
      ),
  };
});

export async function gc(ctx: Context, argv: string[]): Promise<number> {
  const p = parseArgs(argv, {
    'dry-run': { kind: 'bool', alias: 'n' },
    verbose: { kind: 'bool', alias: 'v' },
    'no-snapshots': { kind: 'bool' },
  });
  const r = await ctx.storage.gc({ dryRun: bool(p.flags, 'dry-run'), snapshots: !bool(p.flags, 'no-snapshots') });
  const verb = bool(p.flags, 'dry-run') ? 'would remove' : 'removed';
  if (bool(p.flags, 'verbose')) {
    for (const b of r.removedBlobs) ctx.io.out(`${verb} blob ${b.digest} (${humanSize(b.size)})\n`);
    for (const s of r.removedSnapshots) ctx.io.out(`${verb} snapshot ${s}\n`);
    for (const i of r.removedIngests) ctx.io.out(`${verb} ingest ${i}\n`);
    for (const l of r.expiredLeases) ctx.io.out(`expired lease ${l}\n`);
  }
  ctx.io.out(
    `${verb} ${r.removedBlobs.length} blob(s), ${r.removedSnapshots.length} snapshot(s), ${r.removedIngests.length} ingest(s); ` +
      `${humanSize(r.bytesFreed)} of content freed; ${r.keptBlobs} blob(s) kept\n`,
  );
  return 0;
}
