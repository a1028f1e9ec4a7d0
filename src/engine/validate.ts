// containerd's rules for names and labels, checked where a request enters:
// identifiers (namespaces, leases, containers) as containerd's identifiers
// package defines them, and labels within its size limit.

import { BerthError } from '../common/errors.js';

// written as containerd writes it: its error messages print the pattern
const IDENTIFIER = /^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$/;
const MAX_IDENTIFIER = 76;
/** containerd's labels.Validate: key and value together at most 4 KiB. */
export const MAX_LABEL_SIZE = 4096;

function invalid(message: string, field: string): BerthError {
  return new BerthError('berth-engine', 'invalid-argument', message, { field });
}

/** A namespace, lease or container id: containerd's identifier grammar, so no path separator can enter a path. */
export function validateIdentifier(id: string, what: string): void {
  if (id === '') throw invalid(`${what}: identifier must not be empty`, what);
  if (id.length > MAX_IDENTIFIER) {
    throw invalid(
      `${what}: identifier ${JSON.stringify(id)} greater than maximum length (${MAX_IDENTIFIER} characters)`,
      what,
    );
  }
  if (!IDENTIFIER.test(id)) {
    throw invalid(`${what}: identifier ${JSON.stringify(id)} must match ${IDENTIFIER.source}`, what);
  }
}

export function validateLabels(labels: Record<string, string> | undefined, what = 'labels'): void {
  if (!labels) return;
  for (const [k, v] of Object.entries(labels)) {
    if (k === '') throw invalid(`${what}: label key must not be empty`, what);
    if (Buffer.byteLength(k) + Buffer.byteLength(v) > MAX_LABEL_SIZE) {
      throw invalid(
        `${what}: label key and value greater than maximum size (${MAX_LABEL_SIZE} bytes), key: ${k.slice(0, 64)}`,
        what,
      );
    }
  }
}

/** A snapshot key or image name: any text, but no NUL, bounded, not empty. */
export function validateName(name: string, what: string): void {
  if (name === '') throw invalid(`${what} must not be empty`, what);
  if (name.length > 4096 || name.includes('\0'))
    throw invalid(`${what} ${JSON.stringify(name.slice(0, 64))} is not a valid name`, what);
}

const DIGEST = /^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$/;

export function validateDigest(d: string, what = 'digest'): void {
  if (!DIGEST.test(d)) {
    if (
      /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/.test(d) &&
      !d.startsWith('sha256:') &&
      !d.startsWith('sha512:')
    ) {
      throw new BerthError(
        'berth-engine',
        'invalid-argument',
        `${what} ${JSON.stringify(d)}: unsupported digest algorithm`,
        { field: what },
      );
    }
    throw invalid(`${what} ${JSON.stringify(d.slice(0, 140))}: invalid checksum digest format`, what);
  }
}

export function invalidArgument(message: string, field: string): BerthError {
  return invalid(message, field);
}

export function notFound(message: string): BerthError {
  return new BerthError('berth-engine', 'not-found', message);
}

export function alreadyExists(message: string): BerthError {
  return new BerthError('berth-engine', 'already-exists', message);
}

export function failedPrecondition(message: string): BerthError {
  return new BerthError('berth-engine', 'failed-precondition', message);
}
