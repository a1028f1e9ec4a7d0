// berth-ctr content ls|get|rm|ingests, and gc.

import { pipeline } from 'node:stream/promises';
import { createWriteStream } from 'node:fs';
import { messageOf } from '../../common/errors.js';
import { validateDigest } from '../../image/index.js';
import { bool, need, parseArgs, str } from './args.js';
import type { Context } from './context.js';
import { age, humanSize, json, labelsString, table } from './format.js';

async function ls(ctx: Context, argv: string[]): Promise<number> {
  const p = parseArgs(argv, { quiet: { kind: 'bool', alias: 'q' }, json: { kind: 'bool' } });
  const blobs = (await ctx.storage.content.list()).sort((a, b) => a.digest.localeCompare(b.digest));
  if (bool(p.flags, 'quiet')) {
    for (const b of blobs) ctx.io.out(b.digest + '\n');
  } else if (bool(p.flags, 'json')) {
    ctx.io.out(json(blobs));
  } else {
    ctx.io.out(
      table(
        ['DIGEST', 'SIZE', 'AGE', 'LABELS'],
        blobs.map((b) => [b.digest, humanSize(b.size), age(b.createdAt), labelsString(b.labels)]),
      ),
    );
  }
  return 0;
}

async function get(ctx: Context, argv: string[]): Promise<number> {
  const p = parseArgs(argv, { output: { kind: 'string', alias: 'o' } });
  need(p, 1, 'berth-ctr content get [-o FILE] DIGEST');
  const digest = validateDigest(p.args[0]!);
  const src = ctx.storage.content.readStream(digest);
  const out = str(p.flags, 'output');
  await pipeline(src, out ? createWriteStream(out) : process.stdout, { end: out !== undefined });
  return 0;
}

async function rm(ctx: Context, argv: string[]): Promise<number> {
  const p = parseArgs(argv, {});
  need(p, 1, 'berth-ctr content rm DIGEST...');
  let status = 0;
  for (const d of p.args) {
    try {
      await ctx.storage.content.delete(validateDigest(d));
      ctx.io.out(`${d}\n`);
    } catch (e) {
      ctx.io.err(`berth-ctr: ${messageOf(e)}\n`);
      status = 1;
    }
  }
  return status;
}

async function ingests(ctx: Context, argv: string[]): Promise<number> {
  parseArgs(argv, {});
  const list = await ctx.storage.content.ingests();
  ctx.io.out(
    table(
      ['REF', 'OFFSET', 'TOTAL', 'STATUS', 'UPDATED'],
      list.map((i) => [
        i.ref || i.key,
        String(i.offset),
        i.expected ? String(i.expected.size) : '?',
        i.active ? 'active' : 'interrupted',
        `${age(i.updatedAt)} ago`,
      ]),
    ),
  );
  return 0;
}

async function label(ctx: Context, argv: string[]): Promise<number> {
  const p = parseArgs(argv, {});
  need(p, 2, 'berth-ctr content label DIGEST KEY=VALUE|KEY...');
  const [digest, ...rest] = p.args as [string, ...string[]];
  const labels: Record<string, string | null> = {};
  for (const l of rest) {
    const eq = l.indexOf('=');
    // "key" alone removes the label, as ctr does.
    if (eq === -1) labels[l] = null;
    else labels[l.slice(0, eq)] = l.slice(eq + 1);
  }
  await ctx.storage.content.setLabels(validateDigest(digest), labels);
  ctx.io.out(labelsString((await ctx.storage.content.info(digest)).labels) + '\n');
  return 0;
}

export const contentVerbs: Record<string, (ctx: Context, argv: string[]) => Promise<number>> = {
  ls,
  list: ls,
  get,
  rm,
  remove: rm,
  ingests,
  active: ingests,
  label,
};

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
