// Stdio URIs, as containerd's shim reads a task's stdout: a plain path (or
// `fifo://path`) is a FIFO the client reads; `file:///path` appends the
// output to a file; `binary:///path?k=v` runs a logger that gets the output
// on its fds 3 and 4 (berth-shim does both: native/shim/logio.c). stderr is
// not looked at with a URI (containerd's shim uses stdout's for both). The
// shim is told the task's namespace and id in the URI's fragment, for the
// logger's CONTAINER_NAMESPACE and CONTAINER_ID.

import { BerthError } from '../../common/errors.js';
import type { TaskIO } from './task.js';

function bad(field: string, message: string): BerthError {
  return new BerthError('berth-engine', 'invalid-argument', `${field}: ${message}`, { field });
}

/** The stdio the shim gets for `io`; throws invalid-argument on a URI the shim cannot honour. */
export function shimStdio(io: TaskIO, ns: string, id: string): TaskIO {
  const m = /^([a-z][a-z0-9+.-]*):/i.exec(io.stdout);
  if (!m) return io;
  const scheme = m[1]!.toLowerCase();
  if (scheme === 'fifo') return { ...io, stdout: io.stdout.replace(/^fifo:\/\//i, '') };
  if (scheme !== 'binary' && scheme !== 'file') throw bad('stdout', `unknown STDIO scheme ${scheme}`);
  let u: URL;
  try {
    u = new URL(io.stdout);
  } catch {
    throw bad('stdout', `not a valid URI: ${io.stdout}`);
  }
  if (u.host) throw bad('stdout', `a ${scheme} URI names a local path, not a host (${u.host})`);
  if (!u.pathname.startsWith('/') || u.pathname === '/') throw bad('stdout', `${scheme} URI without a path`);
  if (io.stdout.includes('\0')) throw bad('stdout', 'a NUL byte in the URI');
  u.hash = '';
  const stdout = scheme === 'binary' ? `${u.href}#${ns}/${id}` : u.href;
  return { ...io, stdout, stderr: io.terminal ? '' : stdout };
}
