// Paths inside a container's (or a volume's) tree that a process in it may
// be changing while berthd works: every directory is reached through a
// descriptor pinned as it is resolved, never through a path string the
// kernel would walk again later. A component is opened relative to its
// parent's descriptor (/proc/self/fd/N/<name>: the kernel jumps to the pinned
// directory, then looks up one name) with O_NOFOLLOW, so a directory swapped
// for a symlink after we looked is refused by the open and looked at again,
// never followed. Symlinks are followed here, by us, as the container would
// follow them: an absolute target starts again at the pinned root, ".." pops
// to the pinned parent and never above the root. What the caller then does
// to the last name (create with O_EXCL, unlink, lstat, lchown, link, mkdir,
// mknod) does not follow it either; an operation that would (chmod, utimes)
// goes through a descriptor opened with O_NOFOLLOW.
//
// Why not openat2(RESOLVE_IN_ROOT): Node.js and Bun have no binding for it,
// and a C helper per request costs a process; this gives the same guarantee
// with the open(2) flags both runtimes pass through.

import { constants as C } from 'node:fs';
import { lstat, mkdir, open, readdir, readFile, readlink, rmdir, unlink, type FileHandle } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { BerthError, errnoOf } from '../../common/errors.js';

/** O_PATH (Linux): a handle to the inode that opens nothing, allowed on any file type. */
export const O_PATH = 0o10000000;
/** Linux's O_CLOEXEC (libuv adds it; Bun may not): no child inherits a pinned descriptor. */
export const O_CLOEXEC = 0o2000000;
const DIR_FLAGS = O_PATH | C.O_DIRECTORY | C.O_NOFOLLOW | O_CLOEXEC;
/** A pinned directory opened again through its own descriptor (a magic link, which O_NOFOLLOW would not cross). */
const REOPEN_FLAGS = O_PATH | C.O_DIRECTORY | O_CLOEXEC;
/** Symlinks followed and components retried in one resolution, as the kernel's MAXSYMLINKS. */
const MAX_STEPS = 40;

/** A pinned directory; names under it are looked up relative to it, one at a time. */
export class Dir {
  constructor(readonly handle: FileHandle) {}

  /** A path that reaches `name` in this directory and nothing else (`name` has no "/"). */
  at(name: string): string {
    return `/proc/self/fd/${this.handle.fd}/${name}`;
  }

  /** The same for a child process (its /proc/self is its own). */
  atForChild(name?: string): string {
    const base = `/proc/${process.pid}/fd/${this.handle.fd}`;
    return name === undefined ? base : `${base}/${name}`;
  }

  /** This directory itself (through its descriptor). */
  get self(): string {
    return `/proc/self/fd/${this.handle.fd}`;
  }

  async close(): Promise<void> {
    await this.handle.close().catch(() => undefined);
  }
}

/** Where a path led: the pinned directory holding `name`, or (name undefined) that directory itself. */
export interface Spot {
  dir: Dir;
  name?: string;
}

function failed(path: string, what: string, errno: string): BerthError {
  return new BerthError('berthd', errno === 'ENOENT' ? 'not-found' : 'invalid-argument', `${path}: ${what}`, {
    errno,
  });
}

/** Opens `name` under `dir` as a pinned directory; undefined when it is not one (a symlink, a file, gone). */
export async function openDir(dir: Dir, name: string): Promise<Dir | undefined> {
  try {
    return new Dir(await open(dir.at(name), DIR_FLAGS));
  } catch (e) {
    const code = errnoOf(e);
    if (code === 'ENOTDIR' || code === 'ELOOP' || code === 'ENOENT') return undefined;
    throw e;
  }
}

/**
 * The inode at `name` under `dir`, never a symlink's target: a handle opened
 * with O_PATH|O_NOFOLLOW, and its stat. `chmod`, `chown` and `utimes` of
 * `/proc/self/fd/<fd>` then reach that very inode (not when it is a symlink:
 * the caller checks `st`).
 */
export async function pinInode(dir: Dir, name: string): Promise<{ h: FileHandle; st: Stats; path: string }> {
  const h = await open(dir.at(name), O_PATH | C.O_NOFOLLOW | O_CLOEXEC);
  try {
    return { h, st: await h.stat(), path: `/proc/self/fd/${h.fd}` };
  } catch (e) {
    await h.close();
    throw e;
  }
}

