// A tar extracted into a tree a hostile process may be changing while we
// write: docker cp into a running container (PUT /containers/{id}/archive)
// and volume copy-up of an image's files into a volume other containers may
// hold. Member by member, each member's directory is resolved through pinned
// descriptors as the container resolves it (pinned.ts: an absolute symlink
// starts again at the tree's root, ".." stops there, a directory swapped for
// a symlink after we looked is looked at again, never followed), and the
// member is made in that pinned directory without following anything: files
// with O_CREAT|O_EXCL|O_NOFOLLOW, owner, mode and times set through the
// descriptor. A host tar run with -C would follow a symlink the container
// planted or swapped in (an absolute one leads to the host's own files): the
// escape of docker cp that dockerd closed by chrooting its tar.

import { execFile } from 'node:child_process';
import { constants as C } from 'node:fs';
import { chmod, chown, lchown, link, lstat, lutimes, mkdir, open, symlink, unlink, utimes } from 'node:fs/promises';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { extract, type Header } from 'tar-stream';
import { errnoOf, messageOf } from '../../common/errors.js';
import { badRequest } from '../http/errors.js';
import { O_CLOEXEC, pinInode, removeTree, type Dir, type PinnedRoot, type Spot } from './pinned.js';

const run = promisify(execFile);
/** Member directories kept open between members (a tar lists a directory's members together). */
const CACHED_DIRS = 64;

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
  /** The archive's own root entry ("./") gives `dest` its owner, mode and times (copy-up, as cp -a does). */
  rootAttributes?: boolean;
}

/** Pinned member directories by their path in the tree, bounded; dropped whenever a member removes something. */
class Dirs {
  private readonly open = new Map<string, Dir>();
  constructor(private readonly tree: PinnedRoot) {}

  async get(path: string): Promise<Dir> {
    const hit = this.open.get(path);
    if (hit) return hit;
    const d = await this.tree.directory(path, true);
    if (this.open.size >= CACHED_DIRS) {
      const [oldest, dir] = this.open.entries().next().value as [string, Dir];
      this.open.delete(oldest);
      await dir.close();
    }
    this.open.set(path, d);
    return d;
  }

  /** Closes them all but `keep` (the directory the member that removed something is made in). */
  async clear(keep?: Dir): Promise<void> {
    for (const [path, d] of [...this.open]) {
      if (d === keep) continue;
      this.open.delete(path);
      await d.close();
    }
  }
}

/** Extracts the tar `body` into the directory `dest` of `tree` (a path in it, resolved in it). */
export async function extractInto(tree: PinnedRoot, dest: string, body: Readable, opts: Options): Promise<void> {
  const dirTimes: [string, Date][] = [];
  const dirs = new Dirs(tree);
  const ex = extract();
  const done = pipeline(body, ex);
  done.catch(() => undefined); // awaited below; an error of ours ends it first
  try {
    for await (const entry of ex) {
      await member(tree, dirs, dest, entry, entry.header, opts, dirTimes);
      entry.resume();
    }
    await done;
    // Directories last, deepest first: their entries changed their times.
    await dirs.clear();
    for (const [path, t] of dirTimes.reverse()) await setTimes(tree, path, t);
  } catch (e) {
    ex.destroy();
    body.destroy();
    throw e;
  } finally {
    await dirs.clear();
  }
}

/** A directory's times, through a descriptor of the directory itself (skipped if it is no longer one). */
async function setTimes(tree: PinnedRoot, path: string, t: Date): Promise<void> {
  const s = await tree.locate(path, { followLast: false }).catch(() => undefined);
  if (!s) return;
  try {
    if (s.name === undefined) return await utimes(s.dir.self, t, t);
    const p = await pinInode(s.dir, s.name).catch(() => undefined);
    if (!p) return;
    try {
      if (p.st.isDirectory()) await utimes(p.path, t, t);
    } finally {
      await p.h.close();
    }
  } finally {
    await s.dir.close();
  }
}

/** Owner, then mode (a chown clears setuid and setgid), of the inode at `name`, never through a symlink. */
async function attributes(dir: Dir, name: string, h: Header, times: boolean): Promise<void> {
  const p = await pinInode(dir, name).catch((e: unknown) => {
    throw badRequest(`archive member ${h.name}: moved while written (${errnoOf(e) ?? messageOf(e)})`);
  });
  try {
    if (p.st.isSymbolicLink()) throw badRequest(`archive member ${h.name}: replaced by a symlink while written`);
    await chown(p.path, h.uid, h.gid);
    await chmod(p.path, h.mode & 0o7777);
    if (times) await utimes(p.path, h.mtime, h.mtime);
  } finally {
    await p.h.close();
  }
}

