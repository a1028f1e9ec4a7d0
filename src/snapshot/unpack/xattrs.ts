// Extended attributes. Node has no setxattr(2), and Berth keeps C to what
// must be C (native/README.md), so xattrs are written by `setfattr` from the
// attr package, in ONE process per layer: `setfattr -h --restore=FILE` reads a
// getfattr-style dump ("# file: PATH" then "name=0xHEX" lines) and applies it
// without following symlinks. A spawn costs ~1.5 ms; one per layer, and only
// for layers that carry xattrs or (overlayfs) opaque directories, is noise
// next to the unpack itself.
//
// Each path is re-checked for symlinks in its parents just before the batch
// runs, because a later entry of the same layer may have replaced a parent
// directory with a symlink after the xattr was queued.

import { lstatSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { randomBytes } from 'node:crypto';
import { BerthError, messageOf } from '../../common/errors.js';
import { run } from '../mount.js';

export interface XattrOp {
  /** Absolute path inside the snapshot dir. */
  path: string;
  name: string;
  value: Buffer;
  /** The tar entry it came from, for error messages. */
  entry: string;
}

const SETFATTR_CANDIDATES = ['/usr/bin/setfattr', '/bin/setfattr', '/usr/local/bin/setfattr'];

/** setfattr(1), or undefined when missing (or BERTH_SETFATTR=none, to test that case). */
export function setfattrPath(): string | undefined {
  if (process.env.BERTH_SETFATTR === 'none') return undefined;
  return SETFATTR_CANDIDATES.find((p) => existsSync(p));
}

/** getfattr's quoting: every byte outside a safe set as a 3-digit octal escape. */
function quotePath(p: string): string {
  let out = '';
  for (const b of Buffer.from(p)) {
    const ch = String.fromCharCode(b);
    out += b < 0x80 && /[A-Za-z0-9._/+\-:@,~]/.test(ch) ? ch : '\\' + b.toString(8).padStart(3, '0');
  }
  return out;
}

/** True when no component of `path` between `root` and its last one is a symlink or missing. */
export function parentsAreDirs(root: string, path: string, checked: Set<string>): boolean {
  let dir = dirname(path);
  const todo: string[] = [];
  while (dir.length > root.length && dir.startsWith(root + sep) && !checked.has(dir)) {
    todo.push(dir);
    dir = dirname(dir);
  }
  for (const d of todo.reverse()) {
    try {
      if (!lstatSync(d).isDirectory()) return false;
    } catch {
      return false;
    }
    checked.add(d);
  }
  return true;
}

/** Apply `ops` under snapshot dir `root`; `scratch` is a directory for the dump file, outside `root`. */
export async function applyXattrs(root: string, scratch: string, ops: XattrOp[]): Promise<{ unsupported: string[] }> {
  if (ops.length === 0) return { unsupported: [] };
  const tool = setfattrPath();
  if (!tool) {
    throw new BerthError(
      'snapshot',
      'unavailable',
      `layer entry ${JSON.stringify(ops[0]!.entry)} needs the extended attribute ${ops[0]!.name}, but setfattr is not installed (Debian package "attr")`,
    );
  }
  const checked = new Set<string>();
  const byPath = new Map<string, XattrOp[]>();
  for (const op of ops) {
    if (!parentsAreDirs(root, op.path, checked)) continue; // replaced later in the layer: nothing to label
    try {
      lstatSync(op.path);
    } catch {
      continue;
    }
    let l = byPath.get(op.path);
    if (!l) byPath.set(op.path, (l = []));
    l.push(op);
  }
  if (byPath.size === 0) return { unsupported: [] };
  let dump = '';
  for (const [path, l] of byPath) {
    dump += `# file: ${quotePath(path)}\n`;
    for (const op of l) dump += `${op.name}=0x${op.value.toString('hex')}\n`;
    dump += '\n';
  }
  const file = join(scratch, `.xattrs-${process.pid}-${randomBytes(4).toString('hex')}`);
  writeFileSync(file, dump, { mode: 0o600 });
  try {
    await run(tool, ['-h', `--restore=${file}`]);
    return { unsupported: [] };
  } catch (e) {
    const stderr = String((e as { stderr?: string }).stderr ?? messageOf(e));
    const lines = stderr.split('\n').filter((l) => l.trim());
    // A filesystem without xattr support for a namespace is a warning (as in
    // containerd); anything else is an error.
    const bad = lines.filter((l) => !/Operation not supported/i.test(l));
    if (lines.length > 0 && bad.length === 0) return { unsupported: lines };
    throw new BerthError(
      'snapshot',
      'internal',
      `setting extended attributes: ${(bad.join('; ') || messageOf(e)).slice(0, 1000)}`,
      { cause: e },
    );
  } finally {
    rmSync(file, { force: true });
  }
}

/**
 * tar-stream decodes PAX values as UTF-8, which mangles binary xattr values
 * (security.capability). This replaces the PAX decoding of one extractor
 * instance so that SCHILY.xattr.* values keep their bytes (as latin1 strings,
 * read back with Buffer.from(v, 'latin1')). Returns false when tar-stream's
 * internals are not what this was written for (then values stay UTF-8).
 */
export function keepBinaryPax(extract: object): boolean {
  const ex = extract as {
    _decodeLongHeader?: (buf: Buffer) => void;
    _header?: { type?: string };
    _pax?: Record<string, string> | null;
    _paxGlobal?: Record<string, string> | null;
  };
  const orig = ex._decodeLongHeader;
  if (typeof orig !== 'function' || !('_pax' in ex) || !('_paxGlobal' in ex)) return false;
  ex._decodeLongHeader = function (this: typeof ex, buf: Buffer): void {
    const t = this._header?.type;
    if (t !== 'pax-header' && t !== 'pax-global-header') {
      orig.call(this, buf);
      return;
    }
    const rec = decodePax(buf);
    if (t === 'pax-global-header') this._paxGlobal = rec;
    else this._pax = this._paxGlobal ? { ...this._paxGlobal, ...rec } : rec;
  };
  return true;
}

/** PAX records ("<len> <key>=<value>\n"), binary-safe for xattr values. */
export function decodePax(buf: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let off = 0;
  while (off < buf.length) {
    const sp = buf.indexOf(0x20, off);
    if (sp < 0) break;
    const len = parseInt(buf.toString('ascii', off, sp), 10);
    if (!Number.isFinite(len) || len <= sp - off || off + len > buf.length) break;
    const rec = buf.subarray(sp + 1, off + len - 1); // drop the trailing \n
    const eq = rec.indexOf(0x3d);
    if (eq < 0) break;
    const key = rec.toString('utf8', 0, eq);
    out[key] = key.startsWith('SCHILY.xattr.') ? rec.toString('latin1', eq + 1) : rec.toString('utf8', eq + 1);
    off += len;
  }
  return out;
}

/** Undo getfattr's octal escapes in a path. */
function unquotePath(q: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < q.length; i++) {
    const m = q[i] === '\\' ? /^[0-7]{3}/.exec(q.slice(i + 1, i + 4)) : null;
    if (m) {
      bytes.push(parseInt(m[0], 8));
      i += 3;
    } else {
      for (const b of Buffer.from(q[i]!)) bytes.push(b);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

const GETFATTR_CANDIDATES = ['/usr/bin/getfattr', '/bin/getfattr', '/usr/local/bin/getfattr'];

/**
 * The extended attributes of `paths` (not following symlinks), except
 * overlayfs' own trusted.overlay.*, in one getfattr run per 500 paths.
 * Paths without any are absent from the result. Without getfattr: empty.
 */
export async function readXattrs(paths: string[]): Promise<Map<string, { name: string; value: Buffer }[]>> {
  const out = new Map<string, { name: string; value: Buffer }[]>();
  const tool = GETFATTR_CANDIDATES.find((p) => existsSync(p));
  if (!tool || paths.length === 0) return out;
  for (let i = 0; i < paths.length; i += 500) {
    const chunk = paths.slice(i, i + 500);
    let stdout: string;
    try {
      ({ stdout } = await run(tool, ['-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', '--', ...chunk]));
    } catch (e) {
      // getfattr exits non-zero when one path has vanished; keep what it printed.
      stdout = String((e as { stdout?: string }).stdout ?? '');
    }
    let current: { name: string; value: Buffer }[] | undefined;
    for (const line of stdout.split('\n')) {
      if (line.startsWith('# file: ')) {
        current = [];
        out.set(unquotePath(line.slice(8)), current);
      } else if (line && current) {
        const eq = line.indexOf('=');
        const name = eq < 0 ? line : line.slice(0, eq);
        if (name.startsWith('trusted.overlay.')) continue;
        const v = eq < 0 ? '' : line.slice(eq + 1);
        current.push({
          name,
          value: v.startsWith('0x') ? Buffer.from(v.slice(2), 'hex') : Buffer.from(v.replace(/^"|"$/g, '')),
        });
      }
    }
  }
  return out;
}
