// The healthcheck configuration as dockerd reads it: Config.Healthcheck
// (Test, Interval, Timeout, StartPeriod, StartInterval, Retries; durations in
// nanoseconds) merged field by field over the image's HEALTHCHECK, checked at
// create with dockerd's words, and the defaults the monitor applies when a
// field is zero. Also Go's time.Duration spelling, which dockerd's timeout
// message uses ("Health check exceeded timeout (1s)").

import { z } from 'zod';
import { badRequest } from '../http/errors.js';

export const HealthcheckSchema = z.looseObject({
  Test: z.array(z.string()).nullish(),
  Interval: z.number().int().nullish(),
  Timeout: z.number().int().nullish(),
  StartPeriod: z.number().int().nullish(),
  StartInterval: z.number().int().nullish(),
  Retries: z.number().int().nullish(),
});
export type Healthcheck = z.infer<typeof HealthcheckSchema>;

const MS = 1_000_000;
const S = 1_000 * MS;

/** dockerd's defaults (daemon/health.go), in nanoseconds. */
export const DEFAULTS = { interval: 30 * S, timeout: 30 * S, startPeriod: 0, startInterval: 5 * S, retries: 3 };

/** The user's healthcheck over the image's: a missing block takes the image's; a zero field takes the image's value. */
export function mergeHealthcheck(user: Healthcheck | null | undefined, image: unknown): Healthcheck | undefined {
  const parsed = HealthcheckSchema.safeParse(image);
  const img = parsed.success ? parsed.data : undefined;
  if (!user) return img ?? undefined;
  if (!img) return user;
  return {
    ...user,
    Test: user.Test?.length ? user.Test : img.Test,
    Interval: user.Interval || img.Interval,
    Timeout: user.Timeout || img.Timeout,
    StartPeriod: user.StartPeriod || img.StartPeriod,
    StartInterval: user.StartInterval || img.StartInterval,
    Retries: user.Retries || img.Retries,
  };
}

/** dockerd's checks at create (verifyContainerSettings): a 400 naming the field. */
export function validateHealthcheck(h: Healthcheck | null | undefined): void {
  if (!h) return;
  for (const f of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval'] as const) {
    const v = h[f];
    if (v && v < MS) throw badRequest(`${f} in Healthcheck cannot be less than 1ms`, `Healthcheck.${f}`);
  }
  if (h.Retries && h.Retries < 0) throw badRequest('Retries in Healthcheck cannot be negative', 'Healthcheck.Retries');
}

/** The argv a probe runs, or undefined when there is nothing to run (no test, NONE, or a kind dockerd ignores). */
export function probeArgv(h: Healthcheck | null | undefined, shell: string[] | undefined): string[] | undefined {
  const t = h?.Test;
  if (!t?.length) return undefined;
  switch (t[0]) {
    case 'CMD':
      return t.length > 1 ? t.slice(1) : undefined;
    case 'CMD-SHELL':
      return [...(shell?.length ? shell : ['/bin/sh', '-c']), ...t.slice(1)];
    default:
      return undefined;
  }
}

/** Go's time.Duration.String(): 1s, 500ms, 1m30s, 1.5s, 2h0m0s. */
export function goDuration(ns: number): string {
  if (ns === 0) return '0s';
  const neg = ns < 0;
  let n = Math.abs(ns);
  let out: string;
  if (n < 1000) out = `${n}ns`;
  else if (n < MS) out = `${trim(n / 1000)}µs`;
  else if (n < S) out = `${trim(n / MS)}ms`;
  else {
    const h = Math.floor(n / (3600 * S));
    n -= h * 3600 * S;
    const m = Math.floor(n / (60 * S));
    n -= m * 60 * S;
    const s = `${trim(n / S)}s`;
    out = h ? `${h}h${m}m${s}` : m ? `${m}m${s}` : s;
  }
  return neg ? `-${out}` : out;
}

function trim(v: number): string {
  return Number(v.toFixed(9)).toString();
}
