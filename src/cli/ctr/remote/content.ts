// berth-ctr --address content ls|get|rm|label|ingests, through the engine's
// content service.

import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createWriteStream } from 'node:fs';
import { messageOf } from '../../../common/errors.js';
import type { ReadContentResponse__Output } from '../../../api/gen/containerd/services/content/v1/ReadContentResponse.js';
import { validateDigest } from '../../../image/storeless.js';
import { bool, need, parseArgs, str } from '../args.js';
import { age, humanSize, json, labelsString, table } from '../format.js';
import type { Verb } from '../verbs.js';
import { dateOrEpoch, notServed, type RemoteContext } from './context.js';

async function ls(ctx: RemoteContext, argv: string[]): Promise<number> {
  const p = parseArgs(argv, { quiet: { kind: 'bool', alias: 'q' }, json: { kind: 'bool' } });
  const blobs = (await ctx.client.content.list()).sort((a, b) => a.digest.localeCompare(b.digest));
  if (bool(p.flags, 'quiet')) {
    for (const b of blobs) ctx.io.out(b.digest + '\n');
  } else if (bool(p.flags, 'json')) {
    ctx.io.out(
      json(
        blobs.map((b) => ({
          digest: b.digest,
          size: b.size,
          createdAt: dateOrEpoch(b.created_at),
          updatedAt: dateOrEpoch(b.updated_at),
          labels: b.labels,
        })),
      ),
    );
  } else {
    ctx.io.out(
      table(
        ['DIGEST', 'SIZE', 'AGE', 'LABELS'],
        blobs.map((b) => [b.digest, humanSize(b.size), age(dateOrEpoch(b.created_at)), labelsString(b.labels)]),
      ),
    );
  }
  return 0;
}

async function get(ctx: RemoteContext, argv: string[]): Promise<number> {
  const p = parseArgs(argv, { output: { kind: 'string', alias: 'o' } });
  need(p, 1, 'berth-ctr content get [-o FILE] DIGEST');
  const digest = validateDigest(p.args[0]!);
  const stream = ctx.client.content.read(digest);
  async function* chunks(): AsyncGenerator<Buffer> {
    try {
      for await (const r of stream as AsyncIterable<ReadContentResponse__Output>) yield r.data;
    } catch (e) {
      throw ctx.client.conn.mapError(e, 'Content.Read');
    }
  }
  const out = str(p.flags, 'output');
  await pipeline(Readable.from(chunks()), out ? createWriteStream(out) : process.stdout, { end: out !== undefined });
  return 0;
}

async function rm(ctx: RemoteContext, argv: string[]): Promise<number> {
  const p = parseArgs(argv, {});
  need(p, 1, 'berth-ctr content rm DIGEST...');
  let status = 0;
  for (const d of p.args) {
    try {
      await ctx.client.content.delete(validateDigest(d));
      ctx.io.out(`${d}\n`);
    } catch (e) {
      ctx.io.err(`berth-ctr: ${messageOf(e)}\n`);
      status = 1;
    }
  }
  return status;
}

async function label(ctx: RemoteContext, argv: string[]): Promise<number> {
  const p = parseArgs(argv, {});
  need(p, 2, 'berth-ctr content label DIGEST KEY=VALUE|KEY...');
  const [digest, ...rest] = p.args as [string, ...string[]];
  const labels: Record<string, string> = {};
  const fields: string[] = [];
  for (const l of rest) {
    const eq = l.indexOf('=');
    // "key" alone removes the label, as ctr does: named in the mask, absent from the labels.
    const key = eq === -1 ? l : l.slice(0, eq);
    if (eq !== -1) labels[key] = l.slice(eq + 1);
    fields.push(`labels.${key}`);
  }
  await ctx.client.content.updateLabels(validateDigest(digest), labels, fields);
  ctx.io.out(labelsString((await ctx.client.content.info(digest)).labels) + '\n');
  return 0;
}

async function ingests(ctx: RemoteContext, argv: string[]): Promise<number> {
  parseArgs(argv, {});
  const list = (await ctx.client.content.statuses()).sort((a, b) => a.ref.localeCompare(b.ref));
  ctx.io.out(
    table(
      ['REF', 'OFFSET', 'TOTAL', 'UPDATED'],
      list.map((i) => [
        i.ref,
        String(i.offset),
        i.total ? String(i.total) : '?',
        `${age(dateOrEpoch(i.updated_at))} ago`,
      ]),
    ),
  );
  return 0;
}

export const remoteContentVerbs: Record<string, Verb<RemoteContext>> = {
  ls,
  list: ls,
  get,
  rm,
  remove: rm,
  ingests,
  active: ingests,
  label,
};

export const remoteGc: Verb<RemoteContext> = async () => {
  throw notServed(
    'gc',
    "containerd's API has no garbage-collection call; the engine collects by itself after deletions " +
      '(berth-ctr images rm --sync, leases rm --sync wait for it)',
  );
};
