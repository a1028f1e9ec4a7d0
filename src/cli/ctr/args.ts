// berth-ctr's use of the one parser (../args.ts): flags anywhere among the
// arguments (as ctr allows), usage errors in berth-ctr's name.

import type { BerthError } from '../../common/errors.js';
import { parseFlags, usageError as programUsageError, type FlagSpecs, type Parsed } from '../args.js';

export { str, bool, multi, type FlagSpecs, type Parsed } from '../args.js';

export function usageError(msg: string): BerthError {
  return programUsageError('berth-ctr', msg);
}

/** Parses flags anywhere among the arguments (until "--"); stops at the first positional when `stopAtPositional`. */
export function parseArgs(argv: string[], specs: FlagSpecs, stopAtPositional = false): Parsed {
  return parseFlags(argv, specs, { program: 'berth-ctr', interleaved: !stopAtPositional });
}

export function need(p: Parsed, n: number, usage: string): void {
  if (p.args.length < n) throw usageError(`usage: ${usage}`);
}
