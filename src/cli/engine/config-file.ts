// berth-engine's config file: TOML (containerd's own format and key names)
// or JSON when it ends in .json, checked by a zod schema. Loaded only when
// --config is given (src/cli/engine/config.ts imports it dynamically): zod
// is the largest library in the engine's bundle (~0.7 MB) and, in a Bun
// executable, ~12 MiB of idle RSS that an engine without a file never uses.

import { readFileSync } from 'node:fs';
import { parse as parseToml } from 'smol-toml';
import { z } from 'zod';
import { BerthError, messageOf } from '../../common/errors.js';

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

export type ConfigFile = z.infer<typeof fileSchema>;

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
