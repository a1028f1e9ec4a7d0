// A small flag parser: long flags (--name value, --name=value), short aliases,
// booleans, repeatable strings, "--" ending the flags. Unknown flags are
// usage errors that name the flag.

import { BerthError, COMMAND_LINE } from '../../common/errors.js';

export type FlagKind = 'bool' | 'string' | 'strings';
export interface FlagSpec {
  kind: FlagKind;
  alias?: string;
}
export type FlagSpecs = Record<string, FlagSpec>;

export interface Parsed {
  flags: Record<string, string | boolean | string[] | undefined>;
  args: string[];
}

export function usageError(msg: string): BerthError {
  return new BerthError('berth-ctr', 'invalid-argument', msg, { step: COMMAND_LINE });
}

/** Parses flags anywhere among the arguments (until "--"); stops at the first positional when `stopAtPositional`. */
export function parseArgs(argv: string[], specs: FlagSpecs, stopAtPositional = false): Parsed {
  const flags: Parsed['flags'] = {};
  const args: string[] = [];
  const byAlias = new Map<string, string>();
  for (const [name, s] of Object.entries(specs)) if (s.alias) byAlias.set(s.alias, name);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      args.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      if (stopAtPositional) {
        args.push(...argv.slice(i));
        break;
      }
      args.push(a);
      continue;
    }
    let name: string;
    let value: string | undefined;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      name = eq === -1 ? a.slice(2) : a.slice(2, eq);
      value = eq === -1 ? undefined : a.slice(eq + 1);
    } else {
      const n = byAlias.get(a.slice(1));
      if (!n) throw usageError(`unknown flag ${a}`);
      name = n;
    }
    const spec = specs[name];
    if (!spec) throw usageError(`unknown flag --${name}`);
    if (spec.kind === 'bool') {
      if (value !== undefined && value !== 'true' && value !== 'false') throw usageError(`flag --${name} takes no value`);
      flags[name] = value !== 'false';
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= argv.length) throw usageError(`flag --${name} needs a value`);
      value = argv[++i]!;
    }
    if (spec.kind === 'strings') {
      const list = (flags[name] as string[] | undefined) ?? [];
      list.push(value);
      flags[name] = list;
    } else {
      flags[name] = value;
    }
  }
  return { flags, args };
}

export const str = (p: Parsed, name: string): string | undefined => p.flags[name] as string | undefined;
export const bool = (p: Parsed, name: string): boolean => p.flags[name] === true;
export const strs = (p: Parsed, name: string): string[] => (p.flags[name] as string[] | undefined) ?? [];

export function need(p: Parsed, n: number, usage: string): void {
  if (p.args.length < n) throw usageError(`usage: ${usage}`);
}
