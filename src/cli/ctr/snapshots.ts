// berth-ctr snapshots ls|prepare|view|mount|commit|rm|usage: one set of verbs
// over a SnapshotPort, the daemonless store's snapshotter (below) or the
// engine's snapshots service (./remote/snapshots.ts). Store-free: the local
// port reaches the store through its Context only.

import { bool, need, parseArgs, str, multi } from './args.js';
import type { Context } from './context.js';
import { age, humanSize, labelsString, listing, mountCommands, table } from './format.js';
import { eachArg, labelsFlag, LIST_FLAGS, type Output, type Verb } from './verbs.js';

type Mounts = Parameters<typeof mountCommands>[0];

/** A snapshot as `snapshots ls` prints it (--json prints the whole object). */
export interface SnapshotRow {
  key: string;
  parent?: string;
  kind: string;
  created: Date;
  labels: Record<string, string>;
}

/** What the snapshot verbs need of a snapshotter, wherever it runs. */
export interface SnapshotPort {
  /** Every snapshot, sorted by key. */
  list(): Promise<SnapshotRow[]>;
  prepare(key: string, parent: string | undefined, labels: Record<string, string>, view: boolean): Promise<Mounts>;
  mounts(key: string): Promise<Mounts>;
  commit(name: string, key: string, labels: Record<string, string>): Promise<void>;
  remove(key: string): Promise<void>;
  usage(key: string): Promise<{ size: number; inodes: number }>;
}

/** The snapshot verbs for a context whose snapshotter `portOf` opens. */
export function snapshotVerbsOf<C extends { io: Output }>(
  portOf: (ctx: C) => Promise<SnapshotPort>,
): Record<string, Verb<C>> {
  const ls: Verb<C> = async (ctx, argv) => {
    const p = parseArgs(argv, LIST_FLAGS);
    const mode = { quiet: bool(p.flags, 'quiet'), json: bool(p.flags, 'json') };
    const header = ['KEY', 'PARENT', 'KIND', 'AGE', 'LABELS'];
    const cells = (s: SnapshotRow) => [s.key, s.parent ?? '', s.kind, age(s.created), labelsString(s.labels)];
    ctx.io.out(listing(await (await portOf(ctx)).list(), mode, (s) => s.key, header, cells));
    return 0;
  };
  const prepare = async (ctx: C, argv: string[], view: boolean): Promise<number> => {
    const p = parseArgs(argv, {
      target: { kind: 'string', alias: 't' },
      mounts: { kind: 'bool' },
      label: { kind: 'multi' },
    });
    need(p, 1, `berth-ctr snapshots ${view ? 'view' : 'prepare'} [--target DIR] [--mounts] KEY [PARENT]`);
    const [key, parent] = p.args as [string, string | undefined];
    const sn = await portOf(ctx);
    const mounts = await sn.prepare(key, parent, labelsFlag(multi(p.flags, 'label')), view);
    if (bool(p.flags, 'mounts') || str(p.flags, 'target'))
      ctx.io.out(mountCommands(mounts, str(p.flags, 'target') ?? '/tmp/mnt'));
    return 0;
  };
  const mount: Verb<C> = async (ctx, argv) => {
    const p = parseArgs(argv, {});
    need(p, 2, 'berth-ctr snapshots mount TARGET KEY');
    const [target, key] = p.args as [string, string];
    ctx.io.out(mountCommands(await (await portOf(ctx)).mounts(key), target));
    return 0;
  };
  const commit: Verb<C> = async (ctx, argv) => {
    const p = parseArgs(argv, { label: { kind: 'multi' } });
    need(p, 2, 'berth-ctr snapshots commit NAME KEY');
    await (await portOf(ctx)).commit(p.args[0]!, p.args[1]!, labelsFlag(multi(p.flags, 'label')));
    return 0;
  };
  const rm: Verb<C> = async (ctx, argv) => {
    const p = parseArgs(argv, {});
    need(p, 1, 'berth-ctr snapshots rm KEY...');
    const sn = await portOf(ctx);
    return eachArg(ctx.io, p.args, (k) => sn.remove(k));
  };
  const usage: Verb<C> = async (ctx, argv) => {
    const p = parseArgs(argv, {});
    const sn = await portOf(ctx);
    const keys = p.args.length ? p.args : (await sn.list()).map((s) => s.key);
    const rows: string[][] = [];
    for (const k of keys) {
      const u = await sn.usage(k);
      rows.push([k, humanSize(u.size), String(u.inodes)]);
    }
    ctx.io.out(table(['KEY', 'SIZE', 'INODES'], rows));
    return 0;
  };
  return {
    ls,
    list: ls,
    prepare: (c, a) => prepare(c, a, false),
    view: (c, a) => prepare(c, a, true),
    mount,
    mounts: mount,
    commit,
    rm,
    remove: rm,
    usage,
  };
}

export const snapshotVerbs = snapshotVerbsOf<Context>(async (ctx) => {
  const sn = await ctx.storage.snapshotter();
  return {
    list: async () => (await sn.list()).sort((a, b) => a.key.localeCompare(b.key)),
    prepare: (key, parent, labels, view) =>
      view ? sn.view(key, parent, { labels }) : sn.prepare(key, parent, { labels }),
    mounts: (key) => sn.mounts(key),
    commit: (name, key, labels) => sn.commit(name, key, { labels }),
    remove: (key) => sn.remove(key),
    usage: (key) => sn.usage(key),
  };
});
