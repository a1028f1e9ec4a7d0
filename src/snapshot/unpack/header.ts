// What a tar header says about an entry beyond its name and type: owner,
// mode and times (PAX overriding ustar), and its extended attributes, checked
// here (name syntax, size, count, no trusted.overlay.*) before any of them is
// queued for the setfattr batch (./xattrs.ts).

import type tar from 'tar-stream';
import type { Logger } from '../../common/log.js';
import { unpackError } from './paths.js';
import type { Meta, UnpackLimits } from './state.js';
import type { XattrOp } from './xattrs.js';

/** One entry of tar-stream's extractor, PAX records decoded (binary-safe: ./xattrs.ts). */
export type Entry = AsyncIterable<Buffer> & {
  header: Omit<tar.Header, 'pax'> & { pax?: Record<string, string> | null };
};

const MAX_ID = 0xfffffffe;

function num(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
}

/** Owner, mode and times of `entry`; an owner outside 0..2^32-2 is refused. */
export function metaOfEntry(entry: Entry): Meta {
  const h = entry.header;
  const pax = h.pax ?? {};
  const uid = num(pax.uid) ?? h.uid ?? 0;
  const gid = num(pax.gid) ?? h.gid ?? 0;
  if (!Number.isInteger(uid) || uid < 0 || uid > MAX_ID || !Number.isInteger(gid) || gid < 0 || gid > MAX_ID) {
    throw unpackError(h.name, `owner ${uid}:${gid} is out of range`);
  }
  const mtime = num(pax.mtime) ?? (h.mtime ? h.mtime.getTime() / 1000 : 0);
  const atime = num(pax.atime) ?? mtime;
  return { mode: (h.mode ?? 0o644) & 0o7777, uid, gid, atime, mtime };
}

/** The extended attributes `entry` sets on `abs` (`SCHILY.xattr.*`, `LIBARCHIVE.xattr.*`). */
export function xattrOpsOf(entry: Entry, abs: string, limits: UnpackLimits, log: Logger): XattrOp[] {
  const pax = entry.header.pax;
  if (!pax) return [];
  const ops: XattrOp[] = [];
  for (const [k, v] of Object.entries(pax)) {
    let name: string;
    let value: Buffer;
    if (k.startsWith('SCHILY.xattr.')) {
      name = k.slice('SCHILY.xattr.'.length);
      value = Buffer.from(v, 'latin1');
    } else if (k.startsWith('LIBARCHIVE.xattr.')) {
      try {
        name = decodeURIComponent(k.slice('LIBARCHIVE.xattr.'.length));
      } catch {
        throw unpackError(entry.header.name, 'badly encoded LIBARCHIVE.xattr name');
      }
      value = Buffer.from(v, 'base64');
    } else continue;
    // Printable ASCII without '=': the name goes into a setfattr dump
    // line, where a newline or '=' could otherwise smuggle in another path.
    if (!/^(user|trusted|security|system)\.[\x21-\x3c\x3e-\x7e]{1,250}$/.test(name)) {
      throw unpackError(entry.header.name, `bad extended attribute name ${JSON.stringify(name).slice(0, 100)}`);
    }
    // overlayfs reads trusted.overlay.* as instructions (redirects, opaque,
    // metacopy): a layer must never set them itself.
    if (name.startsWith('trusted.overlay.')) {
      log.warn('layer xattr ignored', { entry: entry.header.name, xattr: name });
      continue;
    }
    if (value.length > 65536) throw unpackError(entry.header.name, `extended attribute ${name} is larger than 64 KiB`);
    ops.push({ path: abs, name, value, entry: entry.header.name });
  }
  if (ops.length > limits.maxXattrsPerEntry)
    throw unpackError(entry.header.name, `more than ${limits.maxXattrsPerEntry} extended attributes`);
  return ops;
}
