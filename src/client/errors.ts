// containerd answers with gRPC status codes (its errdefs mapping); callers of
// this client want Berth's closed set of error kinds, so that berthd can turn
// a containerd "not found" into Docker's 404 without looking at gRPC at all.

import { status as Status, type ServiceError } from '@grpc/grpc-js';
import { BerthError, kindOfGrpcStatus, type Layer } from '../common/errors.js';

function isServiceError(e: unknown): e is ServiceError {
  return e instanceof Error && typeof (e as Partial<ServiceError>).code === 'number' && 'details' in e;
}

/** The gRPC status code of an error from a call, or undefined for other errors. */
export function grpcStatusOf(e: unknown): Status | undefined {
  return isServiceError(e) ? e.code : undefined;
}

/**
 * A containerd call's failure as a BerthError: the kind from the status code,
 * the words from containerd (its `details`), prefixed with what we were doing.
 * Errors that did not come from gRPC pass through unchanged.
 */
export function fromGrpc(e: unknown, what: string, layer: Layer = 'berthd'): Error {
  if (!isServiceError(e)) return e instanceof Error ? e : new Error(String(e));
  const code = kindOfGrpcStatus(e.code);
  const detail = e.details || e.message;
  const msg = e.code === Status.UNAVAILABLE ? `${what}: containerd is not reachable: ${detail}` : `${what}: ${detail}`;
  return new BerthError(layer, code, msg, { cause: e });
}

export function isNotFound(e: unknown): boolean {
  return (e instanceof BerthError && e.code === 'not-found') || grpcStatusOf(e) === Status.NOT_FOUND;
}

export function isAlreadyExists(e: unknown): boolean {
  return (e instanceof BerthError && e.code === 'already-exists') || grpcStatusOf(e) === Status.ALREADY_EXISTS;
}

/** Nothing answers on the socket (gRPC UNAVAILABLE), on a call's error as mapped or as raised. */
export function isUnreachable(e: unknown): boolean {
  return grpcStatusOf(e) === Status.UNAVAILABLE || (e instanceof Error && grpcStatusOf(e.cause) === Status.UNAVAILABLE);
}
