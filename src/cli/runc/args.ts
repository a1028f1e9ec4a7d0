// berth-runc's use of the one parser (../args.ts): global flags before the
// verb, the verb's flags before its arguments; and the value checks of its
// verbs.

import { BerthError } from '../../common/errors.js';
import { parseFlags as parse, str, type FlagSpecs, type Flags, type Parsed } from '../args.js';

export { str, bool, multi, type FlagSpec, type Flags, type Parsed } from '../args.js';

/** Global flags, then the verb; a verb's flags, then its arguments. */
export function parseFlags(argv: string[], specs: FlagSpecs, context: string): Parsed {
  return parse(argv, specs, { program: 'berth-runc', context });
}

export function int(f: Flags, name: string, context: string): number | undefined {
  const v = str(f, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n))
    throw new BerthError('berth-runc', 'invalid-argument', `${context}: --${name}: "${v}" is not an integer`);
  return n;
}

/** "512m", "1G", "1024" → bytes (docker/go-units RAMInBytes semantics: binary multiples). */
export function bytes(v: string, what: string): number {
  const m = /^(-?\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?$/i.exec(v.trim());
  if (!m) throw new BerthError('berth-runc', 'invalid-argument', `${what}: invalid size "${v}"`);
  const mult: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };
  return Math.round(Number(m[1]) * mult[m[2]!.toLowerCase()]!);
}

export function requireId(rest: string[], verb: string): string {
  const id = rest[0];
  if (!id) throw new BerthError('berth-runc', 'invalid-argument', `"${verb}" requires a container id`);
  return id;
}
