// berth-ctr --address namespaces ls|create|label|rm: the engine's namespaces
// (a daemonless store has none), as ctr's namespaces command.

import { bool, need, parseArgs } from '../args.js';
import { labelsString, listing } from '../format.js';
import { eachArg, labelMask, labelsFlag, labelUpdates, type Verb } from '../verbs.js';
import type { RemoteContext } from './context.js';

async function ls(ctx: RemoteContext, argv: string[]): Promise<number> {
  const p = parseArgs(argv, { quiet: { kind: 'bool', alias: 'q' } });
  const list = (await ctx.client.namespaces.list()).sort((a, b) => a.name.localeCompare(b.name));
  const mode = { quiet: bool(p.flags, 'quiet'), json: false };
  ctx.io.out(
    listing(
      list,
      mode,
      (n) => n.name,
      ['NAME', 'LABELS'],
      (n) => [n.name, labelsString(n.labels)],
    ),
  );
  return 0;
}

async function create(ctx: RemoteContext, argv: string[]): Promise<number> {
  const p = parseArgs(argv, {});
  need(p, 1, 'berth-ctr namespaces create NAME [KEY=VALUE...]');
  const [name, ...labels] = p.args as [string, ...string[]];
  await ctx.client.namespaces.create(name, labelsFlag(labels));
  return 0;
}

async function label(ctx: RemoteContext, argv: string[]): Promise<number> {
  const p = parseArgs(argv, {});
  need(p, 1, 'berth-ctr namespaces label NAME [KEY=VALUE|KEY...]');
  const [name, ...rest] = p.args as [string, ...string[]];
  // "key" or "key=" removes the label, as ctr's namespaces label does.
  const { labels, fields } = labelMask(labelUpdates(rest, true));
  await ctx.client.namespaces.updateLabels(name, labels, fields);
  return 0;
}

async function rm(ctx: RemoteContext, argv: string[]): Promise<number> {
  const p = parseArgs(argv, {});
  need(p, 1, 'berth-ctr namespaces rm NAME...');
  return eachArg(ctx.io, p.args, async (n) => {
    await ctx.client.namespaces.delete(n);
    ctx.io.out(`${n}\n`);
  });
}

export const namespaceVerbs: Record<string, Verb<RemoteContext>> = {
  ls,
  list: ls,
  create,
  label,
  rm,
  remove: rm,
};
