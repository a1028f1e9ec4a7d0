// Turns a failed cgroup file access into an error that names the OCI field the
// user wrote, the file, and what the host's refusal means.

import { BerthError, errnoOf, messageOf, type ErrorCode } from '../../common/errors.js';

export function cgroupError(code: ErrorCode, message: string, field?: string, cause?: unknown): BerthError {
  return new BerthError('runtime', code, field ? `${field}: ${message}` : message, {
    ...(field ? { field } : {}),
    ...(cause === undefined ? {} : { cause, errno: errnoOf(cause) }),
  });
}

/**
 * Maps the errno of a write of `value` to `file` into a BerthError naming
 * `field` (e.g. "linux.resources.memory.limit").
 */
export function writeError(e: unknown, field: string, file: string, value: string): BerthError {
  if (e instanceof BerthError) return e;
  const errno = errnoOf(e);
  switch (errno) {
    case 'ENOENT':
      return cgroupError('unavailable', `this host has no ${file} (controller or feature missing)`, field, e);
    case 'EACCES':
    case 'EPERM':
      return cgroupError(
        'unavailable',
        `this host refuses to write ${JSON.stringify(value)} to ${file} (${errno})`,
        field,
        e,
      );
    case 'EOPNOTSUPP':
    case 'ENOTSUP':
      return cgroupError(
        'unavailable',
        `the kernel does not support ${file} (${errno})${/bfq/.test(file) ? ': the device does not use the BFQ I/O scheduler' : ''}`,
        field,
        e,
      );
    case 'EINVAL':
    case 'ERANGE':
    case 'ENOSPC':
      return cgroupError(
        'invalid-argument',
        `the kernel rejects ${JSON.stringify(value)} for ${file} (${errno})`,
        field,
        e,
      );
    case 'ENODEV':
      return cgroupError(
        'invalid-argument',
        `the kernel rejects ${JSON.stringify(value)} for ${file}: no such device (ENODEV)`,
        field,
        e,
      );
    case 'ESRCH':
      return cgroupError('failed-precondition', `no process ${value} to move into ${file} (it has exited)`, field, e);
    case 'EBUSY':
      return cgroupError(
        'failed-precondition',
        `the kernel cannot apply ${JSON.stringify(value)} to ${file} now (EBUSY: e.g. below current usage)`,
        field,
        e,
      );
    default:
      return cgroupError('internal', `writing ${JSON.stringify(value)} to ${file}: ${messageOf(e)}`, field, e);
  }
}
