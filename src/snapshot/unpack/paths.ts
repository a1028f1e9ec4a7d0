// Names from a layer tar, checked before anything touches the disk. A name
// becomes a list of components relative to the snapshot root, or an error
// that names the entry. Absolute names are refused, not stripped: no
// well-formed layer has one (Docker and containerd write relative names), so
// one is a sign of a hostile or broken tar, and refusing is the safe reading.
// `..` is resolved lexically and refused when it climbs above the root.

import { BerthError } from '../../common/errors.js';

export const MAX_PATH = 4096;
export const MAX_NAME = 255;

export function unpackError(
  entry: string,
  msg: string,
  code: 'invalid-argument' | 'permission-denied' = 'invalid-argument',
): BerthError {
  return new BerthError('snapshot', code, `layer entry ${JSON.stringify(entry).slice(0, 300)}: ${msg}`);
}

/**
 * The components of tar name `name` inside the snapshot (errors name `entry`). `[]` is the root
 * itself ("./"). Throws for NUL bytes, absolute names, names that escape
 * with `..`, and over-long names.
 */
export function entryComponents(name: string, what = 'path', entry = name): string[] {
  if (name.length === 0) throw unpackError(entry, `empty ${what}`);
  if (name.includes('\0')) throw unpackError(entry, `${what} contains a NUL byte`);
  if (Buffer.byteLength(name) > MAX_PATH) throw unpackError(entry, `${what} longer than ${MAX_PATH} bytes`);
  if (name.startsWith('/')) throw unpackError(entry, `absolute ${what} refused (layer names are relative to the root)`);
  const out: string[] = [];
  for (const c of name.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (out.length === 0) throw unpackError(entry, `${what} escapes the root through ".."`);
      out.pop();
      continue;
    }
    if (Buffer.byteLength(c) > MAX_NAME)
      throw unpackError(entry, `a component of the ${what} is longer than ${MAX_NAME} bytes`);
    out.push(c);
  }
  return out;
}

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_WHITEOUT = '.wh..wh..opq';

export type WhiteoutKind = { kind: 'opaque' } | { kind: 'whiteout'; name: string } | { kind: 'meta' } | undefined;

/** Classify the last component of a name as an OCI whiteout, or undefined. */
export function whiteoutOf(base: string): WhiteoutKind {
  if (!base.startsWith(WHITEOUT_PREFIX)) return undefined;
  if (base === OPAQUE_WHITEOUT) return { kind: 'opaque' };
  // .wh..wh.* other than .opq are aufs metadata (hard link dirs): ignored.
  if (base.startsWith(WHITEOUT_PREFIX + WHITEOUT_PREFIX)) return { kind: 'meta' };
  const name = base.slice(WHITEOUT_PREFIX.length);
  return { kind: 'whiteout', name };
}
