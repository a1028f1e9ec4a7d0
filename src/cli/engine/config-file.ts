// berth-engine's config file: TOML (containerd's own format and key names)
// or JSON when it ends in .json. Loaded only when --config is given
// (src/cli/engine/config.ts imports it dynamically). Checked by hand rather
// than with zod: the file has a dozen keys, and zod was the largest library
// in the engine's executable (~0.6 MB of source plus its bytecode), all of
// it resident in a Bun executable whether it runs or not (bench/README.md,
// engine.ts).

import { readFileSync } from 'node:fs';
import { parse as parseToml } from 'smol-toml';
import { BerthError, messageOf } from '../../common/errors.js';

const LEVELS = ['debug', 'info', 'warn', 'warning', 'error', 'fatal'] as const;
const SNAPSHOTTERS = ['overlayfs', 'native'] as const;

export interface ConfigFile {
  version?: number;
  root?: string;
  state?: string;
  grpc?: { address?: string };
  debug?: { level?: (typeof LEVELS)[number]; format?: 'text' | 'json' };
  berth?: { snapshotters?: (typeof SNAPSHOTTERS)[number][]; gc_delay_ms?: number; ingest_ttl_s?: number };
}

/** A key of the file that is not what it should be: its dotted path and why. */
class Bad extends Error {
  constructor(
    readonly path: string,
    why: string,
  ) {
    super(why);
  }
}

type Table = Record<string, unknown>;

function table(v: unknown, path: string, keys: readonly string[]): Table {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Bad(path, 'expected a table');
  for (const k of Object.keys(v)) {
    if (!keys.includes(k)) throw new Bad(path ? `${path}.${k}` : k, `unrecognized key "${k}"`);
  }
  return v as Table;
}

function str(v: unknown, path: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '') throw new Bad(path, 'expected a non-empty string');
  return v;
}

function int(v: unknown, path: string, min?: number): number | undefined {
  if (v === undefined) return undefined;
  // smol-toml gives integers as numbers (bigint only past 2^53)
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new Bad(path, 'expected an integer');
  if (min !== undefined && v < min) throw new Bad(path, `expected an integer >= ${min}`);
  return v;
}

function oneOf<T extends string>(v: unknown, path: string, values: readonly T[]): T | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v))
    throw new Bad(path, `expected one of ${values.join(', ')}`);
  return v as T;
}

function sub<T>(v: unknown, path: string, keys: readonly string[], read: (t: Table) => T): T | undefined {
  return v === undefined ? undefined : read(table(v, path, keys));
}

function check(raw: unknown): ConfigFile {
  const t = table(raw, '', ['version', 'root', 'state', 'grpc', 'debug', 'berth']);
  return {
    version: int(t.version, 'version'),
    root: str(t.root, 'root'),
    state: str(t.state, 'state'),
    grpc: sub(t.grpc, 'grpc', ['address'], (g) => ({ address: str(g.address, 'grpc.address') })),
    debug: sub(t.debug, 'debug', ['level', 'format'], (d) => ({
      level: oneOf(d.level, 'debug.level', LEVELS),
      format: oneOf(d.format, 'debug.format', ['text', 'json'] as const),
    })),
    berth: sub(t.berth, 'berth', ['snapshotters', 'gc_delay_ms', 'ingest_ttl_s'], (b) => {
      let snapshotters: (typeof SNAPSHOTTERS)[number][] | undefined;
      if (b.snapshotters !== undefined) {
        if (!Array.isArray(b.snapshotters)) throw new Bad('berth.snapshotters', 'expected an array');
        snapshotters = b.snapshotters.map((s, i) => oneOf(s, `berth.snapshotters.${i}`, SNAPSHOTTERS)!);
      }
      return {
        snapshotters,
        gc_delay_ms: int(b.gc_delay_ms, 'berth.gc_delay_ms', 0),
        ingest_ttl_s: int(b.ingest_ttl_s, 'berth.ingest_ttl_s', 0),
      };
    }),
  };
}

export function readConfigFile(path: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new BerthError('berth-engine', 'invalid-argument', `config ${path}: ${messageOf(e)}`, { field: '--config' });
  }
  let raw: unknown;
  try {
    raw = path.endsWith('.json') ? JSON.parse(text) : parseToml(text);
  } catch (e) {
    throw new BerthError('berth-engine', 'invalid-argument', `config ${path}: ${messageOf(e)}`, { field: '--config' });
  }
  try {
    return check(raw);
  } catch (e) {
    if (!(e instanceof Bad)) throw e;
    throw new BerthError('berth-engine', 'invalid-argument', `config ${path}: ${e.path || '(top)'}: ${e.message}`, {
      field: e.path,
    });
  }
}