/** A tree's root, pinned once: the container's root, a mounted snapshot, a volume's directory. */
export class PinnedRoot {
  private constructor(
    readonly root: Dir,
    readonly label: string,
  ) {}

  /** `path` is berthd's own (a /proc/<pid>/root link, a temp mount, a volume dir): followed once, here. */
  static async open(path: string, label = path): Promise<PinnedRoot> {
    try {
      return new PinnedRoot(new Dir(await open(path, O_PATH | C.O_DIRECTORY | O_CLOEXEC)), label);
    } catch (e) {
      throw new BerthError('berthd', 'not-found', `${label}: cannot open the root: ${errnoOf(e) ?? String(e)}`, {
        cause: e,
      });
    }
  }

  async close(): Promise<void> {
    await this.root.close();
  }

  /**
   * Resolves `path` (a path in the tree, absolute or not) as the tree's own
   * processes would, symlinks and all, except that the last component is
   * followed only when `followLast`. Missing directories are made (0755, as
   * tar makes them) when `create`, else a missing one is a not-found error.
   * The caller closes the returned `dir` (never the root: a Spot at the
   * root gets its own handle).
   */
  async locate(path: string, opts: { followLast: boolean; create?: boolean }): Promise<Spot> {
    const parts = path.split('/').filter((p) => p && p !== '.');
    const stack: Dir[] = [];
    const top = () => stack[stack.length - 1] ?? this.root;
    const popAll = async () => {
      for (const d of stack.splice(0)) await d.close();
    };
    let steps = 0;
    // Each symlink followed and each component looked at again after a swap.
    const bump = () => {
      if (++steps > MAX_STEPS) throw failed(path, 'too many levels of symbolic links', 'ELOOP');
    };
    try {
      while (parts.length) {
        const p = parts.shift()!;
        const last = parts.length === 0;
        if (p === '..') {
          await stack.pop()?.close();
          continue;
        }
        let st: Stats | undefined;
        try {
          st = await lstat(top().at(p));
        } catch (e) {
          if (errnoOf(e) !== 'ENOENT') throw e;
        }
        if (!st) {
          if (last) return await this.spot(stack, p);
          if (!opts.create) throw failed(path, 'no such file or directory', 'ENOENT');
          await mkdir(top().at(p), 0o755).catch((e: unknown) => {
            if (errnoOf(e) !== 'EEXIST') throw e;
          });
          bump();
          parts.unshift(p); // looked at again: what is there now is what counts
          continue;
        }
        if (st.isSymbolicLink() && (!last || opts.followLast)) {
          bump();
          let target: string;
          try {
            target = await readlink(top().at(p));
          } catch (e) {
            if (errnoOf(e) !== 'EINVAL') throw e;
            parts.unshift(p); // no longer a symlink: look again
            continue;
          }
          if (target.startsWith('/')) await popAll();
          parts.unshift(...target.split('/').filter((x) => x && x !== '.'));
          continue;
        }
        if (last) return await this.spot(stack, p);
        if (!st.isDirectory()) throw failed(path, 'not a directory', 'ENOTDIR');
        const d = await openDir(top(), p);
        if (!d) {
          bump();
          parts.unshift(p); // swapped since the lstat: look again
          continue;
        }
        stack.push(d);
      }
      // The path ended at a directory (or the root) itself.
      const self = stack.pop() ?? new Dir(await open(this.root.self, REOPEN_FLAGS));
      await popAll();
      return { dir: self };
    } catch (e) {
      await popAll();
      throw e;
    }
  }

  /** The last name under the top of `stack`, which becomes the spot's own handle. */
  private async spot(stack: Dir[], name: string): Promise<Spot> {
    const dir = stack.pop() ?? new Dir(await open(this.root.self, REOPEN_FLAGS));
    for (const d of stack.splice(0)) await d.close();
    return { dir, name };
  }

  /** `locate` followed by a directory: the directory itself, pinned (not-found or not-a-directory errors otherwise). */
  async directory(path: string, create = false, tries = MAX_STEPS): Promise<Dir> {
    const s = await this.locate(path, { followLast: true, create });
    if (s.name === undefined) return s.dir;
    try {
      if (create)
        await mkdir(s.dir.at(s.name), 0o755).catch((e: unknown) => {
          if (errnoOf(e) !== 'EEXIST') throw e;
        });
      const d = await openDir(s.dir, s.name);
      if (d) return d;
      const st = await lstat(s.dir.at(s.name)).catch(() => undefined);
      // Swapped under us (a symlink now, a directory again, gone while we make it): resolved again, a bounded number of times.
      if ((st?.isSymbolicLink() || st?.isDirectory() || (!st && create)) && tries > 0)
        return await this.directory(path, create, tries - 1);
      throw failed(path, st ? 'not a directory' : 'no such file or directory', st ? 'ENOTDIR' : 'ENOENT');
    } finally {
      await s.dir.close();
    }
  }
}

