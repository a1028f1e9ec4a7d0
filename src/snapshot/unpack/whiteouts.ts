// OCI whiteouts (`.wh.<name>`) and opaque directories (`.wh..wh..opq`).
// overlayfs: a whiteout becomes a 0/0 character device, an opaque directory
// gets `trusted.overlay.opaque=y` (or, without setfattr, one whiteout per
// lower name: emulateOpaque). native: they delete from this layer's copy of
// its parent. Either way a whiteout hides lower layers only, never an entry
// this layer wrote itself (see ../README.md for the corner cases).

import { linkSync, lstatSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { errnoOf } from '../../common/errors.js';
import { run } from '../mount.js';
import { unpackError, type WhiteoutKind } from './paths.js';
import { isWhiteout, lowerLookup, lstatOrUndef, resolveDir } from './resolve.js';
import type { LayerState } from './state.js';
import { parentsAreDirs } from './xattrs.js';

/** overlayfs: mark `rel` opaque (the xattr is set with the layer's batch). */
export function makeOpaque(s: LayerState, rel: string, entry: string): void {
  s.opaqueDirs.add(rel);
  const p = s.abs(rel);
  s.addXattrs(p, [{ path: p, name: 'trusted.overlay.opaque', value: Buffer.from('y'), entry }]);
}

/** Apply whiteout entry `name` (`wh`, found in directory `dir`). */
export async function applyWhiteout(
  s: LayerState,
  wh: NonNullable<WhiteoutKind>,
  dir: string[],
  name: string,
): Promise<void> {
  if (wh.kind === 'meta') return;
  if (wh.kind === 'whiteout' && (wh.name === '' || wh.name === '.' || wh.name === '..'))
    throw unpackError(name, 'whiteout of an invalid name');
  if (!resolveDir(s, dir, name, true)) return; // nothing below to hide
  const drel = dir.join('/');
  if (wh.kind === 'opaque') {
    if (s.overlay) makeOpaque(s, drel, name);
    else removeUnwritten(s, drel);
    return;
  }
  const rel = drel === '' ? wh.name : `${drel}/${wh.name}`;
  const p = s.abs(rel);
  const st = lstatOrUndef(p);
  // A whiteout hides lower layers only, never this layer's own entries: a
  // directory this layer already made keeps its own contents and loses the
  // lower ones (it becomes opaque); anything else of this layer already
  // hides the lower path.
  if (s.written.has(rel)) {
    if (st?.isDirectory()) {
      if (s.overlay) makeOpaque(s, rel, name);
      else removeUnwritten(s, rel);
    }
    return;
  }
  if (s.overlay) {
    if (st && isWhiteout(st)) return;
    if (!lowerLookup(s, rel.split('/'))) return;
    if (st) {
      // Only a copy-up (a directory holding this layer's whiteouts, or a
      // hard link's copied-up target) can be here: the whiteout replaces it.
      rmSync(p, { recursive: true, force: true });
      s.forget(rel, st.isDirectory());
    }
    await makeWhiteout(s, p);
    s.madeHere.add(rel);
  } else if (st) {
    rmSync(p, { recursive: true, force: true });
    s.forget(rel, st.isDirectory());
  }
}

/** Native driver: empty `drel` of everything that came from the parent. */
function removeUnwritten(s: LayerState, drel: string): void {
  for (const child of readdirSync(s.abs(drel))) {
    const rel = drel === '' ? child : `${drel}/${child}`;
    const p = s.abs(rel);
    if (!s.written.has(rel)) {
      const st = lstatSync(p);
      rmSync(p, { recursive: true, force: true });
      s.forget(rel, st.isDirectory());
    } else if (lstatSync(p).isDirectory()) {
      removeUnwritten(s, rel);
    }
  }
}

/**
 * overlayfs whiteouts are 0/0 character devices. Node has no mknod(2), so
 * one is made per layer with mknod(1) and every whiteout is a hard link to
 * it (overlayfs itself shares whiteout inodes the same way).
 */
async function makeWhiteout(s: LayerState, p: string): Promise<void> {
  for (let attempt = 0; attempt < 2; attempt++) {
    if (!s.whiteoutTemplate) {
      const t = join(s.scratch, `whiteout-${process.pid}`);
      rmSync(t, { force: true });
      await run('mknod', ['-m', '000', '--', t, 'c', '0', '0']);
      s.whiteoutTemplate = t;
    }
    try {
      linkSync(s.whiteoutTemplate, p);
      return;
    } catch (e) {
      if (errnoOf(e) !== 'EMLINK' || attempt > 0) throw e;
      rmSync(s.whiteoutTemplate, { force: true });
      s.whiteoutTemplate = undefined;
    }
  }
}

/** Remove the whiteout template, if one was made (after the layer, on success or failure). */
export function dropWhiteoutTemplate(s: LayerState): void {
  if (s.whiteoutTemplate) rmSync(s.whiteoutTemplate, { force: true });
  s.whiteoutTemplate = undefined;
}

/**
 * Without setfattr there is no opaque xattr: hide the lower contents of
 * `rel` with a whiteout per name instead, and, for each directory this
 * layer has there, the same one level down (it would merge otherwise).
 * Lower layers never change, so this is exact, only larger. Names already
 * hidden between layers get a (harmless) whiteout as well.
 */
export async function emulateOpaque(s: LayerState, rel: string, checked: Set<string>): Promise<void> {
  const p = s.abs(rel);
  const st = lstatOrUndef(p);
  if (!st?.isDirectory() || !parentsAreDirs(s.root, p, checked)) return;
  const comps = rel === '' ? [] : rel.split('/');
  const names = new Set<string>();
  for (const lower of s.lowers) {
    let lp = lower;
    let ok = true;
    for (const c of comps) {
      lp = join(lp, c);
      const ls = lstatOrUndef(lp);
      if (!ls?.isDirectory()) {
        ok = false;
        break;
      }
    }
    if (ok) for (const n of readdirSync(lp)) names.add(n);
  }
  for (const n of names) {
    const childRel = rel === '' ? n : `${rel}/${n}`;
    const child = s.abs(childRel);
    const cst = lstatOrUndef(child);
    if (!cst) await makeWhiteout(s, child);
    else if (cst.isDirectory()) await emulateOpaque(s, childRel, checked);
  }
}
