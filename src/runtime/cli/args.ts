// runc-style argument parsing: global flags before the verb, the verb's flags
// before its positional arguments ("--flag value", "--flag=value", short
// aliases, repeatable flags), and "--" to end flags.

import { BerthError, COMMAND_LINE } from '../../common/errors.js';

export type FlagKind = 'bool' | 'string' | 'multi';

export interface FlagSpec {
  kind: FlagKind;
  alias?: string;
  /** Accepted for compatibility with runc and ignored (documented in the README). */
  ignored?: boolean;
}

export type Flags = Record<string, boolean | string | string[] | undefined>;

export interface Parsed {
  flags: Flags;
  rest: string[];
}

export function parseFlags(argv: string[], specs: Record<string, FlagSpec>, context: string): Parsed {
  const flags: Flags = {};
  const byAlias = new Map<string, string>();
  for (const [name, s] of Object.entries(specs)) if (s.alias) byAlias.set(s.alias, name);
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      i++;
      break;
    }
    if (!a.startsWith('-') || a === '-') break;
    const body = a.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const key = eq >= 0 ? body.slice(0, eq) : body;
    const name = specs[key] ? key : byAlias.get(key);
    if (!name) throw new BerthError('berth-runc', 'invalid-argument', `${context}: flag provided but not defined: -${key}`, { step: COMMAND_LINE });
    const spec = specs[name]!;
    if (spec.kind === 'bool') {
      const v = eq >= 0 ? body.slice(eq + 1) : 'true';
      if (v !== 'true' && v !== 'false') throw new BerthError('berth-runc', 'invalid-argument', `${context}: invalid boolean value "${v}" for -${key}`, { step: COMMAND_LINE });
      flags[name] = v === 'true';
      continue;
    }
    let v: string;
    if (eq >= 0) v = body.slice(eq + 1);
    else {
      const next = argv[++i];
      if (next === undefined) throw new BerthError('berth-runc', 'invalid-argument', `${context}: flag needs an argument: -${key}`, { step: COMMAND_LINE });
      v = next;
    }
    if (spec.kind === 'multi') flags[name] = [...((flags[name] as string[] | undefined) ?? []), v];
    else flags[name] = v;
  }
  return { flags, rest: argv.slice(i) };
}

export function str(f: Flags, name: string): string | undefined {
  const v = f[name];
  return typeof v === 'string' ? v : undefined;
}

export function bool(f: Flags, name: string): boolean {
  return f[name] === true;
}

export function multi(f: Flags, name: string): string[] {
  const v = f[name];
  return Array.isArray(v) ? v : [];
}

export function int(f: Flags, name: string, context: string): number | undefined {
  const v = str(f, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new BerthError('berth-runc', 'invalid-argument', `${context}: --${name}: "${v}" is not an integer`);
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
