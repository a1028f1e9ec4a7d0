// berth-ctr --address namespaces ls|create|label|rm: the engine's namespaces
// (a daemonless store has none), as ctr's namespaces command.

import { messageOf } from '../../../common/errors.js';
import { bool, need, parseArgs } from '../args.js';
import { labelsString, table } from '../format.js';
import { labelsFlag, type Verb } from '../verbs.js';
import type { RemoteContext } from './context.js';

async function ls(ctx: RemoteContext, argv: string[]): Promise<number> {
  const p = parseArgs(argv, { quiet: { kind: 'bool', alias: 'q' } });
  const list = (await ctx.client.namespaces.list()).sort((a, b) => a.name.localeCompare(b.name));
  if (bool(p.flags, 'quiet')) for (const n of list) ctx.io.out(n.name + '\n');
  else
    ctx.io.out(
      table(
        ['NAME', 'LABELS'],
        list.map((n) => [n.name, labelsString(n.labels)]),
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
  const labels: Record<string, string> = {};
  const fields: string[] = [];
  for (const l of rest) {
    const eq = l.indexOf('=');
    // "key" or "key=" removes the label, as ctr's namespaces label does.
    const key = eq === -1 ? l : l.slice(0, eq);
    const value = eq === -1 ? '' : l.slice(eq + 1);
    if (value) labels[key] = value;
    fields.push(`labels.${key}`);
  }
  await ctx.client.namespaces.updateLabels(name, labels, fields);
  return 0;
}

async function rm(ctx: RemoteContext, argv: string[]): Promise<number> {
  const p = parseArgs(argv, {});
  need(p, 1, 'berth-ctr namespaces rm NAME...');
  let status = 0;
  for (const n of p.args) {
    try {
      await ctx.client.namespaces.delete(n);
      ctx.io.out(`${n}\n`);
    } catch (e) {
      ctx.io.err(`berth-ctr: ${messageOf(e)}\n`);
      status = 1;
    }
  }
  return status;
}

export const namespaceVerbs: Record<string, Verb<RemoteContext>> = {
  ls,
  list: ls,
  create,
  label,
  rm,
  remove: rm,
};
