// One tar entry onto the tree: the writer for each entry type (directory,
// file, symlink, hard link, device or fifo), after the entry's parents were
// resolved (./resolve.ts) and whatever was at its path removed. Files are
// created O_CREAT|O_EXCL|O_NOFOLLOW and finished on their descriptor; owner
// goes before mode everywhere so chown cannot clear setuid bits. Directory
// modes and times, and all xattrs, are only queued: ./finish.ts sets them.

import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  futimesSync,
  linkSync,
  lchownSync,
  lutimesSync,
  mkdirSync,
  openSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { run } from '../mount.js';
import { metaOfEntry, xattrOpsOf, type Entry } from './header.js';
import { entryComponents, unpackError, whiteoutOf } from './paths.js';
import { isWhiteout, lowerLookup, lstatOrUndef, resolveDir } from './resolve.js';
import type { LayerState, Meta } from './state.js';
import { applyWhiteout, makeOpaque } from './whiteouts.js';
import { PooledWrites, POOLED_FILE_BYTES } from './pooled.js';

async function drain(entry: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of entry) {
    /* discard */
  }
}

/** Apply one entry of the layer; its contents are consumed whatever it is. */
export async function applyEntry(s: LayerState, entry: Entry): Promise<void> {
  const h = entry.header;
  const name = h.name;
  if (++s.entries > s.limits.maxEntries) throw unpackError(name, `layer has more than ${s.limits.maxEntries} entries`);
  const comps = entryComponents(name);
  const base = comps[comps.length - 1];
  const wh = base === undefined ? undefined : whiteoutOf(base);
  if (wh) {
    await drain(entry);
    await applyWhiteout(s, wh, comps.slice(0, -1), name);
    return;
  }
  // tar-stream gives no type for a typeflag it does not know (GNU sparse
  // 'S', volume labels, multi-volume parts), and hands a PAX sparse file's
  // map over as if it were the content: either written as a plain file
  // would be another file than the layer's, so both are refused.
  if (h.type === null || h.type === undefined) {
    await drain(entry);
    throw unpackError(name, 'unsupported entry type (a GNU sparse file, a volume label or a multi-volume part)');
  }
  if (Object.keys(h.pax ?? {}).some((k) => k.startsWith('GNU.sparse.'))) {
    await drain(entry);
    throw unpackError(name, 'sparse files are not supported');
  }
  const type = h.type;
  if (comps.length === 0) {
    await drain(entry);
    if (type !== 'directory') throw unpackError(name, 'only a directory may stand for the root');
    const m = metaOfEntry(entry);
    lchownSync(s.root, m.uid, m.gid);
    s.dirMeta.set('', m);
    queueXattrs(s, entry, s.root);
    return;
  }
  resolveDir(s, comps.slice(0, -1), name);
  const rel = comps.join('/');
  const p = s.abs(rel);
  switch (type) {
    case 'directory':
      await drain(entry);
      writeDirectory(s, rel, p, entry);
      break;
    case 'file':
    case 'contiguous-file':
      await writeFile(s, rel, p, entry);
      break;
    case 'symlink':
      await drain(entry);
      writeSymlink(s, rel, p, entry);
      break;
    case 'link':
      await drain(entry);
      await writeHardlink(s, comps, rel, entry);
      break;
    case 'character-device':
    case 'block-device':
    case 'fifo':
      await drain(entry);
      await writeDevice(s, rel, p, entry, type);
      break;
    default:
      await drain(entry);
      throw unpackError(name, `unsupported entry type ${JSON.stringify(type)}`);
  }
  s.markWritten(rel);
  queueXattrs(s, entry, p);
}

/**
 * The entry's xattrs, in place of any queued for `abs` before, except the
 * opaque marker this layer queued for it (a whiteout of the directory, or
 * its `.wh..wh..opq`, then the directory again with xattrs of its own): that
 * marker is what hides the lower directory's contents.
 */
function queueXattrs(s: LayerState, entry: Entry, abs: string): void {
  const ops = xattrOpsOf(entry, abs, s.limits, s.log);
  if (!ops.length) return;
  const opaque = (s.xattrs.get(abs) ?? []).filter((o) => o.name === 'trusted.overlay.opaque');
  s.xattrs.set(abs, [...opaque, ...ops]);
}

/** Remove whatever is at `rel` so a new entry can take its place. */
function clear(s: LayerState, rel: string, newIsDir: boolean): { keptDir: boolean; wasWhiteout: boolean } {
  const p = s.abs(rel);
  // An overlay upper dir starts empty: only what this layer made can be in
  // the way, so the lstat is skipped for the (usual) new path. Were this
  // ever wrong, O_EXCL/mkdir/symlink would fail with EEXIST: an error,
  // never a write through something unexpected.
  if (s.overlay && !s.written.has(rel) && !s.dirsOk.has(rel) && !s.madeHere.has(rel)) {
    return { keptDir: false, wasWhiteout: false };
  }
  const st = lstatOrUndef(p);
  if (!st) return { keptDir: false, wasWhiteout: false };
  if (st.isDirectory()) {
    if (newIsDir) return { keptDir: true, wasWhiteout: false };
    rmSync(p, { recursive: true, force: true });
    s.forget(rel, true);
    return { keptDir: false, wasWhiteout: false };
  }
  unlinkSync(p);
  s.forget(rel, false);
  return { keptDir: false, wasWhiteout: isWhiteout(st) };
}

