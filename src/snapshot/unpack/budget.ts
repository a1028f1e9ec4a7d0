// How much an image may expand to on disk. A small compressed layer can
// inflate to anything (a 2 MB gzip of zeros is 2 GiB), so the uncompressed
// bytes are bounded per layer and per image. The defaults follow the free
// space of the snapshotter's filesystem at the start of the unpack (what
// could not fit anyway), below the fixed per-layer cap; callers pass their
// own limits, and BERTH_UNPACK_MAX_LAYER_BYTES / BERTH_UNPACK_MAX_IMAGE_BYTES
// set them for the command line.

import { statfsSync } from 'node:fs';
import { BerthError } from '../../common/errors.js';
import { DEFAULT_LIMITS } from './state.js';

/** Kept free for everything else on that filesystem: a tenth of what is free. */
const RESERVE = 0.1;

export interface UnpackBudget {
  /** Uncompressed bytes of one layer. */
  layer: number;
  /** Uncompressed bytes of all the layers one unpack writes. */
  image: number;
  /** Where each number came from, for the error message. */
  source: string;
}

function fromEnv(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new BerthError(
      'snapshot',
      'invalid-argument',
      `${name}: must be a positive number of bytes, got ${JSON.stringify(v)}`,
    );
  }
  return n;
}

/** Free bytes for an unprivileged writer on dir's filesystem, undefined when unknown. */
export function freeBytes(dir: string): number | undefined {
  try {
    const s = statfsSync(dir);
    return Number(s.bavail) * Number(s.bsize);
  } catch {
    return undefined;
  }
}

export function unpackBudget(dir: string, given: { maxBytes?: number; maxImageBytes?: number } = {}): UnpackBudget {
  const free = freeBytes(dir);
  const spaceBound = free === undefined ? undefined : Math.floor(free * (1 - RESERVE));
  const image = given.maxImageBytes ?? fromEnv('BERTH_UNPACK_MAX_IMAGE_BYTES') ?? spaceBound ?? DEFAULT_LIMITS.maxBytes;
  const layer = Math.min(given.maxBytes ?? fromEnv('BERTH_UNPACK_MAX_LAYER_BYTES') ?? DEFAULT_LIMITS.maxBytes, image);
  const source =
    given.maxImageBytes !== undefined || given.maxBytes !== undefined
      ? 'the limits given'
      : process.env.BERTH_UNPACK_MAX_IMAGE_BYTES || process.env.BERTH_UNPACK_MAX_LAYER_BYTES
        ? 'BERTH_UNPACK_MAX_IMAGE_BYTES / BERTH_UNPACK_MAX_LAYER_BYTES'
        : `${Math.round((1 - RESERVE) * 100)}% of the free space of ${dir}`;
  return { layer, image, source };
}