/**
 * Removes `name` under `dir` and, when it is a directory, everything in it:
 * each level reached through a pinned descriptor, each name unlinked in its
 * pinned parent, so a symlink swapped in mid-way is removed, never followed
 * (Node's rm walks path strings again at every level).
 */
export async function removeTree(dir: Dir, name: string): Promise<void> {
  const sub = await openDir(dir, name);
  if (!sub) {
    await unlink(dir.at(name)).catch((e: unknown) => {
      if (errnoOf(e) === 'EISDIR') return removeTree(dir, name); // a directory again: once more
      if (errnoOf(e) !== 'ENOENT') throw e;
    });
    return;
  }
  try {
    for (const e of await readdir(sub.self)) {
      const st = await lstat(sub.at(e)).catch(() => undefined);
      if (st?.isDirectory()) await removeTree(sub, e);
      else
        await unlink(sub.at(e)).catch((err: unknown) => {
          if (errnoOf(err) === 'EISDIR') return removeTree(sub, e);
          if (errnoOf(err) !== 'ENOENT') throw err;
        });
    }
  } finally {
    await sub.close();
  }
  await rmdir(dir.at(name));
}

/**
 * A small regular file of the tree (/etc/passwd, /etc/group), resolved as
 * the container resolves it: undefined when it is missing or is not a
 * regular file (a FIFO would block us, /dev/zero never end), an error when
 * it is larger than `max`. Opened O_NONBLOCK|O_NOFOLLOW in its pinned directory.
 */
export async function readSmallFile(tree: PinnedRoot, path: string, max: number): Promise<Buffer | undefined> {
  const s = await tree.locate(path, { followLast: true }).catch(() => undefined);
  if (!s) return undefined;
  try {
    if (s.name === undefined) return undefined;
    const f = await open(s.dir.at(s.name), C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK | O_CLOEXEC).catch(() => undefined);
    if (!f) return undefined;
    try {
      const st = await f.stat();
      if (!st.isFile()) return undefined;
      if (st.size > max)
        throw new BerthError('berthd', 'invalid-argument', `${path} of the container is over ${max} bytes`);
      // One byte more than it says: a file that grew meanwhile still meets the bound below.
      const buf = Buffer.alloc(Math.min(st.size, max) + 1);
      let n = 0;
      for (;;) {
        const { bytesRead } = await f.read(buf, n, buf.length - n, n);
        if (bytesRead === 0) break;
        n += bytesRead;
        if (n > max)
          throw new BerthError('berthd', 'invalid-argument', `${path} of the container is over ${max} bytes`);
        if (n === buf.length) break; // it grew while read: what it held when we looked, and a byte
      }
      return buf.subarray(0, n);
    } finally {
      await f.close();
    }
  } finally {
    await s.dir.close();
  }
}

/**
 * A running container's root, pinned through its init's /proc entry: the
 * /proc/<pid> directory is opened first and checked to be the container's
 * (its cgroup names the container), so a pid reused by a host process after
 * the container exited never gives us the host's root.
 */
export async function pinProcessRoot(pid: number, id: string): Promise<PinnedRoot> {
  const proc = await PinnedRoot.open(`/proc/${pid}`, `container ${id}`);
  try {
    const cgroup = await readFile(proc.root.at('cgroup'), 'utf8').catch(() => '');
    if (!cgroup.includes(id)) throw new BerthError('berthd', 'failed-precondition', `Container ${id} is not running`);
    return await PinnedRoot.open(proc.root.at('root'), `container ${id}`);
  } finally {
    await proc.close();
  }
}

/** `fn` given the pinned root of a running container as a path only berthd resolves (/proc/self/fd/N). */
export async function withProcessRoot<T>(pid: number, id: string, fn: (root: string) => Promise<T>): Promise<T> {
  const tree = await pinProcessRoot(pid, id);
  try {
    return await fn(tree.root.self);
  } finally {
    await tree.close();
  }
}
