// BerthError kinds → gRPC status codes, as containerd's errdefs maps its own
// kinds (errdefs.ToGRPC). Every handler's failure goes through here once, so
// ctr sees the code containerd would send and the message naming the object.

import * as grpc from '@grpc/grpc-js';
import { isBerthError, messageOf, type ErrorCode } from '../common/errors.js';

const codes: Record<ErrorCode, grpc.status> = {
  'invalid-argument': grpc.status.INVALID_ARGUMENT,
  'not-found': grpc.status.NOT_FOUND,
  'already-exists': grpc.status.ALREADY_EXISTS,
  'failed-precondition': grpc.status.FAILED_PRECONDITION,
  'permission-denied': grpc.status.PERMISSION_DENIED,
  unauthenticated: grpc.status.UNAUTHENTICATED,
  unavailable: grpc.status.UNAVAILABLE,
  unimplemented: grpc.status.UNIMPLEMENTED,
  'resource-exhausted': grpc.status.RESOURCE_EXHAUSTED,
  aborted: grpc.status.ABORTED,
  canceled: grpc.status.CANCELLED,
  'deadline-exceeded': grpc.status.DEADLINE_EXCEEDED,
  // containerd answers a wrong digest or size at commit with FailedPrecondition.
  'digest-mismatch': grpc.status.FAILED_PRECONDITION,
  internal: grpc.status.INTERNAL,
};

/** containerd appends the kind in words ("...: not found"); ctr's users read that suffix. */
const words: Partial<Record<ErrorCode, string>> = {
  'invalid-argument': 'invalid argument',
  'not-found': 'not found',
  'already-exists': 'already exists',
  'failed-precondition': 'failed precondition',
  'digest-mismatch': 'failed precondition',
};

export interface StatusError extends Partial<grpc.StatusObject> {
  code: grpc.status;
  details: string;
}

export function toStatus(e: unknown): StatusError {
  if (isBerthError(e)) {
    const suffix = words[e.code];
    const details = suffix && !e.message.endsWith(suffix) ? `${e.message}: ${suffix}` : e.message;
    return { code: codes[e.code], details };
  }
  if (isStatus(e)) return e;
  return { code: grpc.status.UNKNOWN, details: messageOf(e) };
}

function isStatus(e: unknown): e is StatusError {
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof (e as { code?: unknown }).code === 'number' &&
    typeof (e as { details?: unknown }).details === 'string'
  );
}
