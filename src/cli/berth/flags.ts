// A pflag-style argument parser, as docker's cobra commands parse: long
// flags (--name value, --name=value), shorthands combined (-it, -p80:80,
// -p=80:80), booleans with optional =true/false, repeatable list flags,
// `--` ending the flags, and flags after positional arguments unless the
// command stops at its first one (run, create, exec: what follows the image
// belongs to the container).

export type FlagType = 'bool' | 'string' | 'int' | 'list' | 'duration' | 'bytes' | 'float';

export interface FlagSpec {
  name: string;
  short?: string;
  type: FlagType;
  usage: string;
  /** Shown in help as "(default ...)"; the parsed value when the flag is absent. */
  default?: string | number | boolean;
  /** The value-type word shown in help ("string", "list", "filter"...). */
  typeName?: string;
  hidden?: boolean;
}

export type FlagValue = string | number | boolean | string[];

export class FlagError extends Error {}

export class Flags {
  constructor(
    readonly specs: FlagSpec[],
    readonly values: Map<string, FlagValue>,
    readonly changed: Set<string>,
  ) {}
  bool(name: string): boolean {
    return this.values.get(name) === true;
  }
  string(name: string): string {
    const v = this.values.get(name);
    return typeof v === 'string' ? v : v === undefined ? '' : String(v);
  }
  int(name: string): number {
    const v = this.values.get(name);
    return typeof v === 'number' ? v : Number(v ?? 0);
  }
  list(name: string): string[] {
    const v = this.values.get(name);
    return Array.isArray(v) ? v : [];
  }
  has(name: string): boolean {
    return this.changed.has(name);
  }
}

function flagTitle(s: FlagSpec): string {
  return s.short ? `-${s.short}, --${s.name}` : `--${s.name}`;
}

function convert(s: FlagSpec, raw: string): FlagValue {
  switch (s.type) {
    case 'bool': {
      const t = ['1', 't', 'T', 'true', 'TRUE', 'True'];
      const f = ['0', 'f', 'F', 'false', 'FALSE', 'False'];
      if (t.includes(raw)) return true;
      if (f.includes(raw)) return false;
      throw new FlagError(
        `invalid argument "${raw}" for "${flagTitle(s)}" flag: strconv.ParseBool: parsing "${raw}": invalid syntax`,
      );
    }
    case 'int':
      if (!/^[+-]?\d+$/.test(raw)) {
        throw new FlagError(
          `invalid argument "${raw}" for "${flagTitle(s)}" flag: strconv.ParseInt: parsing "${raw}": invalid syntax`,
        );
      }
      return Number(raw);
    case 'float':
      if (raw.trim() === '' || Number.isNaN(Number(raw))) {
        throw new FlagError(
          `invalid argument "${raw}" for "${flagTitle(s)}" flag: strconv.ParseFloat: parsing "${raw}": invalid syntax`,
        );
      }
      return Number(raw);
    case 'bytes':
      // go-units RAMInBytes, as docker's MemBytes flag value parses it.
      if (!/^\s*\d+(\.\d+)?\s*([kmgtpKMGTP]?)([iI]?[bB])?\s*$/.test(raw) && raw !== '-1') {
        throw new FlagError(`invalid argument "${raw}" for "${flagTitle(s)}" flag: invalid size: '${raw}'`);
      }
      return raw;
    case 'duration':
      if (!/^([0-9]*(\.[0-9]*)?(ns|us|µs|ms|s|m|h))+$/.test(raw) && raw !== '0') {
        throw new FlagError(`invalid argument "${raw}" for "${flagTitle(s)}" flag: time: invalid duration "${raw}"`);
      }
      return raw;
    default:
      return raw;
  }
}

export interface ParseResult {
  flags: Flags;
  args: string[];
  /** True when the arguments held -h/--help. */
  help: boolean;
}

/**
 * Parse `argv` against `specs`. With `interspersed` false, the first
 * positional argument ends the flags (the rest are positional).
 */
export function parseFlags(argv: string[], specs: FlagSpec[], interspersed = true): ParseResult {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short!, s]));
  const values = new Map<string, FlagValue>();
  const changed = new Set<string>();
  for (const s of specs) {
    if (s.type === 'list') values.set(s.name, []);
    else if (s.default !== undefined) values.set(s.name, s.default);
    else if (s.type === 'bool') values.set(s.name, false);
  }
  const set = (s: FlagSpec, raw: string) => {
    const v = convert(s, raw);
    if (s.type === 'list') {
      // A list given again appends; its default never survives a user value.
      const cur = changed.has(s.name) ? (values.get(s.name) as string[]) : [];
      values.set(s.name, [...cur, raw]);
    } else values.set(s.name, v);
    changed.add(s.name);
  };
  const args: string[] = [];
  let help = false;
  let i = 0;
  while (i < argv.length) {
    const a = argv[i++]!;
    if (a === '--') {
      args.push(...argv.slice(i));
      break;
    }
    if (a.startsWith('--') && a.length > 2) {
      const eq = a.indexOf('=');
      const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      const s = byName.get(name);
      if (!s) {
        if (name === 'help') {
          help = true;
          continue;
        }
        throw new FlagError(`unknown flag: --${name}`);
      }
      if (eq >= 0) set(s, a.slice(eq + 1));
      else if (s.type === 'bool') set(s, 'true');
      else {
        if (i >= argv.length) throw new FlagError(`flag needs an argument: --${name}`);
        set(s, argv[i++]!);
      }
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      let j = 1;
      while (j < a.length) {
        const c = a[j]!;
        const s = byShort.get(c);
        if (!s) {
          if (c === 'h') {
            help = true;
            j++;
            continue;
          }
          throw new FlagError(`unknown shorthand flag: '${c}' in ${a}`);
        }
        const rest = a.slice(j + 1);
        if (s.type === 'bool') {
          if (rest.startsWith('=')) {
            set(s, rest.slice(1));
            break;
          }
          set(s, 'true');
          j++;
          continue;
        }
        if (rest.length > 0) set(s, rest.startsWith('=') ? rest.slice(1) : rest);
        else {
          if (i >= argv.length) throw new FlagError(`flag needs an argument: '${c}' in -${c}`);
          set(s, argv[i++]!);
        }
        break;
      }
      continue;
    }
    args.push(a);
    if (!interspersed) {
      args.push(...argv.slice(i));
      break;
    }
  }
  return { flags: new Flags(specs, values, changed), args, help };
}
