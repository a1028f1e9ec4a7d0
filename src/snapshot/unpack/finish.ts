// After the last entry of a layer: what had to wait until every path was
// written. Copied-up directories take their lower xattrs, opaque
// directories are emulated where setfattr is missing, all xattrs go out in
// one setfattr batch (./xattrs.ts), and directories get their modes and
// times last (their contents would change the mtime), only where they are
// still real directories under real directories.

import { chmodSync, lutimesSync } from 'node:fs';
import { lstatOrUndef } from './resolve.js';
import type { LayerState } from './state.js';
import { dropWhiteoutTemplate, emulateOpaque } from './whiteouts.js';
import { applyXattrs, parentsAreDirs, readXattrs, setfattrPath } from './xattrs.js';

export async function finishLayer(s: LayerState): Promise<void> {
  // A copied-up directory shadows the lower one in the merged view, its
  // xattrs included: carry them over, as overlayfs' own copy-up does.
  if (s.copiedUp.size && setfattrPath()) {
    const lowerToUpper = new Map([...s.copiedUp].map(([u, l]) => [l, u]));
    for (const [lowerPath, attrs] of await readXattrs([...lowerToUpper.keys()])) {
      const upper = lowerToUpper.get(lowerPath);
      if (!upper || !attrs.length) continue;
      s.addXattrs(
        upper,
        attrs.map((a) => ({ path: upper, name: a.name, value: a.value, entry: '(copy-up)' })),
      );
    }
  }
  if (s.opaqueDirs.size && !setfattrPath()) {
    for (const rel of s.opaqueDirs) {
      const p = s.abs(rel);
      const left = (s.xattrs.get(p) ?? []).filter((o) => o.name !== 'trusted.overlay.opaque');
      if (left.length) s.xattrs.set(p, left);
      else s.xattrs.delete(p);
      await emulateOpaque(s, rel, new Set());
    }
  }
  const ops = [...s.xattrs.values()].flat();
  const { unsupported } = await applyXattrs(s.root, s.scratch, ops);
  if (unsupported.length) s.log.warn('extended attributes not supported here', { errors: unsupported.slice(0, 5) });
  const checked = new Set<string>();
  for (const [rel, m] of s.dirMeta) {
    const p = s.abs(rel);
    const st = lstatOrUndef(p);
    // chmod follows symlinks: only real directories under real directories.
    if (!st?.isDirectory() || !parentsAreDirs(s.root, p, checked)) continue;
    chmodSync(p, m.mode);
    lutimesSync(p, m.atime, m.mtime);
  }
  dropWhiteoutTemplate(s);
}
