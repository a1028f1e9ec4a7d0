// One error family for every layer. An error carries a stable code, the layer
// that raised it, and the cause in words a user can act on; the CLIs and the
// API servers map the code once to exit statuses and HTTP statuses.

export type Layer = 'berth-runc' | 'berth-init' | 'berth-engine' | 'berthd' | 'berth-ctr' | 'image' | 'snapshot';

export type ErrorCode =
  | 'invalid-argument' // bad input: config field, flag, API body
  | 'not-found'
  | 'already-exists'
  | 'failed-precondition' // wrong state for the operation
  | 'permission-denied'
  | 'unavailable' // host lacks a feature
  | 'digest-mismatch'
  | 'internal';

export class BerthError extends Error {
  readonly code: ErrorCode;
  readonly layer: Layer;
  /** The field (config path, flag, API property) at fault, when there is one. */
  readonly field?: string;

  constructor(layer: Layer, code: ErrorCode, message: string, opts: { field?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'BerthError';
    this.code = code;
    this.layer = layer;
    this.field = opts.field;
  }

  /** "berth-runc: <message>", the form every CLI prints. */
  override toString(): string {
    return `${this.layer}: ${this.message}`;
  }
}

export function isBerthError(e: unknown): e is BerthError {
  return e instanceof BerthError;
}

/** The errno name of a Node system error (ENOENT, EEXIST...), or undefined. */
export function errnoOf(e: unknown): string | undefined {
  if (e && typeof e === 'object' && 'code' in e && typeof (e as { code: unknown }).code === 'string') {
    return (e as { code: string }).code;
  }
  return undefined;
}

export function messageOf(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

const httpStatus: Record<ErrorCode, number> = {
  'invalid-argument': 400,
  'not-found': 404,
  'already-exists': 409,
  'failed-precondition': 409,
  'permission-denied': 403,
  unavailable: 501,
  'digest-mismatch': 400,
  internal: 500,
};

export function httpStatusOf(e: unknown): number {
  return isBerthError(e) ? httpStatus[e.code] : 500;
}
