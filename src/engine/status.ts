// A handler's failure as the gRPC status ctr reads: the code from the one
// mapping in src/common/errors.ts (containerd's errdefs.ToGRPC), and the
// message with containerd's kind suffix ("...: not found"), so ctr shows
// what containerd would.

import * as grpc from '@grpc/grpc-js';
import { BerthError, grpcStatusOf, isBerthError, messageOf, type ErrorCode } from '../common/errors.js';

/** containerd appends the kind in words ("...: not found"); ctr's users read that suffix. */
const words: Partial<Record<ErrorCode, string>> = {
  'invalid-argument': 'invalid argument',
  'not-found': 'not found',
  'already-exists': 'already exists',
  'failed-precondition': 'failed precondition',
  'digest-mismatch': 'failed precondition',
};

export interface StatusError {
  code: grpc.status;
  details: string;
}

/** A status with no BerthError kind of its own (OUT_OF_RANGE for a write at the wrong offset). */
export class GrpcStatusError extends Error implements StatusError {
  constructor(
    readonly code: grpc.status,
    readonly details: string,
  ) {
    super(details);
  }
}

/**
 * A runtime's own failure (runc's create or exec), which containerd's shim
 * answers as UNKNOWN: ctr and dockerd then end its words with ": unknown",
 * as they do on containerd.
 */
export class RuntimeFailure extends BerthError {
  constructor(message: string) {
    super('berth-engine', 'internal', message);
  }
}

export function toStatus(e: unknown): StatusError {
  if (e instanceof RuntimeFailure) return { code: grpc.status.UNKNOWN, details: e.message };
  if (isBerthError(e)) {
    const suffix = words[e.code];
    const details = suffix && !e.message.endsWith(suffix) ? `${e.message}: ${suffix}` : e.message;
    return { code: grpcStatusOf(e), details };
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
