// --filter key=value options as the Engine API's `filters` query parameter:
// {"key":{"value":true}}, several values for a key allowed.

import { CliError } from '../errors.js';

export function filterQuery(list: string[]): string | undefined {
  if (list.length === 0) return undefined;
  const out: Record<string, Record<string, boolean>> = {};
  for (const f of list) {
    const eq = f.indexOf('=');
    if (eq <= 0) throw new CliError(`bad format of filter (expected name=value)`, 125);
    const k = f.slice(0, eq).trim().toLowerCase();
    const v = f.slice(eq + 1).trim();
    (out[k] ??= {})[v] = true;
  }
  return JSON.stringify(out);
}