function applyMeta(p: string, m: Meta, symlink: boolean): void {
  lchownSync(p, m.uid, m.gid);
  if (!symlink) chmodSync(p, m.mode);
  lutimesSync(p, m.atime, m.mtime);
}

function writeDirectory(s: LayerState, rel: string, p: string, entry: Entry): void {
  const m = metaOfEntry(entry);
  const { keptDir, wasWhiteout } = clear(s, rel, true);
  if (!keptDir) mkdirSync(p, 0o700);
  lchownSync(p, m.uid, m.gid);
  // The layer says what this directory is: nothing of a lower copy stays.
  s.copiedUp.delete(p);
  s.dirsOk.add(rel);
  s.dirMeta.set(rel, m);
  // A directory replacing a whiteout of this layer replaces the lower
  // directory too: it must not merge with it.
  if (wasWhiteout && s.overlay) makeOpaque(s, rel, entry.header.name);
}

async function writeFile(s: LayerState, rel: string, p: string, entry: Entry): Promise<void> {
  const m = metaOfEntry(entry);
  if ((entry.header.size ?? 0) > s.limits.maxBytes)
    throw unpackError(entry.header.name, `file larger than the layer limit of ${s.limits.maxBytes} bytes`);
  clear(s, rel, false);
  const fd = openSync(p, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  const body = (entry.header.size ?? 0) >= POOLED_FILE_BYTES ? new PooledWrites(fd) : undefined;
  try {
    for await (const chunk of entry) {
      if (body) {
        await body.write(chunk);
        continue;
      }
      let off = 0;
      while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
    }
    await body?.finish();
    // On the descriptor: no path lookups, nothing to race with.
    fchownSync(fd, m.uid, m.gid);
    fchmodSync(fd, m.mode);
    futimesSync(fd, m.atime, m.mtime);
  } finally {
    // No write may still be using the descriptor when it is closed (and its number reused).
    await body?.settle();
    closeSync(fd);
  }
}

/** The target is stored verbatim and never followed. */
function writeSymlink(s: LayerState, rel: string, p: string, entry: Entry): void {
  const m = metaOfEntry(entry);
  const target = entry.header.linkname ?? '';
  if (!target || target.includes('\0') || Buffer.byteLength(target) > 4095)
    throw unpackError(entry.header.name, 'symlink target is empty, too long or has a NUL byte');
  clear(s, rel, false);
  symlinkSync(target, p);
  applyMeta(p, m, true);
}

/** Node has no mknod(2): mknod(1), spawned only for such entries. */
async function writeDevice(
  s: LayerState,
  rel: string,
  p: string,
  entry: Entry,
  type: 'character-device' | 'block-device' | 'fifo',
): Promise<void> {
  const h = entry.header;
  const m = metaOfEntry(entry);
  clear(s, rel, false);
  const args =
    type === 'fifo'
      ? ['-m', (m.mode & 0o777).toString(8), '--', p, 'p']
      : [
          '-m',
          (m.mode & 0o777).toString(8),
          '--',
          p,
          type === 'character-device' ? 'c' : 'b',
          String(h.devmajor ?? 0),
          String(h.devminor ?? 0),
        ];
  await run('mknod', args);
  applyMeta(p, m, false);
}

/**
 * The target is checked like a name (so `/etc/passwd` or `../../etc/passwd`
 * is refused) and its parents resolved like an entry's; a directory, a
 * deleted or a missing target is refused.
 */
async function writeHardlink(s: LayerState, comps: string[], rel: string, entry: Entry): Promise<void> {
  const name = entry.header.name;
  const tcomps = entryComponents(entry.header.linkname ?? '', 'hard link target', name);
  if (tcomps.length === 0) throw unpackError(name, 'hard link to the root');
  resolveDir(s, tcomps.slice(0, -1), name);
  const trel = tcomps.join('/');
  const tp = s.abs(trel);
  if (trel === rel) return;
  const st = lstatOrUndef(tp);
  if (st) {
    if (st.isDirectory()) throw unpackError(name, `hard link target "${trel}" is a directory`);
    if (s.overlay && isWhiteout(st)) throw unpackError(name, `hard link target "${trel}" was deleted`);
  } else {
    const lower = s.overlay ? lowerLookup(s, tcomps) : undefined;
    if (!lower) throw unpackError(name, `hard link target "${trel}" does not exist`);
    if (lower.st.isDirectory()) throw unpackError(name, `hard link target "${trel}" is a directory`);
    // The target lives in a lower layer: copy it up (contents, owner,
    // mode, times, xattrs) so both names share one inode in this layer,
    // as containerd does; a link across layers would let a write through
    // one name change a committed layer.
    await run('cp', ['-a', '--', lower.path, tp]);
    s.madeHere.add(trel);
  }
  clear(s, rel, false);
  linkSync(tp, s.abs(rel));
}
