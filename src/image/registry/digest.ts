// Digests in registry responses: validated (../reference.ts owns the rule)
// before they go into a URL or a comparison, and computed over bytes we hold.

import { createHash } from 'node:crypto';
import type { Digest } from '../content/types.js';
import { isDigest, validateDigest } from '../reference.js';

export { isDigest };

export function checkDigest(s: unknown, what: string): Digest {
  return validateDigest(typeof s === 'string' ? s : String(s), what);
}

export function algorithmOf(d: Digest): 'sha256' | 'sha512' {
  return d.startsWith('sha512:') ? 'sha512' : 'sha256';
}

export function digestOf(data: Uint8Array, algorithm: 'sha256' | 'sha512' = 'sha256'): Digest {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}
