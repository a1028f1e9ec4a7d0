// config.json enters the runtime here, and only here: parseSpec turns
// untrusted JSON into a Spec that the plan compiler may trust. Shape comes
// from schema.ts (zod/mini), the rules between fields from rules.ts. Every
// failure is one BerthError naming the field in config.json's own terms:
//   config.json: linux.namespaces[2].type: unknown namespace "foo"
//
// Why zod/mini: the CLI is one esbuild bundle and starts once per runc verb.
// Measured here (Node 20, 2026-11-28, medians of 40 interleaved runs of a
// bundle that parses the default spec): no validation 121 ms, zod/mini 146 ms,
// classic zod 171 ms; classic's method-chaining API defeats tree shaking
// (225 KB of bundle against 77 KB). Of zod/mini's ~25 ms, building the schemas
// is ~12 ms, the first parse ~3 ms and the rules ~1.5 ms; schema.ts builds
// lazily, so verbs that never read config.json pay only the module load.

import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BerthError, errnoOf, messageOf } from '../../common/errors.js';
import { fieldPath } from './field.js';
import { checkProcess, checkSpec } from './rules.js';
import { processSchema, specSchema } from './schema.js';
import type { Process, Spec } from './types.js';

function invalid(field: string, message: string, file = 'config.json'): never {
  const where = field ? `${file}: ${field}: ` : `${file}: `;
  throw new BerthError('runtime', 'invalid-argument', where + message, field ? { field } : {});
}

/** Deeper than any real config (about 6 levels); stops hostile nesting before it costs stack. */
const MAX_DEPTH = 32;

/**
 * A copy of the parsed JSON, prepared for the schema:
 * - Go's encoding/json reads null as "absent", and some generators write
 *   `"args": null`; so, for runc's sake, null object properties are dropped
 *   (a null inside an array stays, and is an error);
 * - a "__proto__" key is refused: copied into a plain object it would set the
 *   prototype instead of a property;
 * - nesting deeper than MAX_DEPTH is refused.
 */
function prepare(v: unknown, file: string, path: (string | number)[] = []): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (path.length > MAX_DEPTH) invalid(fieldPath(path), `nested more than ${MAX_DEPTH} levels deep`, file);
  if (Array.isArray(v)) return v.map((x, i) => prepare(x, file, [...path, i]));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if (k === '__proto__') invalid(fieldPath(path), 'the key "__proto__" is not allowed', file);
    if (x !== null) out[k] = prepare(x, file, [...path, k]);
  }
  return out;
}

/**
 * Validates a parsed config.json and returns it as a Spec: unknown properties
 * removed, relative mount destinations resolved against "/". Throws a
 * BerthError('runtime', 'invalid-argument') naming the first bad field.
 */
export function parseSpec(json: unknown): Spec {
  const r = specSchema().safeParse(prepare(json, 'config.json'));
  if (!r.success) {
    const issue = r.error.issues[0]!;
    invalid(fieldPath(issue.path), issue.message);
  }
  const spec: Spec = r.data;
  checkSpec(spec, (field, message) => invalid(field, message));
  return spec;
}

/**
 * Validates one process object, as `exec --process process.json` reads it.
 * Errors name the field relative to the process: "process.json: args: ...".
 */
export function parseProcess(json: unknown, file = 'process.json'): Process {
  const r = processSchema().safeParse(prepare(json, file));
  if (!r.success) {
    const issue = r.error.issues[0]!;
    invalid(fieldPath(issue.path), issue.message, file);
  }
  const proc: Process = r.data;
  checkProcess(proc, (field, message) => invalid(field, message, file), '');
  return proc;
}

/** Real configs are tens of KB (Docker's with its seccomp profile ~10 KB). */
const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

/** Reads and validates <bundleDir>/config.json. Errors name the file. */
export function parseSpecFile(bundleDir: string): Spec {
  const file = join(bundleDir, 'config.json');
  let text: string;
  try {
    const size = statSync(file).size;
    if (size > MAX_CONFIG_BYTES) {
      throw new BerthError(
        'runtime',
        'invalid-argument',
        `${file}: ${size} bytes is too large for a config (limit ${MAX_CONFIG_BYTES})`,
      );
    }
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if (e instanceof BerthError) throw e;
    const code = errnoOf(e);
    if (code === 'ENOENT')
      throw new BerthError('runtime', 'not-found', `${file}: no such file (is ${bundleDir} an OCI bundle?)`, {
        cause: e,
      });
    if (code === 'EACCES' || code === 'EPERM')
      throw new BerthError('runtime', 'permission-denied', `${file}: permission denied`, { cause: e });
    throw new BerthError('runtime', 'invalid-argument', `${file}: cannot read: ${messageOf(e)}`, { cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new BerthError('runtime', 'invalid-argument', `${file}: not valid JSON: ${messageOf(e)}`, { cause: e });
  }
  return parseSpec(json);
}
