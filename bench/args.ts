// The A/B benches' command line: numeric options taken out of the argument
// list (what is left names the builds to compare), each checked here.

/**
 * The value of `name` (a positive number; a whole one with `integer`),
 * removed with its value from `args`; `dflt` when not given.
 */
export function takeOption(args: string[], name: string, dflt: number, integer = false): number {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  const v = Number(args[i + 1]);
  const ok = (integer ? Number.isInteger(v) : Number.isFinite(v)) && v > 0;
  if (!ok) throw new Error(`${name}: a positive ${integer ? 'integer' : 'number'}, not ${String(args[i + 1])}`);
  args.splice(i, 2);
  return v;
}
