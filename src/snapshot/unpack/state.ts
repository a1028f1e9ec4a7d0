// What applying one layer remembers between entries: the target tree, the
// limits, and the bookkeeping the other steps share (which paths are known
// real directories, which ones this layer wrote, the directory metadata and
// xattrs kept for the end). The steps themselves live beside it: resolve.ts
// (where an entry may go), writers.ts (one entry), whiteouts.ts, finish.ts.

import { lstatSync, type Stats } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from '../../common/log.js';
import type { ExtractionTarget } from '../types.js';
import type { XattrOp } from './xattrs.js';

export interface UnpackLimits {
  /** Entries in one layer. */
  maxEntries: number;
  /** Uncompressed bytes of one layer. */
  maxBytes: number;
  /** Extended attributes on one entry. */
  maxXattrsPerEntry: number;
  /** Uncompressed bytes of all the layers one image unpack writes (unpackImage; budget.ts). */
  maxImageBytes?: number;
}

export const DEFAULT_LIMITS: UnpackLimits = {
  maxEntries: 2_000_000,
  /** A hard cap; unpackImage bounds a layer by the free space too (budget.ts). */
  maxBytes: 256 * 2 ** 30,
  maxXattrsPerEntry: 128,
};

/** Owner, permission bits and times of one path. */
export interface Meta {
  mode: number;
  uid: number;
  gid: number;
  atime: number;
  mtime: number;
}

export function metaOf(st: Stats): Meta {
  return { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, atime: st.atimeMs / 1000, mtime: st.mtimeMs / 1000 };
}

export class LayerState {
  readonly overlay: boolean;
  readonly root: string;
  readonly lowers: string[];
  /** Scratch space next to (never inside) the snapshot tree. */
  readonly scratch: string;
  entries = 0;
  /** Relative paths known to be real directories in this layer's tree. */
  readonly dirsOk = new Set<string>(['']);
  /** Relative paths this layer wrote, and their ancestors. */
  readonly written = new Set<string>();
  /** overlayfs: whiteouts and copied-up files this layer made (with `written` and `dirsOk`, all its upper holds). */
  readonly madeHere = new Set<string>();
  /** Directories whose mode and times are set last. */
  readonly dirMeta = new Map<string, Meta>();
  readonly xattrs = new Map<string, XattrOp[]>();
  /** overlayfs: the 0/0 character device every whiteout of this layer links to (whiteouts.ts). */
  whiteoutTemplate: string | undefined;
  /** overlayfs: directories made opaque by this layer. */
  readonly opaqueDirs = new Set<string>();
  /** Directories copied up from a lower layer: upper path → lower path (their xattrs follow at the end). */
  readonly copiedUp = new Map<string, string>();

  constructor(
    target: ExtractionTarget,
    readonly limits: UnpackLimits,
    readonly log: Logger,
  ) {
    this.overlay = target.driver === 'overlayfs';
    this.root = target.dir;
    this.lowers = target.lowers;
    this.scratch = dirname(target.dir);
    if (!this.overlay) this.dirMeta.set('', metaOf(lstatSync(this.root)));
  }

  abs(rel: string): string {
    return rel === '' ? this.root : join(this.root, rel);
  }

  markWritten(rel: string): void {
    let r = rel;
    while (r !== '' && !this.written.has(r)) {
      this.written.add(r);
      const i = r.lastIndexOf('/');
      r = i < 0 ? '' : r.slice(0, i);
    }
  }

  /**
   * Forget what we knew about `rel` once it was removed. For a directory the
   * whole "known directories" cache goes (it refills with lstat); scanning it
   * by prefix would let a layer that replaces many directories cost
   * quadratic time. Queued metadata and xattrs below `rel` stay queued: at the
   * end they are applied only to paths whose parents are real directories
   * and that still exist, so at worst a hostile layer relabels its own files.
   */
  forget(rel: string, wasDir: boolean): void {
    this.xattrs.delete(this.abs(rel));
    this.opaqueDirs.delete(rel);
    this.dirMeta.delete(rel);
    this.dirsOk.delete(rel);
    if (wasDir) {
      this.dirsOk.clear();
      this.dirsOk.add('');
    }
  }

  /** Queue xattr `ops` for `abs`, after any already queued there. */
  addXattrs(abs: string, ops: XattrOp[]): void {
    const queued = this.xattrs.get(abs) ?? [];
    queued.push(...ops);
    this.xattrs.set(abs, queued);
  }
}
