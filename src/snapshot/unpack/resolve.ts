// Where an entry may be written: the parents of every name (and of every
// hard link target) are resolved component by component with lstat, in this
// layer's tree and then (overlayfs) in the lower layers, topmost first. A
// symlink or a non-directory anywhere on the way is refused, whichever layer
// planted it, so nothing is ever written through a symlink. Names themselves
// (NUL, absolute, `..` above the root, lengths) are checked in ./paths.ts.

import { chmodSync, lchownSync, lstatSync, mkdirSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { errnoOf } from '../../common/errors.js';
import { unpackError } from './paths.js';
import { metaOf, type LayerState } from './state.js';

export function lstatOrUndef(p: string): Stats | undefined {
  try {
    // No exception for the common "not there yet": building one costs more than the lstat.
    return lstatSync(p, { throwIfNoEntry: false });
  } catch (e) {
    const n = errnoOf(e);
    if (n === 'ENOENT' || n === 'ENOTDIR') return undefined;
    throw e;
  }
}

/** An overlayfs whiteout: a 0/0 character device. */
export function isWhiteout(st: Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

/**
 * Where `comps` is in the lower layers (topmost first), or undefined when
 * absent or hidden there. A path counts only when each of its parents is a
 * real directory in that same lower: a symlink, file or whiteout on the way
 * hides everything below it (as overlayfs sees it), and nothing is ever
 * looked up through a lower layer's symlink.
 */
export function lowerLookup(s: LayerState, comps: string[]): { path: string; st: Stats } | undefined {
  for (const lower of s.lowers) {
    let p = lower;
    let absent = false;
    for (let i = 0; i < comps.length - 1; i++) {
      p = join(p, comps[i]!);
      const st = lstatOrUndef(p);
      if (!st) {
        absent = true;
        break;
      }
      if (!st.isDirectory()) return undefined;
    }
    if (absent) continue;
    p = join(p, comps[comps.length - 1]!);
    const st = lstatOrUndef(p);
    if (!st) continue;
    if (isWhiteout(st)) return undefined;
    return { path: p, st };
  }
  return undefined;
}

/**
 * Make every component of `comps` a real directory in this layer's tree,
 * copying directories up from the lower layers (owner, mode, times), or
 * refuse. With `onlyIfExists`, returns false instead of creating a
 * directory that exists nowhere.
 */
export function resolveDir(s: LayerState, comps: string[], entry: string, onlyIfExists = false): boolean {
  let rel = '';
  for (let i = 0; i < comps.length; i++) {
    rel = rel === '' ? comps[i]! : `${rel}/${comps[i]}`;
    if (s.dirsOk.has(rel)) continue;
    const p = s.abs(rel);
    const st = lstatOrUndef(p);
    if (st) {
      if (st.isDirectory()) {
        // native: a directory of the parent's copy keeps its times although
        // this layer changes its contents (as overlayfs' copy-up does).
        if (!s.overlay && !s.dirMeta.has(rel)) s.dirMeta.set(rel, metaOf(st));
        s.dirsOk.add(rel);
        continue;
      }
      if (st.isSymbolicLink())
        throw unpackError(entry, `"${rel}" is a symlink: refusing to write through it`, 'permission-denied');
      if (onlyIfExists && isWhiteout(st)) return false;
      throw unpackError(entry, `"${rel}" is not a directory`);
    }
    const lower = s.overlay ? lowerLookup(s, comps.slice(0, i + 1)) : undefined;
    if (lower) {
      if (lower.st.isSymbolicLink())
        throw unpackError(
          entry,
          `"${rel}" is a symlink in a lower layer: refusing to write through it`,
          'permission-denied',
        );
      if (!lower.st.isDirectory()) throw unpackError(entry, `"${rel}" is not a directory in a lower layer`);
      mkdirSync(p, 0o700);
      lchownSync(p, lower.st.uid, lower.st.gid);
      s.copiedUp.set(p, lower.path);
      if (!s.dirMeta.has(rel)) s.dirMeta.set(rel, metaOf(lower.st));
    } else {
      if (onlyIfExists) return false;
      mkdirSync(p, 0o755);
      chmodSync(p, 0o755);
    }
    s.dirsOk.add(rel);
  }
  return true;
}
