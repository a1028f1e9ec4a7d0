// Restart policies as dockerd's restart manager decides them: `always`
// restarts after any exit, `unless-stopped` unless the user stopped it,
// `on-failure[:N]` after a non-zero exit while fewer than N restarts were
// made (0 = no bound), `no` never. The delay doubles from 100 ms per restart
// up to a minute, back to 100 ms once a run lasted 10 s. A `docker stop` or
// `kill` cancels the pending restart of any policy; when berthd starts again,
// the same rules decide what comes back, with the user's stop still counting
// for `unless-stopped` only — dockerd's behaviour, `always` comes back.

import type { ContainerRecord } from './record.js';

const FIRST_MS = 100;
const MAX_MS = 60_000;
/** A run this long resets the back-off. */
const RESET_AFTER_MS = 10_000;

export function validRestartPolicy(p: { Name?: string; MaximumRetryCount?: number } | null | undefined): string | null {
  const name = p?.Name ?? '';
  const max = p?.MaximumRetryCount ?? 0;
  if (!['', 'no', 'always', 'unless-stopped', 'on-failure'].includes(name))
    return `invalid restart policy: unknown policy '${name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`;
  if (max < 0) return 'invalid restart policy: maximum retry count cannot be negative';
  if (max > 0 && name !== 'on-failure')
    return "invalid restart policy: maximum retry count can only be used with 'on-failure'";
  return null;
}

/** Would the policy restart after this exit? `manual` is the user's stop (or, at an exit, a canceled restart). */
export function policyRestarts(r: ContainerRecord, exitCode: number, manual: boolean): boolean {
  const p = r.HostConfig.RestartPolicy;
  switch (p?.Name) {
    case 'always':
      return true;
    case 'unless-stopped':
      return !manual;
    case 'on-failure':
      return exitCode !== 0 && (!p.MaximumRetryCount || r.RestartCount < p.MaximumRetryCount);
    default:
      return false;
  }
}

export class BackOff {
  private readonly delays = new Map<string, number>();

  /** The delay before the next restart, given how long the run that just ended lasted. */
  next(id: string, ranMs: number): number {
    let d = this.delays.get(id) ?? 0;
    if (ranMs >= RESET_AFTER_MS) d = 0;
    d = d === 0 ? FIRST_MS : Math.min(d * 2, MAX_MS);
    this.delays.set(id, d);
    return d;
  }

  forget(id: string): void {
    this.delays.delete(id);
  }
}