async function member(
  tree: PinnedRoot,
  dirs: Dirs,
  dest: string,
  data: AsyncIterable<unknown>,
  h: Header,
  opts: Options,
  dirTimes: [string, Date][],
): Promise<void> {
  const at = memberPath(dest, h.name);
  if (at === dest) {
    // The extraction point itself: a directory the caller checked.
    if (h.type !== 'directory') throw badRequest(`cannot overwrite directory ${dest} with non-directory ${h.name}`);
    if (opts.rootAttributes) {
      const d = await dirs.get(dest);
      await chown(d.self, h.uid, h.gid);
      await chmod(d.self, h.mode & 0o7777);
      dirTimes.push([dest, h.mtime]);
    }
    return;
  }
  const parent = await dirs.get(posix.dirname(at));
  const name = posix.basename(at);
  const existing = await lstat(parent.at(name)).catch(() => undefined);
  const isDir = existing?.isDirectory() ?? false;
  if (h.type === 'directory') {
    if (existing && !isDir) {
      if (opts.noOverwriteDirNonDir) throw badRequest(`cannot overwrite non-directory ${at} with directory ${h.name}`);
      await unlink(parent.at(name));
      await dirs.clear(parent);
    }
    // An existing directory keeps its owner, mode and times (tar's --no-overwrite-dir).
    if (!isDir) {
      await mkdir(parent.at(name), 0o700);
      await attributes(parent, name, h, false);
      dirTimes.push([at, h.mtime]);
    }
    return;
  }
  if (existing) {
    if (isDir && opts.noOverwriteDirNonDir)
      throw badRequest(`cannot overwrite directory ${at} with non-directory ${h.name}`);
    // Removed, never opened: a symlink here is replaced, not followed.
    if (isDir) await removeTree(parent, name);
    else await unlink(parent.at(name));
    await dirs.clear(parent);
  }
  await make(tree, dest, parent, name, h, data);
}

async function make(
  tree: PinnedRoot,
  dest: string,
  parent: Dir,
  name: string,
  h: Header,
  data: AsyncIterable<unknown>,
): Promise<void> {
  if (Object.keys(h.pax ?? {}).some((k) => k.startsWith('GNU.sparse.')))
    throw badRequest(`archive member ${h.name}: sparse files are not supported`);
  switch (h.type) {
    case 'file':
    case 'contiguous-file': {
      const f = await open(parent.at(name), C.O_CREAT | C.O_EXCL | C.O_WRONLY | C.O_NOFOLLOW | O_CLOEXEC, 0o600);
      try {
        for await (const chunk of data) await f.write(chunk as Buffer);
        // Owner first: a chown clears the setuid and setgid bits.
        await f.chown(h.uid, h.gid);
        await f.chmod(h.mode & 0o7777);
        await f.utimes(h.mtime, h.mtime);
      } finally {
        await f.close();
      }
      return;
    }
    case 'symlink':
      await symlink(h.linkname, parent.at(name));
      await lchown(parent.at(name), h.uid, h.gid);
      await lutimes(parent.at(name), h.mtime, h.mtime);
      return;
    case 'link': {
      let src: Spot | undefined;
      try {
        src = await tree.locate(memberPath(dest, h.linkname), { followLast: false });
        if (src.name === undefined) throw new Error('a hard link to a directory');
        await link(src.dir.at(src.name), parent.at(name));
      } catch (e) {
        throw badRequest(`archive member ${h.name}: hard link to ${h.linkname}: ${errnoOf(e) ?? messageOf(e)}`);
      } finally {
        await src?.dir.close();
      }
      return;
    }
    case 'character-device':
    case 'block-device':
    case 'fifo': {
      const kind =
        h.type === 'fifo' ? ['p'] : [h.type === 'block-device' ? 'b' : 'c', `${h.devmajor}`, `${h.devminor}`];
      // mknod(1) reaches the pinned directory through our descriptor table; it does not follow the new name.
      await run('mknod', ['-m', '0600', parent.atForChild(name), ...kind]);
      await attributes(parent, name, h, true);
      return;
    }
    default:
      // A typeflag tar-stream does not know (GNU sparse files, volume
      // labels): written as a plain file it would be another file.
      throw badRequest(`archive member ${h.name}: unsupported entry type (a GNU sparse file or a volume label)`);
  }
}
