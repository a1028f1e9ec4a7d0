// berth-ctr --address leases ls|create|rm, through the engine's leases
// service. A lease's expiry is containerd's `containerd.io/gc.expire` label.

import { randomBytes } from 'node:crypto';
import { GC_EXPIRE } from '../../../client/index.js';
import { bool, need, parseArgs, str, multi } from '../args.js';
import { labelsString, table } from '../format.js';
import { LEASE_CREATE_FLAGS } from '../leases.js';
import { duration, eachArg, labelsFlag, type Verb } from '../verbs.js';
import { dateOrEpoch, type RemoteContext } from './context.js';

/** ctr's default for `leases create --expires`. */
const DEFAULT_EXPIRES = '24h';

async function ls(ctx: RemoteContext, argv: string[]): Promise<number> {
  const p = parseArgs(argv, { quiet: { kind: 'bool', alias: 'q' } });
  const leases = (await ctx.client.leases.list()).sort((a, b) => a.id.localeCompare(b.id));
  if (bool(p.flags, 'quiet')) {
    for (const l of leases) ctx.io.out(l.id + '\n');
    return 0;
  }
  const rows: string[][] = [];
  for (const l of leases) {
    const { [GC_EXPIRE]: expires, ...labels } = l.labels;
    rows.push([
      l.id,
      dateOrEpoch(l.created_at).toISOString(),
      expires ?? 'never',
      String((await ctx.client.leases.resources(l.id)).length),
      labelsString(labels),
    ]);
  }
  ctx.io.out(table(['ID', 'CREATED', 'EXPIRES', 'RESOURCES', 'LABELS'], rows));
  return 0;
}

async function create(ctx: RemoteContext, argv: string[]): Promise<number> {
  const p = parseArgs(argv, LEASE_CREATE_FLAGS);
  // Labels as --label K=V, or as ctr takes them: K=V arguments.
  const labels = labelsFlag([...multi(p.flags, 'label'), ...p.args]);
  const exp = str(p.flags, 'expires') ?? DEFAULT_EXPIRES;
  if (exp !== '0') labels[GC_EXPIRE] = new Date(Date.now() + duration(exp)).toISOString();
  // The id containerd's client makes when none is given: time and randomness.
  const id = str(p.flags, 'id') ?? `${Date.now()}-${randomBytes(6).toString('hex')}`;
  ctx.io.out((await ctx.client.leases.create(id, labels)) + '\n');
  return 0;
}

async function rm(ctx: RemoteContext, argv: string[]): Promise<number> {
  const p = parseArgs(argv, { sync: { kind: 'bool' } });
  need(p, 1, 'berth-ctr leases rm [--sync] ID...');
  return eachArg(ctx.io, p.args, (id) => ctx.client.leases.delete(id, bool(p.flags, 'sync')));
}

export const remoteLeaseVerbs: Record<string, Verb<RemoteContext>> = {
  ls,
  list: ls,
  create,
  rm,
  remove: rm,
  delete: rm,
};
