// Docker's error bodies and statuses. dockerd answers every failure as
// {"message": "..."} with the status of its errdefs kind; the docker CLI and
// the SDKs branch on the status (404 → pull the image and retry, 409 →
// conflict), so the status matters as much as the words.

import { BerthError, httpStatusOf, messageOf } from '../../common/errors.js';

/** An error with an explicit HTTP status, for the cases Berth's kinds do not name (304, 413...). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export function statusOf(e: unknown): number {
  if (e instanceof HttpError) return e.status;
  return httpStatusOf(e);
}

export function errorBody(e: unknown): string {
  return JSON.stringify({ message: messageOf(e) }) + '\n';
}

export const notFound = (msg: string) => new BerthError('berthd', 'not-found', msg);
export const badRequest = (msg: string, field?: string) => new BerthError('berthd', 'invalid-argument', msg, { field });
export const conflict = (msg: string) => new BerthError('berthd', 'already-exists', msg);
export const wrongState = (msg: string) => new BerthError('berthd', 'failed-precondition', msg);

/** `e` behind dockerd's prefix ("cannot kill container: NAME: ..."), its status kept. */
export function wrapped(prefix: string, e: unknown): HttpError {
  return new HttpError(statusOf(e), `${prefix}: ${messageOf(e)}`);
}
