// docker cp into a container (PUT /containers/{id}/archive): the client's tar
// extracted member by member, each member's directory resolved as the
// container resolves it (resolveIn: an absolute symlink starts again at the
// container's root, ".." stops there), the member itself made without
// following anything. A host tar run with -C would follow a symlink the
// container planted (an absolute one leads to the host's own files): the
// escape of docker cp that dockerd closed by chrooting its tar.
// Known limit (as archive.ts says): a process inside a running container can
// still swap a directory for a symlink between our resolution and the write.

import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { chmod, lchown, link, lstat, lutimes, mkdir, rm, stat, symlink, unlink, utimes } from 'node:fs/promises';
import { basename, join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { extract, type Header } from 'tar-stream';
import { errnoOf } from '../../common/errors.js';
import { badRequest } from '../http/errors.js';
import { resolveIn } from './paths.js';

const run = promisify(execFile);

/** The member's path under `dest` (a container path), or a 400 when it climbs out of it. */
function memberPath(dest: string, name: string): string {
  const rel = posix.normalize(name.replace(/^\/+/, '')).replace(/\/+$/, '');
  if (rel === '..' || rel.startsWith('../'))
    throw badRequest(`archive member ${JSON.stringify(name)} is outside of ${dest}`);
  return rel === '.' ? dest : posix.join(dest, rel);
}

interface Options {
  /** A non-directory never replaces a directory, nor the reverse (the docker CLI always asks this). */
  noOverwriteDirNonDir: boolean;
}

/** Extracts the tar `body` into the container directory `dest` of the container whose root is `root` on the host. */
export async function extractInto(root: string, dest: string, body: Readable, opts: Options): Promise<void> {
  const dirTimes: [string, Date][] = [];
  const ex = extract();
  const done = pipeline(body, ex);
  done.catch(() => undefined); // awaited below; an error of ours ends it first
  try {
    for await (const entry of ex) {
      await member(root, dest, entry, entry.header, opts, dirTimes);
      entry.resume();
    }
    await done;
  } catch (e) {
    ex.destroy();
    body.destroy();
    throw e;
  }
  // Directories last, deepest first: their entries changed their times.
  for (const [dir, t] of dirTimes.reverse()) await utimes(dir, t, t);
}

async function member(
  root: string,
  dest: string,
  data: AsyncIterable<unknown>,
  h: Header,
  opts: Options,
  dirTimes: [string, Date][],
): Promise<void> {
  const at = memberPath(dest, h.name);
  let target: string;
  if (at === dest) {
    target = await resolveIn(root, dest); // the extraction point, a directory the caller checked
  } else {
    const parent = await resolveIn(root, posix.dirname(at));
    await mkdir(parent, { recursive: true });
    target = join(parent, basename(at));
  }
  const existing = at === dest ? await stat(target) : await lstat(target).catch(() => undefined);
  const isDir = existing?.isDirectory() ?? false;
  if (h.type === 'directory') {
    if (existing && !isDir) {
      if (opts.noOverwriteDirNonDir) throw badRequest(`cannot overwrite non-directory ${at} with directory ${h.name}`);
      await unlink(target);
    }
    // An existing directory keeps its owner, mode and times (tar's --no-overwrite-dir).
    if (!isDir) {
      await mkdir(target);
      await own(target, h);
      await chmod(target, h.mode & 0o7777);
      dirTimes.push([target, h.mtime]);
    }
    return;
  }
  if (existing) {
    if (isDir && opts.noOverwriteDirNonDir)
      throw badRequest(`cannot overwrite directory ${at} with non-directory ${h.name}`);
    // Removed, never opened: a symlink here is replaced, not followed.
    await rm(target, { recursive: isDir });
  }
  await make(root, dest, target, h, data);
}

async function own(path: string, h: Header): Promise<void> {
  await lchown(path, h.uid, h.gid);
}

async function make(
  root: string,
  dest: string,
  target: string,
  h: Header,
  data: AsyncIterable<unknown>,
): Promise<void> {
  const mode = h.mode & 0o7777;
  const times = () => lutimes(target, h.mtime, h.mtime);
  switch (h.type) {
    case 'file':
    case 'contiguous-file':
      // "wx": O_CREAT|O_EXCL, which never follows a symlink.
      await pipeline(data, createWriteStream(target, { flags: 'wx', mode: 0o600 }));
      break;
    case 'symlink':
      await symlink(h.linkname, target);
      await own(target, h);
      return times();
    case 'link': {
      const src = await resolveIn(root, memberPath(dest, h.linkname), false);
      try {
        await link(src, target);
      } catch (e) {
        throw badRequest(`archive member ${h.name}: hard link to ${h.linkname}: ${errnoOf(e) ?? String(e)}`);
      }
      return;
    }
    case 'character-device':
    case 'block-device':
    case 'fifo': {
      const kind =
        h.type === 'fifo' ? ['p'] : [h.type === 'block-device' ? 'b' : 'c', `${h.devmajor}`, `${h.devminor}`];
      await run('mknod', [target, ...kind]);
      break;
    }
    default:
      // Other records (GNU volume labels, sparse files) are not written, as
      // dockerd's archive package skips what it does not know.
      return;
  }
  // Owner first: a chown clears the setuid and setgid bits.
  await own(target, h);
  await chmod(target, mode);
  await times();
}
