// --filter key=value options as the Engine API's `filters` query parameter:
// {"key":{"value":true}}, several values for a key allowed.

import { FlagError } from '../flags.js';

/** `title` is how pflag names the flag in its error ("-f, --filter"). */
export function filterQuery(list: string[], title = '-f, --filter'): string | undefined {
  if (list.length === 0) return undefined;
  const out: Record<string, Record<string, boolean>> = {};
  for (const f of list) {
    const eq = f.indexOf('=');
    if (eq <= 0)
      throw new FlagError(`invalid argument "${f}" for "${title}" flag: bad format of filter (expected name=value)`);
    const k = f.slice(0, eq).trim().toLowerCase();
    const v = f.slice(eq + 1).trim();
    (out[k] ??= {})[v] = true;
  }
  return JSON.stringify(out);
}
