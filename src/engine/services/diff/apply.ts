// diff.Apply: a layer blob of the namespace applied to the mounts of an
// active snapshot, with the snapshot library's unpacker (whiteouts,
// opaque directories, hostile-tar checks). The mounts are the ones this
// engine's snapshotters returned: an overlay (its upperdir receives the
// layer, its lowerdirs are what whiteouts hide) or a read-write bind (the
// directory receives the layer; whiteouts delete). They are interpreted,
// not mounted: no mount namespace work per layer, and no write can land
// outside the snapshotters' directories.

import { createReadStream } from 'node:fs';
import { resolve, sep } from 'node:path';
import type { Mount__Output } from '../../../api/gen/containerd/types/Mount.js';
import { applyLayer, type ExtractionTarget } from '../../../snapshot/index.js';
import type { EngineContext } from '../../context.js';
import { invalidArgument } from '../../validate.js';

function inside(dirs: string[], p: string, field: string): string {
  const abs = resolve(p);
  if (!dirs.some((d) => abs.startsWith(d + sep))) {
    throw invalidArgument(`${field} ${JSON.stringify(p)} is not a snapshot of this engine`, field);
  }
  return abs;
}

/** The directories a layer goes into, read from the mounts an active snapshot has. */
export function extractionTarget(ctx: EngineContext, mounts: Mount__Output[]): ExtractionTarget {
  if (mounts.length !== 1)
    throw invalidArgument(`diff apply: want the one mount of an active snapshot, got ${mounts.length}`, 'mounts');
  const m = mounts[0]!;
  const dirs = [...ctx.snapshotters.values()].map((s) => resolve(s.dir));
  if (m.options.includes('ro')) throw invalidArgument('diff apply: the mount is read-only', 'mounts.options');
  if (m.type === 'bind' || m.type === 'rbind') {
    return { driver: 'native', dir: inside(dirs, m.source, 'mounts.source'), lowers: [] };
  }
  if (m.type === 'overlay') {
    const opt = (k: string) => m.options.find((o) => o.startsWith(`${k}=`))?.slice(k.length + 1);
    const upper = opt('upperdir');
    const lower = opt('lowerdir');
    if (!upper) throw invalidArgument('diff apply: overlay mount without upperdir', 'mounts.options');
    return {
      driver: 'overlayfs',
      dir: inside(dirs, upper, 'mounts.options.upperdir'),
      lowers: (lower ?? '')
        .split(':')
        .filter(Boolean)
        .map((l) => inside(dirs, l, 'mounts.options.lowerdir')),
    };
  }
  throw invalidArgument(`diff apply: mount type ${JSON.stringify(m.type)} is not supported`, 'mounts.type');
}

export async function applyToMounts(
  ctx: EngineContext,
  ns: string,
  desc: { media_type: string; digest: string },
  mounts: Mount__Output[],
): Promise<{ diffId: string; size: number }> {
  const target = extractionTarget(ctx, mounts);
  ctx.content.get(ns, desc.digest); // NotFound naming the digest when the namespace lacks it
  const res = await applyLayer({
    target,
    stream: createReadStream(ctx.blobs.blobPath(desc.digest)),
    mediaType: desc.media_type,
    logger: ctx.log,
  });
  return { diffId: res.diffId, size: res.size };
}
