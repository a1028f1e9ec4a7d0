// Registry error responses ({"errors":[{"code","message","detail"}]}) turned
// into BerthErrors that say which registry, which operation and why.

import { BerthError, type ErrorCode } from '../../common/errors.js';
import type { HttpResponse } from './http-types.js';
import { readBody } from './transport.js';

export interface RegistryErrorEntry {
  code?: string;
  message?: string;
  detail?: unknown;
}

export function parseErrorBody(body: Buffer): RegistryErrorEntry[] {
  try {
    const j = JSON.parse(body.toString('utf8')) as { errors?: unknown };
    if (Array.isArray(j.errors)) return j.errors.filter((e): e is RegistryErrorEntry => !!e && typeof e === 'object');
  } catch {
    // not the registry's JSON: the status says enough
  }
  return [];
}

function codeFor(status: number, entries: RegistryErrorEntry[]): ErrorCode {
  const first = entries[0]?.code;
  if (first === 'DIGEST_INVALID') return 'digest-mismatch';
  if (status === 401 || status === 403) return 'permission-denied';
  if (status === 404) return 'not-found';
  if (status === 409) return 'failed-precondition';
  if (status === 429 || status >= 500) return 'unavailable';
  return 'invalid-argument';
}

/** Read (a bounded amount of) an error response and make the error. */
export async function responseError(res: HttpResponse, what: string, host: string): Promise<BerthError> {
  let body: Buffer = Buffer.alloc(0);
  try {
    body = await readBody(res, 64 * 1024, 'error response');
  } catch {
    // an oversized or broken error body: report the status alone
  }
  const status = res.statusCode ?? 0;
  const entries = parseErrorBody(body);
  let detail = entries
    .map((e) => [e.code, e.message].filter(Boolean).join(': '))
    .filter(Boolean)
    .join('; ');
  const hint = res.authHint;
  if (status === 401 && hint) detail = detail ? `${hint}; ${detail}` : hint;
  if (!detail) {
    if (status === 401) detail = 'authentication required';
    else if (status === 404) detail = 'not found';
    else detail = res.statusMessage ?? '';
  }
  const err = new BerthError(
    'image',
    codeFor(status, entries),
    `${what}: ${host} answered ${status}${detail ? ` (${detail})` : ''}`,
  );
  return Object.assign(err, { status });
}

export function statusOf(e: unknown): number | undefined {
  const s = (e as { status?: unknown } | undefined)?.status;
  return typeof s === 'number' ? s : undefined;
}
