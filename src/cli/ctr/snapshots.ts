// berth-ctr snapshots ls|prepare|view|mount|commit|rm|usage.

import { messageOf } from '../../common/errors.js';
import { bool, need, parseArgs, str, multi } from './args.js';
import type { Context } from './context.js';
import { age, humanSize, json, labelsString, mountCommands, table } from './format.js';
import { labelsFlag } from './verbs.js';

async function ls(ctx: Context, argv: string[]): Promise<number> {
  const p = parseArgs(argv, { json: { kind: 'bool' }, quiet: { kind: 'bool', alias: 'q' } });
  const sn = await ctx.storage.snapshotter();
  const list = (await sn.list()).sort((a, b) => a.key.localeCompare(b.key));
  if (bool(p.flags, 'quiet')) for (const s of list) ctx.io.out(s.key + '\n');
  else if (bool(p.flags, 'json')) ctx.io.out(json(list));
  else
    ctx.io.out(
      table(
        ['KEY', 'PARENT', 'KIND', 'AGE', 'LABELS'],
        list.map((s) => [s.key, s.parent ?? '', s.kind, age(s.created), labelsString(s.labels)]),
      ),
    );
  return 0;
}

async function prepare(ctx: Context, argv: string[], view = false): Promise<number> {
  const p = parseArgs(argv, {
    target: { kind: 'string', alias: 't' },
    mounts: { kind: 'bool' },
    label: { kind: 'multi' },
  });
  need(p, 1, `berth-ctr snapshots ${view ? 'view' : 'prepare'} [--target DIR] [--mounts] KEY [PARENT]`);
  const sn = await ctx.storage.snapshotter();
  const [key, parent] = p.args as [string, string | undefined];
  const opts = { labels: labelsFlag(multi(p.flags, 'label')) };
  const mounts = view ? await sn.view(key, parent, opts) : await sn.prepare(key, parent, opts);
  if (bool(p.flags, 'mounts') || str(p.flags, 'target'))
    ctx.io.out(mountCommands(mounts, str(p.flags, 'target') ?? '/tmp/mnt'));
  return 0;
}

async function mount(ctx: Context, argv: string[]): Promise<number> {
  const p = parseArgs(argv, {});
  need(p, 2, 'berth-ctr snapshots mount TARGET KEY');
  const [target, key] = p.args as [string, string];
  const sn = await ctx.storage.snapshotter();
  ctx.io.out(mountCommands(await sn.mounts(key), target));
  return 0;
}

async function commit(ctx: Context, argv: string[]): Promise<number> {
  const p = parseArgs(argv, { label: { kind: 'multi' } });
  need(p, 2, 'berth-ctr snapshots commit NAME KEY');
  const sn = await ctx.storage.snapshotter();
  await sn.commit(p.args[0]!, p.args[1]!, { labels: labelsFlag(multi(p.flags, 'label')) });
  return 0;
}

async function rm(ctx: Context, argv: string[]): Promise<number> {
  const p = parseArgs(argv, {});
  need(p, 1, 'berth-ctr snapshots rm KEY...');
  const sn = await ctx.storage.snapshotter();
  let status = 0;
  for (const k of p.args) {
    try {
      await sn.remove(k);
    } catch (e) {
      ctx.io.err(`berth-ctr: ${messageOf(e)}\n`);
      status = 1;
    }
  }
  return status;
}

async function usage(ctx: Context, argv: string[]): Promise<number> {
  const p = parseArgs(argv, {});
  const sn = await ctx.storage.snapshotter();
  const keys = p.args.length ? p.args : (await sn.list()).map((s) => s.key);
  const rows: string[][] = [];
  for (const k of keys) {
    const u = await sn.usage(k);
    rows.push([k, humanSize(u.size), String(u.inodes)]);
  }
  ctx.io.out(table(['KEY', 'SIZE', 'INODES'], rows));
  return 0;
}

export const snapshotVerbs: Record<string, (ctx: Context, argv: string[]) => Promise<number>> = {
  ls,
  list: ls,
  prepare: (c, a) => prepare(c, a),
  view: (c, a) => prepare(c, a, true),
  mount,
  commit,
  rm,
  remove: rm,
  usage,
};
