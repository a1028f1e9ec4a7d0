// The one command-line parser of every Berth program, in runc's (and ctr's)
// style, which is Go's flag package under urfave/cli: "--flag value",
// "--flag=value", "-f" aliases, booleans that take "=true|false" only,
// repeatable flags, "--" to end flags. berth-runc stops at the first
// positional argument (global flags, then a verb and its flags); berth-ctr
// also takes flags after positionals (`interleaved`). Errors are usage
// errors: kind invalid-argument, step COMMAND_LINE (exit status 2), in Go's
// words.

import { BerthError, COMMAND_LINE, type Layer } from '../common/errors.js';

export type FlagKind = 'bool' | 'string' | 'multi';

export interface FlagSpec {
  kind: FlagKind;
  alias?: string;
  /** Accepted for compatibility with runc and ignored (documented in the README). */
  ignored?: boolean;
}

export type FlagSpecs = Record<string, FlagSpec>;
export type Flags = Record<string, boolean | string | string[] | undefined>;

export interface Parsed {
  flags: Flags;
  /** The positional arguments (and everything after "--"). */
  args: string[];
}

export interface ParseOptions {
  /** The program that reports a usage error. */
  program: Layer;
  /** Prefix of error messages: the verb ("create: flag provided but not defined: -x"). */
  context?: string;
  /** Flags may follow positional arguments (berth-ctr); otherwise the first positional ends them. */
  interleaved?: boolean;
}

export function usageError(program: Layer, message: string): BerthError {
  return new BerthError(program, 'invalid-argument', message, { step: COMMAND_LINE });
}

export function parseFlags(argv: string[], specs: FlagSpecs, opts: ParseOptions): Parsed {
  const fail = (msg: string) => usageError(opts.program, opts.context ? `${opts.context}: ${msg}` : msg);
  const flags: Flags = {};
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
      if (!opts.interleaved) {
        args.push(...argv.slice(i));
        break;
      }
      args.push(a);
      continue;
    }
    const body = a.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const key = eq >= 0 ? body.slice(0, eq) : body;
    const name = specs[key] ? key : byAlias.get(key);
    if (!name) throw fail(`flag provided but not defined: -${key}`);
    const spec = specs[name]!;
    if (spec.kind === 'bool') {
      const v = eq >= 0 ? body.slice(eq + 1) : 'true';
      if (v !== 'true' && v !== 'false') throw fail(`invalid boolean value "${v}" for -${key}`);
      flags[name] = v === 'true';
      continue;
    }
    let v: string;
    if (eq >= 0) v = body.slice(eq + 1);
    else {
      const next = argv[++i];
      if (next === undefined) throw fail(`flag needs an argument: -${key}`);
      v = next;
    }
    if (spec.kind === 'multi') flags[name] = [...((flags[name] as string[] | undefined) ?? []), v];
    else flags[name] = v;
  }
  return { flags, args };
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
