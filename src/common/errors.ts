// One error family for every layer. An error carries a kind from a closed
// set (containerd's errdefs), the layer that raised it, and the cause in
// words a user can act on; when the cause is a system call, its errno name
// and the step that made it are kept as data, so a caller can tell EPERM
// from ENOENT without reading the words. Programs and API servers turn a
// kind into an exit status, a gRPC status or an HTTP status through the
// three tables at the end of this file, and nowhere else.

import { constants } from 'node:os';

/**
 * Who raised an error. A library (runtime, image, snapshot, storage) names
 * itself unless the program that embeds it gave it a name (the runtime
 * library is "berth-runc" under its CLI and "berth-engine" in the engine);
 * a program names itself; berth-init's reports are "berth-init".
 */
export type Layer =
  'runtime' | 'image' | 'snapshot' | 'storage' | 'berth-init' | 'berth-runc' | 'berth-ctr' | 'berth-engine' | 'berthd';

/** The closed set of kinds: containerd's errdefs, plus digest-mismatch. */
export const ERROR_CODES = [
  'invalid-argument', // bad input: config field, flag, API body
  'not-found',
  'already-exists',
  'failed-precondition', // wrong state for the operation
  'permission-denied',
  'unauthenticated', // a registry or API refused who we are
  'unavailable', // the host or a peer cannot serve it (now)
  'unimplemented', // a feature Berth does not have
  'resource-exhausted', // out of space, memory, descriptors, pids
  'aborted', // lost a race (a concurrent writer, a lease)
  'canceled',
  'deadline-exceeded',
  'digest-mismatch', // content is not what its digest says
  'internal',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorDetails {
  /** The field (config path, flag, API property) at fault, when there is one. */
  field?: string;
  /** The errno name (EPERM, ENOENT...) when a system call failed. */
  errno?: string;
  /** The step that failed (a berth-init operation, a pipeline stage). */
  step?: string;
  cause?: unknown;
}

/** The step of errors raised while reading a program's command line (exit status 2). */
export const COMMAND_LINE = 'command line';

export class BerthError extends Error {
  readonly code: ErrorCode;
  readonly layer: Layer;
  readonly field?: string;
  readonly errno?: string;
  readonly step?: string;

  constructor(layer: Layer, code: ErrorCode, message: string, opts: ErrorDetails = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'BerthError';
    this.code = code;
    this.layer = layer;
    this.field = opts.field;
    this.errno = opts.errno;
    this.step = opts.step;
  }

  /** The same error, raised in the name of `layer` (a program embedding a library). */
  as(layer: Layer): BerthError {
    if (layer === this.layer) return this;
    const e = new BerthError(layer, this.code, this.message, {
      field: this.field,
      errno: this.errno,
      step: this.step,
      cause: this.cause,
    });
    e.stack = this.stack;
    return e;
  }

  /** "berth-runc: <message>", the form every CLI prints. */
  override toString(): string {
    return `${this.layer}: ${this.message}`;
  }
}

export function isBerthError(e: unknown): e is BerthError {
  return e instanceof BerthError;
}

/**
 * The errno name of a failed system call: a BerthError's, or a Node system
 * error's (ENOENT, EEXIST...); undefined for anything else.
 */
export function errnoOf(e: unknown): string | undefined {
  if (e instanceof BerthError) return e.errno;
  if (e && typeof e === 'object' && 'code' in e) {
    const code = e.code;
    if (typeof code === 'string' && /^E[A-Z0-9]+$/.test(code)) return code;
  }
  return undefined;
}

export function messageOf(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

const errnoNames = new Map<number, string>(Object.entries(constants.errno).map(([name, n]) => [n, name]));

/** EPERM for 1, and so on (Linux numbers); "errno N" for a number Node does not name. */
export function errnoName(n: number): string {
  return errnoNames.get(n) ?? `errno ${n}`;
}

/** The kind a failed system call's errno stands for. */
export function kindOfErrno(errno: string | undefined): ErrorCode {
  switch (errno) {
    case 'EPERM':
    case 'EACCES':
    case 'EROFS':
      return 'permission-denied';
    case 'ENOENT':
    case 'ESRCH':
    case 'ENODEV':
    case 'ENXIO':
      return 'not-found';
    case 'EEXIST':
    case 'ENOTEMPTY':
      return 'already-exists';
    case 'EINVAL':
    case 'ENAMETOOLONG':
    case 'ENOTDIR':
    case 'EISDIR':
    case 'ELOOP':
    case 'E2BIG':
    case 'EBADF':
      return 'invalid-argument';
    case 'ENOSPC':
    case 'EDQUOT':
    case 'ENOMEM':
    case 'EMFILE':
    case 'ENFILE':
    case 'EAGAIN':
    case 'EUSERS':
      return 'resource-exhausted';
    case 'ENOSYS':
    case 'EOPNOTSUPP':
    case 'ENOTSUP':
    case 'EAFNOSUPPORT':
    case 'EPROTONOSUPPORT':
      return 'unimplemented';
    case 'EBUSY':
    case 'ECONNREFUSED':
    case 'ECONNRESET':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'unavailable';
    case 'ETIMEDOUT':
      return 'deadline-exceeded';
    case 'EINTR':
      return 'aborted';
    case 'EXDEV':
    case 'ENOTCONN':
    case 'EPIPE':
      return 'failed-precondition';
    default:
      return 'internal';
  }
}

/**
 * A failed system call as a BerthError: the kind from its errno, the errno
 * and the step kept as data. `e` is a Node system error (or anything).
 */
export function systemError(layer: Layer, step: string, e: unknown, field?: string): BerthError {
  const errno = errnoOf(e);
  return new BerthError(layer, kindOfErrno(errno), `${step}: ${messageOf(e)}`, { errno, step, field, cause: e });
}

// ---- the three mappings -------------------------------------------------

/**
 * Exit statuses of the programs. runc and ctr exit 1 on every failure and
 * their callers (containerd's shims, scripts) read only zero or not; Berth
 * keeps that, and exits 2 for a malformed command line, as a usage error
 * conventionally does.
 */
export function exitCodeOf(e: unknown): number {
  return isBerthError(e) && e.code === 'invalid-argument' && e.step === COMMAND_LINE ? 2 : 1;
}

/**
 * gRPC status codes (the numbers of grpc's Status enum; @grpc/grpc-js
 * `status` holds the same values) as containerd's errdefs maps its errors.
 */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

const grpcStatus: Record<ErrorCode, number> = {
  'invalid-argument': GrpcStatus.INVALID_ARGUMENT,
  'not-found': GrpcStatus.NOT_FOUND,
  'already-exists': GrpcStatus.ALREADY_EXISTS,
  'failed-precondition': GrpcStatus.FAILED_PRECONDITION,
  'permission-denied': GrpcStatus.PERMISSION_DENIED,
  unauthenticated: GrpcStatus.UNAUTHENTICATED,
  unavailable: GrpcStatus.UNAVAILABLE,
  unimplemented: GrpcStatus.UNIMPLEMENTED,
  'resource-exhausted': GrpcStatus.RESOURCE_EXHAUSTED,
  aborted: GrpcStatus.ABORTED,
  canceled: GrpcStatus.CANCELLED,
  'deadline-exceeded': GrpcStatus.DEADLINE_EXCEEDED,
  // containerd's content store answers a commit of the wrong bytes so.
  'digest-mismatch': GrpcStatus.FAILED_PRECONDITION,
  internal: GrpcStatus.INTERNAL,
};

/** The gRPC status code for an error (INTERNAL for anything not a BerthError). */
export function grpcStatusOf(e: unknown): number {
  return isBerthError(e) ? grpcStatus[e.code] : GrpcStatus.INTERNAL;
}

/** The kind a gRPC status code stands for (a client of containerd's API reading an answer). */
export function kindOfGrpcStatus(code: number): ErrorCode {
  if (code === GrpcStatus.UNKNOWN || code === GrpcStatus.DATA_LOSS) return 'internal';
  if (code === GrpcStatus.OUT_OF_RANGE) return 'invalid-argument';
  for (const kind of ERROR_CODES) if (kind !== 'digest-mismatch' && grpcStatus[kind] === code) return kind;
  return 'internal';
}

/** HTTP statuses as the Docker Engine API answers (moby's errdefs). */
const httpStatus: Record<ErrorCode, number> = {
  'invalid-argument': 400,
  'not-found': 404,
  'already-exists': 409,
  'failed-precondition': 409,
  'permission-denied': 403,
  unauthenticated: 401,
  unavailable: 503,
  unimplemented: 501,
  'resource-exhausted': 503,
  aborted: 409,
  canceled: 499,
  'deadline-exceeded': 504,
  'digest-mismatch': 400,
  internal: 500,
};

/** The HTTP status for an error (500 for anything not a BerthError). */
export function httpStatusOf(e: unknown): number {
  return isBerthError(e) ? httpStatus[e.code] : 500;
}
