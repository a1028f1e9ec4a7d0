// berth-ctr leases ls|create|rm.

import { need, parseArgs, str, multi } from './args.js';
import type { Context } from './context.js';
import { labelsString, table } from './format.js';

/** The flags of `leases create`, daemonless or through an engine. */
export const LEASE_CREATE_FLAGS = {
  id: { kind: 'string' },
  expires: { kind: 'string', alias: 'x' },
  label: { kind: 'multi' },
} as const;
import { duration, eachArg, labelsFlag } from './verbs.js';

async function ls(ctx: Context, argv: string[]): Promise<number> {
  parseArgs(argv, {});
  const rows = ctx.storage.leases
    .list()
    .map((l) => [
      l.id,
      l.createdAt.toISOString(),
      l.expiresAt ? l.expiresAt.toISOString() : 'never',
      String(ctx.storage.leases.resources(l.id).length),
      labelsString(l.labels),
    ]);
  ctx.io.out(table(['ID', 'CREATED', 'EXPIRES', 'RESOURCES', 'LABELS'], rows));
  return 0;
}

async function create(ctx: Context, argv: string[]): Promise<number> {
  const p = parseArgs(argv, LEASE_CREATE_FLAGS);
  const labels = labelsFlag(multi(p.flags, 'label'));
  const exp = str(p.flags, 'expires');
  const lease = ctx.storage.leases.create({
    id: str(p.flags, 'id'),
    ttlMs: exp === undefined ? undefined : exp === '0' ? null : duration(exp),
    labels,
  });
  ctx.io.out(lease.id + '\n');
  return 0;
}

async function rm(ctx: Context, argv: string[]): Promise<number> {
  const p = parseArgs(argv, {});
  need(p, 1, 'berth-ctr leases rm ID...');
  return eachArg(ctx.io, p.args, async (id) => ctx.storage.leases.delete(id));
}

export const leaseVerbs: Record<string, (ctx: Context, argv: string[]) => Promise<number>> = {
  ls,
  list: ls,
  create,
  rm,
  remove: rm,
  delete: rm,
};
