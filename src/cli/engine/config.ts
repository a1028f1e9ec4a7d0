// berth-engine's configuration: flags over an optional file over defaults.
// The file is TOML (containerd's own format and key names: root, state,
// [grpc] address, [debug] level/format) or JSON when it ends in .json.

import { readFileSync } from 'node:fs';
import { parse as parseToml } from 'smol-toml';
import { z } from 'zod';
import { BerthError, messageOf } from '../../common/errors.js';
import type { Level } from '../../common/log.js';

export const DEFAULTS = {
  root: '/var/lib/berth',
  state: '/run/berth',
  address: '/run/berth/engine.sock',
};

const level = z.enum(['debug', 'info', 'warn', 'warning', 'error', 'fatal']);

const fileSchema = z
  .object({
    version: z.number().int().optional(),
    root: z.string().min(1).optional(),
    state: z.string().min(1).optional(),
    grpc: z
      .object({ address: z.string().min(1).optional() })
      .strict()
      .optional(),
    debug: z
      .object({ level: level.optional(), format: z.enum(['text', 'json']).optional() })
      .strict()
      .optional(),
    berth: z
      .object({
        snapshotters: z.array(z.enum(['overlayfs', 'native'])).optional(),
        gc_delay_ms: z.number().int().min(0).optional(),
        ingest_ttl_s: z.number().int().min(0).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export interface EngineConfig {
  root: string;
  state: string;
  address: string;
  logLevel: Level;
  logFormat: 'text' | 'json';
  snapshotters: ('overlayfs' | 'native')[];
  gcDelayMs: number;
  ingestTtlMs: number;
}

export function normalLevel(l: string): Level {
  return l === 'warn' ? 'warning' : (l as Level);
}

export function readConfigFile(path: string): z.infer<typeof fileSchema> {
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
  const r = fileSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new BerthError(
      'berth-engine',
      'invalid-argument',
      `config ${path}: ${issue.path.join('.') || '(top)'}: ${issue.message}`,
      {
        field: issue.path.join('.'),
      },
    );
  }
  return r.data;
}

export interface Flags {
  root?: string;
  state?: string;
  address?: string;
  logLevel?: string;
  logFormat?: string;
  config?: string;
}

export function resolveConfig(flags: Flags): EngineConfig {
  const file = flags.config ? readConfigFile(flags.config) : {};
  const lvl = flags.logLevel ?? file.debug?.level ?? 'info';
  if (!level.safeParse(lvl).success) {
    throw new BerthError(
      'berth-engine',
      'invalid-argument',
      `--log-level ${JSON.stringify(lvl)}: want debug, info, warn, error or fatal`,
      { field: '--log-level' },
    );
  }
  const fmt = flags.logFormat ?? file.debug?.format ?? 'json';
  if (fmt !== 'text' && fmt !== 'json') {
    throw new BerthError('berth-engine', 'invalid-argument', `--log-format ${JSON.stringify(fmt)}: want text or json`, {
      field: '--log-format',
    });
  }
  return {
    root: flags.root ?? file.root ?? DEFAULTS.root,
    state: flags.state ?? file.state ?? DEFAULTS.state,
    address: flags.address ?? file.grpc?.address ?? DEFAULTS.address,
    logLevel: normalLevel(lvl),
    logFormat: fmt,
    snapshotters: file.berth?.snapshotters ?? ['overlayfs', 'native'],
    gcDelayMs: file.berth?.gc_delay_ms ?? 100,
    ingestTtlMs: (file.berth?.ingest_ttl_s ?? 24 * 3600) * 1000,
  };
}
