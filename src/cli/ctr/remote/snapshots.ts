// berth-ctr --address snapshots ls|prepare|view|mount|commit|rm|usage, through
// the engine's snapshots service for the --snapshotter chosen (overlayfs by
// default, as ctr's).

import { messageOf } from '../../../common/errors.js';
import { bool, need, parseArgs, str, multi } from '../args.js';
import { age, humanSize, json, labelsString, mountCommands, table } from '../format.js';
import { labelsFlag, type Verb } from '../verbs.js';
import { dateOrEpoch, type RemoteContext } from './context.js';

async function ls(ctx: RemoteContext, argv: string[]): Promise<number> {
  const p = parseArgs(argv, { json: { kind: 'bool' }, quiet: { kind: 'bool', alias: 'q' } });
  const list = (await ctx.client.snapshots(ctx.snapshotter).list()).sort((a, b) => a.name.localeCompare(b.name));
  const rows = list.map((s) => ({
    key: s.name,
    parent: s.parent || undefined,
    kind: s.kind.toLowerCase(),
    created: dateOrEpoch(s.created_at),
    updated: dateOrEpoch(s.updated_at),
    labels: s.labels,
  }));
  if (bool(p.flags, 'quiet')) for (const s of rows) ctx.io.out(s.key + '\n');
  else if (bool(p.flags, 'json')) ctx.io.out(json(rows));
  else
    ctx.io.out(
      table(
        ['KEY', 'PARENT', 'KIND', 'AGE', 'LABELS'],
        rows.map((s) => [s.key, s.parent ?? '', s.kind, age(s.created), labelsString(s.labels)]),
      ),
    );
  return 0;
}

async function prepare(ctx: RemoteContext, argv: string[], view = false): Promise<number> {
  const p = parseArgs(argv, {
    target: { kind: 'string', alias: 't' },
    mounts: { kind: 'bool' },
    label: { kind: 'multi' },
  });
  need(p, 1, `berth-ctr snapshots ${view ? 'view' : 'prepare'} [--target DIR] [--mounts] KEY [PARENT]`);
  const sn = ctx.client.snapshots(ctx.snapshotter);
  const [key, parent] = p.args as [string, string | undefined];
  const labels = labelsFlag(multi(p.flags, 'label'));
  const mounts = view ? await sn.view(key, parent ?? '', labels) : await sn.prepare(key, parent ?? '', labels);
  if (bool(p.flags, 'mounts') || str(p.flags, 'target'))
    ctx.io.out(mountCommands(mounts, str(p.flags, 'target') ?? '/tmp/mnt'));
  return 0;
}

async function mount(ctx: RemoteContext, argv: string[]): Promise<number> {
  const p = parseArgs(argv, {});
  need(p, 2, 'berth-ctr snapshots mount TARGET KEY');
  const [target, key] = p.args as [string, string];
  ctx.io.out(mountCommands(await ctx.client.snapshots(ctx.snapshotter).mounts(key), target));
  return 0;
}

async function commit(ctx: RemoteContext, argv: string[]): Promise<number> {
  const p = parseArgs(argv, { label: { kind: 'multi' } });
  need(p, 2, 'berth-ctr snapshots commit NAME KEY');
  await ctx.client.snapshots(ctx.snapshotter).commit(p.args[0]!, p.args[1]!, labelsFlag(multi(p.flags, 'label')));
  return 0;
}

async function rm(ctx: RemoteContext, argv: string[]): Promise<number> {
  const p = parseArgs(argv, {});
  need(p, 1, 'berth-ctr snapshots rm KEY...');
  const sn = ctx.client.snapshots(ctx.snapshotter);
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

async function usage(ctx: RemoteContext, argv: string[]): Promise<number> {
  const p = parseArgs(argv, {});
  const sn = ctx.client.snapshots(ctx.snapshotter);
  const keys = p.args.length ? p.args : (await sn.list()).map((s) => s.name).sort();
  const rows: string[][] = [];
  for (const k of keys) {
    const u = await sn.usage(k);
    rows.push([k, humanSize(u.size), String(u.inodes)]);
  }
  ctx.io.out(table(['KEY', 'SIZE', 'INODES'], rows));
  return 0;
}

export const remoteSnapshotVerbs: Record<string, Verb<RemoteContext>> = {
  ls,
  list: ls,
  prepare: (c, a) => prepare(c, a),
  view: (c, a) => prepare(c, a, true),
  mount,
  mounts: mount,
  commit,
  rm,
  remove: rm,
  usage,
};
