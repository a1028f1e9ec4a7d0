// berth-ctr leases ls|create|rm.

import { messageOf } from '../../common/errors.js';
import { need, parseArgs, str, multi, usageError } from './args.js';
import type { Context } from './context.js';
import { labelsString, table } from './format.js';

function duration(s: string): number {
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(s);
  if (!m) throw usageError(`invalid duration "${s}" (e.g. 30s, 10m, 24h)`);
  const mult = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[
    (m[2] ?? 's') as 'ms' | 's' | 'm' | 'h' | 'd'
  ];
  return Number(m[1]) * mult;
}

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
  const p = parseArgs(argv, {
    id: { kind: 'string' },
    expires: { kind: 'string', alias: 'x' },
    label: { kind: 'multi' },
  });
  const labels: Record<string, string> = {};
  for (const l of multi(p.flags, 'label')) {
    const eq = l.indexOf('=');
    labels[eq === -1 ? l : l.slice(0, eq)] = eq === -1 ? '' : l.slice(eq + 1);
  }
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
  let status = 0;
  for (const id of p.args) {
    try {
      ctx.storage.leases.delete(id);
    } catch (e) {
      ctx.io.err(`berth-ctr: ${messageOf(e)}\n`);
      status = 1;
    }
  }
  return status;
}

export const leaseVerbs: Record<string, (ctx: Context, argv: string[]) => Promise<number>> = {
  ls,
  list: ls,
  create,
  rm,
  remove: rm,
  delete: rm,
};
