// A path inside a container's root filesystem, resolved the way the
// container would resolve it: symlinks followed one component at a time, an
// absolute target starting again at the container's root, ".." never
// climbing above it. docker cp and volume copy-up use it so that no request
// reaches a host path.

import { lstat, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoOf } from '../../common/errors.js';
import { badRequest } from '../http/errors.js';

/** `path` inside `root`, symlinks resolved as the container would; the result is under `root`. */
export async function resolveIn(root: string, path: string, followLast = true): Promise<string> {
  const parts = path.split('/').filter((p) => p && p !== '.');
  const done: string[] = [];
  let links = 0;
  while (parts.length) {
    const p = parts.shift()!;
    if (p === '..') {
      done.pop();
      continue;
    }
    const full = join(root, ...done, p);
    let st;
    try {
      st = await lstat(full);
    } catch (e) {
      // Missing: the rest cannot hold a symlink; the caller's stat names the path.
      if (errnoOf(e) === 'ENOENT' || errnoOf(e) === 'ENOTDIR') {
        done.push(p, ...parts.filter((x) => x !== '..'));
        break;
      }
      throw e;
    }
    if (st.isSymbolicLink() && (parts.length > 0 || followLast)) {
      if (++links > 40) throw badRequest(`too many levels of symbolic links: ${path}`);
      const target = await readlink(full);
      if (target.startsWith('/')) done.length = 0;
      parts.unshift(...target.split('/').filter((x) => x && x !== '.'));
      continue;
    }
    done.push(p);
  }
  return join(root, ...done);
}
