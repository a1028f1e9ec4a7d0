// What the daemonless commands (./local.ts, on a store) and the client
// commands (./remote/, through an engine's API) share: the output streams, a
// verb's shape, and the dispatch of a group ("images ls") to its verb. Kept
// free of any store so that `berth-ctr --address` never loads SQLite.

import { messageOf, type BerthError } from '../../common/errors.js';
import { usageError } from './args.js';

export interface Output {
  out(s: string): void;
  err(s: string): void;
  /** Whether stdout is a terminal (progress bars) or not (plain lines). */
  tty: boolean;
}

export type Verb<C> = (ctx: C, argv: string[]) => Promise<number>;

export function noSuchVerb(group: string, verb: string | undefined, verbs: string[]): BerthError {
  return usageError(
    verb === undefined
      ? `usage: berth-ctr ${group} ${verbs.join('|')}`
      : `unknown command "${group} ${verb}" (try: ${verbs.join(', ')})`,
  );
}

/** One verb that runs the group's sub-verb named by its first argument. */
export function group<C>(name: string, verbs: Record<string, Verb<C>>, extra: Record<string, Verb<C>> = {}): Verb<C> {
  const all = { ...verbs, ...extra };
  return (ctx, argv) => {
    const [verb, ...rest] = argv;
    const f = verb === undefined ? undefined : all[verb];
    if (!f) throw noSuchVerb(name, verb, Object.keys(all));
    return f(ctx, rest);
  };
}

/** "key=value" flags as labels ("key" alone: an empty value). */
export function labelsFlag(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of list) {
    const eq = l.indexOf('=');
    out[eq === -1 ? l : l.slice(0, eq)] = eq === -1 ? '' : l.slice(eq + 1);
  }
  return out;
}

/** A duration flag ("30s", "10m", "24h", "2d"; a bare number is seconds) in milliseconds. */
export function duration(s: string): number {
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(s);
  if (!m) throw usageError(`invalid duration "${s}" (e.g. 30s, 10m, 24h)`);
  const mult = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[
    (m[2] ?? 's') as 'ms' | 's' | 'm' | 'h' | 'd'
  ];
  return Number(m[1]) * mult;
}

/** The flags of every `ls` verb that lists objects: names only, or JSON. */
export const LIST_FLAGS = { quiet: { kind: 'bool', alias: 'q' }, json: { kind: 'bool' } } as const;

/**
 * Runs `each` on every argument, as ctr's rm verbs do: a failure is reported
 * on stderr and the others still run; the status is 1 when any failed.
 */
export async function eachArg(io: Output, args: string[], each: (arg: string) => Promise<void>): Promise<number> {
  let status = 0;
  for (const a of args) {
    try {
      await each(a);
    } catch (e) {
      io.err(`berth-ctr: ${messageOf(e)}\n`);
      status = 1;
    }
  }
  return status;
}

/**
 * "KEY=VALUE" arguments of a `label` verb as updates: a value to set, or null
 * to remove the label ("KEY" alone, and "KEY=" when `emptyRemoves`, as ctr's
 * namespaces label); the last word on a key wins.
 */
export function labelUpdates(args: string[], emptyRemoves = false): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const l of args) {
    const eq = l.indexOf('=');
    const key = eq === -1 ? l : l.slice(0, eq);
    const value = eq === -1 ? null : l.slice(eq + 1);
    out[key] = value === '' && emptyRemoves ? null : value;
  }
  return out;
}

/** Updates (labelUpdates) as containerd's Update takes them: the labels kept, and every key in the mask. */
export function labelMask(updates: Record<string, string | null>): {
  labels: Record<string, string>;
  fields: string[];
} {
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(updates)) if (v !== null) labels[k] = v;
  return { labels, fields: Object.keys(updates).map((k) => `labels.${k}`) };
}
