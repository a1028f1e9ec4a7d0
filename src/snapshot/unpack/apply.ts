// Applying one layer tar to an active snapshot. See ./README.md for the
// rules; in short:
//  - every parent of every entry is resolved component by component with
//    lstat, in this layer's dir and then (overlayfs) in the lower layers; a
//    symlink or non-directory anywhere in a parent path is refused, so
//    nothing is ever written through a symlink;
//  - files are created with O_CREAT|O_EXCL|O_NOFOLLOW after whatever was at
//    the path is removed (never opened through it);
//  - ownership, then mode (so chown cannot clear setuid bits), then times;
//    directories get their mode and times after all their contents, xattrs
//    are applied in one batch at the end (./xattrs.ts);
//  - whiteouts: overlayfs gets 0/0 character devices and the opaque xattr,
//    native deletes from its copy of the parent.
// Metadata calls are synchronous on purpose: each is microseconds, and the
// thread-pool round trip of fs/promises would dominate a layer of small
// files. File contents stream.

import {
  chmodSync, closeSync, constants, fchmodSync, fchownSync, futimesSync, linkSync, lchownSync, lstatSync, lutimesSync, mkdirSync, openSync,
  readdirSync, rmSync, symlinkSync, unlinkSync, writeSync, type Stats,
} from 'node:fs';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { BerthError, errnoOf, isBerthError, messageOf } from '../../common/errors.js';
import { nullLogger, type Logger } from '../../common/log.js';
import { run } from '../mount.js';
import type { ExtractionTarget } from '../types.js';
import { checkLayerMediaType, compressionOf, decompressor, DiffIdCounter, peek, type Compression } from './decompress.js';
import { entryComponents, unpackError, whiteoutOf } from './paths.js';
import { applyXattrs, keepBinaryPax, parentsAreDirs, readXattrs, setfattrPath, type XattrOp } from './xattrs.js';

export interface UnpackLimits {
  /** Entries in one layer. */
  maxEntries: number;
  /** Uncompressed bytes of one layer. */
  maxBytes: number;
  /** Extended attributes on one entry. */
  maxXattrsPerEntry: number;
}

export const DEFAULT_LIMITS: UnpackLimits = {
  maxEntries: 2_000_000,
  maxBytes: 256 * 2 ** 30,
  maxXattrsPerEntry: 128,
};

export interface ApplyOptions {
  target: ExtractionTarget;
  /** The layer blob: gzip, zstd or plain tar (told apart by magic bytes). */
  stream: Readable;
  mediaType?: string;
  /** When given, a different sha256 of the uncompressed tar is 'digest-mismatch'. */
  expectedDiffId?: string;
  limits?: Partial<UnpackLimits>;
  logger?: Logger;
}

export interface ApplyResult {
  diffId: string;
  /** Uncompressed bytes. */
  size: number;
  entries: number;
  compression: Compression;
}

interface Meta { mode: number; uid: number; gid: number; atime: number; mtime: number }

type Entry = AsyncIterable<Buffer> & { header: Omit<tar.Header, 'pax'> & { pax?: Record<string, string> | null } };

const MAX_ID = 0xfffffffe;

function lstatOrUndef(p: string): Stats | undefined {
  try {
    // No exception for the common "not there yet": building one costs more than the lstat.
    return lstatSync(p, { throwIfNoEntry: false });
  } catch (e) {
    const n = errnoOf(e);
    if (n === 'ENOENT' || n === 'ENOTDIR') return undefined;
    throw e;
  }
}

function metaOf(st: Stats): Meta {
  return { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, atime: st.atimeMs / 1000, mtime: st.mtimeMs / 1000 };
}

function isWhiteout(st: Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

function num(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
}

class Applier {
  readonly overlay: boolean;
  readonly root: string;
  readonly lowers: string[];
  /** Scratch space next to (never inside) the snapshot tree. */
  readonly scratch: string;
  entries = 0;
  /** Relative paths known to be real directories in this layer's tree. */
  private readonly dirsOk = new Set<string>(['']);
  /** Relative paths this layer wrote, and their ancestors. */
  private readonly written = new Set<string>();
  /** overlayfs: whiteouts and copied-up files this layer made (with `written` and `dirsOk`, all its upper holds). */
  private readonly madeHere = new Set<string>();
  /** Directories whose mode and times are set last. */
  private readonly dirMeta = new Map<string, Meta>();
  private readonly xattrs = new Map<string, XattrOp[]>();
  private whiteoutTemplate: string | undefined;
  /** overlayfs: directories made opaque by this layer. */
  private readonly opaqueDirs = new Set<string>();
  /** Directories copied up from a lower layer: upper path → lower path (their xattrs follow at the end). */
  private readonly copiedUp = new Map<string, string>();

  constructor(target: ExtractionTarget, readonly limits: UnpackLimits, readonly log: Logger) {
    this.overlay = target.driver === 'overlayfs';
    this.root = target.dir;
    this.lowers = target.lowers;
    this.scratch = dirname(target.dir);
    if (!this.overlay) this.dirMeta.set('', metaOf(lstatSync(this.root)));
  }

  private abs(rel: string): string {
    return rel === '' ? this.root : join(this.root, rel);
  }

  private markWritten(rel: string): void {
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
  private forget(rel: string, wasDir: boolean): void {
    this.xattrs.delete(this.abs(rel));
    this.opaqueDirs.delete(rel);
    this.dirMeta.delete(rel);
    this.dirsOk.delete(rel);
    if (wasDir) {
      this.dirsOk.clear();
      this.dirsOk.add('');
    }
  }

  /**
   * Where `comps` is in the lower layers (topmost first), or undefined when
   * absent or hidden there. A path counts only when each of its parents is a
   * real directory in that same lower: a symlink, file or whiteout on the way
   * hides everything below it (as overlayfs sees it), and nothing is ever
   * looked up through a lower layer's symlink.
   */
  private lowerLookup(comps: string[]): { path: string; st: Stats } | undefined {
    for (const lower of this.lowers) {
      let p = lower;
      let absent = false;
      for (let i = 0; i < comps.length - 1; i++) {
        p = join(p, comps[i]!);
        const st = lstatOrUndef(p);
        if (!st) { absent = true; break; }
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
  private resolveDir(comps: string[], entry: string, onlyIfExists = false): boolean {
    let rel = '';
    for (let i = 0; i < comps.length; i++) {
      rel = rel === '' ? comps[i]! : `${rel}/${comps[i]}`;
      if (this.dirsOk.has(rel)) continue;
      const p = this.abs(rel);
      const st = lstatOrUndef(p);
      if (st) {
        if (st.isDirectory()) {
          // native: a directory of the parent's copy keeps its times although
          // this layer changes its contents (as overlayfs' copy-up does).
          if (!this.overlay && !this.dirMeta.has(rel)) this.dirMeta.set(rel, metaOf(st));
          this.dirsOk.add(rel);
          continue;
        }
        if (st.isSymbolicLink()) throw unpackError(entry, `"${rel}" is a symlink: refusing to write through it`, 'permission-denied');
        if (onlyIfExists && isWhiteout(st)) return false;
        throw unpackError(entry, `"${rel}" is not a directory`);
      }
      const lower = this.overlay ? this.lowerLookup(comps.slice(0, i + 1)) : undefined;
      if (lower) {
        if (lower.st.isSymbolicLink()) throw unpackError(entry, `"${rel}" is a symlink in a lower layer: refusing to write through it`, 'permission-denied');
        if (!lower.st.isDirectory()) throw unpackError(entry, `"${rel}" is not a directory in a lower layer`);
        mkdirSync(p, 0o700);
        lchownSync(p, lower.st.uid, lower.st.gid);
        this.copiedUp.set(p, lower.path);
        if (!this.dirMeta.has(rel)) this.dirMeta.set(rel, metaOf(lower.st));
      } else {
        if (onlyIfExists) return false;
        mkdirSync(p, 0o755);
        chmodSync(p, 0o755);
      }
      this.dirsOk.add(rel);
    }
    return true;
  }

  /** Remove whatever is at `rel` so a new entry can take its place. */
  private clear(rel: string, newIsDir: boolean): { keptDir: boolean; wasWhiteout: boolean } {
    const p = this.abs(rel);
    // An overlay upper dir starts empty: only what this layer made can be in
    // the way, so the lstat is skipped for the (usual) new path. Were this
    // ever wrong, O_EXCL/mkdir/symlink would fail with EEXIST: an error,
    // never a write through something unexpected.
    if (this.overlay && !this.written.has(rel) && !this.dirsOk.has(rel) && !this.madeHere.has(rel)) {
      return { keptDir: false, wasWhiteout: false };
    }
    const st = lstatOrUndef(p);
    if (!st) return { keptDir: false, wasWhiteout: false };
    if (st.isDirectory()) {
      if (newIsDir) return { keptDir: true, wasWhiteout: false };
      rmSync(p, { recursive: true, force: true });
      this.forget(rel, true);
      return { keptDir: false, wasWhiteout: false };
    }
    unlinkSync(p);
    this.forget(rel, false);
    return { keptDir: false, wasWhiteout: isWhiteout(st) };
  }

  private meta(entry: Entry): Meta {
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

  private queueXattrs(entry: Entry, abs: string): void {
    const pax = entry.header.pax;
    if (!pax) return;
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
        this.log.warn('layer xattr ignored', { entry: entry.header.name, xattr: name });
        continue;
      }
      if (value.length > 65536) throw unpackError(entry.header.name, `extended attribute ${name} is larger than 64 KiB`);
      ops.push({ path: abs, name, value, entry: entry.header.name });
    }
    if (ops.length > this.limits.maxXattrsPerEntry) throw unpackError(entry.header.name, `more than ${this.limits.maxXattrsPerEntry} extended attributes`);
    if (ops.length) this.xattrs.set(abs, ops);
  }

  private applyMeta(p: string, m: Meta, symlink: boolean): void {
    lchownSync(p, m.uid, m.gid);
    if (!symlink) chmodSync(p, m.mode);
    lutimesSync(p, m.atime, m.mtime);
  }

  async entry(entry: Entry): Promise<void> {
    const h = entry.header;
    const name = h.name;
    if (++this.entries > this.limits.maxEntries) throw unpackError(name, `layer has more than ${this.limits.maxEntries} entries`);
    const comps = entryComponents(name);
    const base = comps[comps.length - 1];
    const wh = base === undefined ? undefined : whiteoutOf(base);
    if (wh) {
      await drain(entry);
      await this.whiteout(wh, comps.slice(0, -1), name);
      return;
    }
    const type = h.type ?? 'file';
    if (comps.length === 0) {
      await drain(entry);
      if (type !== 'directory') throw unpackError(name, 'only a directory may stand for the root');
      const m = this.meta(entry);
      lchownSync(this.root, m.uid, m.gid);
      this.dirMeta.set('', m);
      this.queueXattrs(entry, this.root);
      return;
    }
    this.resolveDir(comps.slice(0, -1), name);
    const rel = comps.join('/');
    const p = this.abs(rel);
    switch (type) {
      case 'directory': {
        await drain(entry);
        const m = this.meta(entry);
        const { keptDir, wasWhiteout } = this.clear(rel, true);
        if (!keptDir) mkdirSync(p, 0o700);
        lchownSync(p, m.uid, m.gid);
        // The layer says what this directory is: nothing of a lower copy stays.
        this.copiedUp.delete(p);
        this.dirsOk.add(rel);
        this.dirMeta.set(rel, m);
        // A directory replacing a whiteout of this layer replaces the lower
        // directory too: it must not merge with it.
        if (wasWhiteout && this.overlay) this.opaque(rel, name);
        break;
      }
      case 'file':
      case 'contiguous-file': {
        const m = this.meta(entry);
        if ((h.size ?? 0) > this.limits.maxBytes) throw unpackError(name, `file larger than the layer limit of ${this.limits.maxBytes} bytes`);
        this.clear(rel, false);
        const fd = openSync(p, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
        try {
          for await (const chunk of entry) {
            let off = 0;
            while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
          }
          // On the descriptor: no path lookups, nothing to race with.
          fchownSync(fd, m.uid, m.gid);
          fchmodSync(fd, m.mode);
          futimesSync(fd, m.atime, m.mtime);
        } finally {
          closeSync(fd);
        }
        break;
      }
      case 'symlink': {
        await drain(entry);
        const m = this.meta(entry);
        const target = h.linkname ?? '';
        if (!target || target.includes('\0') || Buffer.byteLength(target) > 4095) throw unpackError(name, 'symlink target is empty, too long or has a NUL byte');
        this.clear(rel, false);
        symlinkSync(target, p);
        this.applyMeta(p, m, true);
        break;
      }
      case 'link':
        await drain(entry);
        await this.hardlink(comps, rel, entry);
        break;
      case 'character-device':
      case 'block-device':
      case 'fifo': {
        await drain(entry);
        const m = this.meta(entry);
        this.clear(rel, false);
        const args = type === 'fifo'
          ? ['-m', (m.mode & 0o777).toString(8), '--', p, 'p']
          : ['-m', (m.mode & 0o777).toString(8), '--', p, type === 'character-device' ? 'c' : 'b', String(h.devmajor ?? 0), String(h.devminor ?? 0)];
        await run('mknod', args);
        this.applyMeta(p, m, false);
        break;
      }
      default:
        await drain(entry);
        throw unpackError(name, `unsupported entry type ${JSON.stringify(type)}`);
    }
    this.markWritten(rel);
    this.queueXattrs(entry, p);
  }

  private async hardlink(comps: string[], rel: string, entry: Entry): Promise<void> {
    const name = entry.header.name;
    const tcomps = entryComponents(entry.header.linkname ?? '', 'hard link target', name);
    if (tcomps.length === 0) throw unpackError(name, 'hard link to the root');
    this.resolveDir(tcomps.slice(0, -1), name);
    const trel = tcomps.join('/');
    const tp = this.abs(trel);
    if (trel === rel) return;
    const st = lstatOrUndef(tp);
    if (st) {
      if (st.isDirectory()) throw unpackError(name, `hard link target "${trel}" is a directory`);
      if (this.overlay && isWhiteout(st)) throw unpackError(name, `hard link target "${trel}" was deleted`);
    } else {
      const lower = this.overlay ? this.lowerLookup(tcomps) : undefined;
      if (!lower) throw unpackError(name, `hard link target "${trel}" does not exist`);
      if (lower.st.isDirectory()) throw unpackError(name, `hard link target "${trel}" is a directory`);
      // The target lives in a lower layer: copy it up (contents, owner,
      // mode, times, xattrs) so both names share one inode in this layer,
      // as containerd does; a link across layers would let a write through
      // one name change a committed layer.
      await run('cp', ['-a', '--', lower.path, tp]);
      this.madeHere.add(trel);
    }
    this.clear(rel, false);
    linkSync(tp, this.abs(rel));
  }

  private opaque(rel: string, entry: string): void {
    this.opaqueDirs.add(rel);
    const p = this.abs(rel);
    const ops = this.xattrs.get(p) ?? [];
    ops.push({ path: p, name: 'trusted.overlay.opaque', value: Buffer.from('y'), entry });
    this.xattrs.set(p, ops);
  }

  private async whiteout(wh: NonNullable<ReturnType<typeof whiteoutOf>>, dir: string[], name: string): Promise<void> {
    if (wh.kind === 'meta') return;
    if (wh.kind === 'whiteout' && (wh.name === '' || wh.name === '.' || wh.name === '..')) throw unpackError(name, 'whiteout of an invalid name');
    if (!this.resolveDir(dir, name, true)) return; // nothing below to hide
    const drel = dir.join('/');
    if (wh.kind === 'opaque') {
      if (this.overlay) this.opaque(drel, name);
      else this.removeUnwritten(drel);
      return;
    }
    const rel = drel === '' ? wh.name : `${drel}/${wh.name}`;
    const p = this.abs(rel);
    const st = lstatOrUndef(p);
    // A whiteout hides lower layers only, never this layer's own entries: a
    // directory this layer already made keeps its own contents and loses the
    // lower ones (it becomes opaque); anything else of this layer already
    // hides the lower path.
    if (this.written.has(rel)) {
      if (st?.isDirectory()) {
        if (this.overlay) this.opaque(rel, name);
        else this.removeUnwritten(rel);
      }
      return;
    }
    if (this.overlay) {
      if (st && isWhiteout(st)) return;
      if (!this.lowerLookup(rel.split('/'))) return;
      if (st) {
        // Only a copy-up (a directory holding this layer's whiteouts, or a
        // hard link's copied-up target) can be here: the whiteout replaces it.
        rmSync(p, { recursive: true, force: true });
        this.forget(rel, st.isDirectory());
      }
      await this.makeWhiteout(p);
      this.madeHere.add(rel);
    } else if (st) {
      rmSync(p, { recursive: true, force: true });
      this.forget(rel, st.isDirectory());
    }
  }

  /** Native driver: empty `drel` of everything that came from the parent. */
  private removeUnwritten(drel: string): void {
    for (const child of readdirSync(this.abs(drel))) {
      const rel = drel === '' ? child : `${drel}/${child}`;
      const p = this.abs(rel);
      if (!this.written.has(rel)) {
        const st = lstatSync(p);
        rmSync(p, { recursive: true, force: true });
        this.forget(rel, st.isDirectory());
      } else if (lstatSync(p).isDirectory()) {
        this.removeUnwritten(rel);
      }
    }
  }

  /**
   * overlayfs whiteouts are 0/0 character devices. Node has no mknod(2), so
   * one is made per layer with mknod(1) and every whiteout is a hard link to
   * it (overlayfs itself shares whiteout inodes the same way).
   */
  private async makeWhiteout(p: string): Promise<void> {
    for (let attempt = 0; attempt < 2; attempt++) {
      if (!this.whiteoutTemplate) {
        const t = join(this.scratch, `whiteout-${process.pid}`);
        rmSync(t, { force: true });
        await run('mknod', ['-m', '000', '--', t, 'c', '0', '0']);
        this.whiteoutTemplate = t;
      }
      try {
        linkSync(this.whiteoutTemplate, p);
        return;
      } catch (e) {
        if (errnoOf(e) !== 'EMLINK' || attempt > 0) throw e;
        rmSync(this.whiteoutTemplate, { force: true });
        this.whiteoutTemplate = undefined;
      }
    }
  }

  async finish(): Promise<void> {
    // A copied-up directory shadows the lower one in the merged view, its
    // xattrs included: carry them over, as overlayfs' own copy-up does.
    if (this.copiedUp.size && setfattrPath()) {
      const lowerToUpper = new Map([...this.copiedUp].map(([u, l]) => [l, u]));
      for (const [lowerPath, attrs] of await readXattrs([...lowerToUpper.keys()])) {
        const upper = lowerToUpper.get(lowerPath);
        if (!upper || !attrs.length) continue;
        const ops = this.xattrs.get(upper) ?? [];
        for (const a of attrs) ops.push({ path: upper, name: a.name, value: a.value, entry: '(copy-up)' });
        this.xattrs.set(upper, ops);
      }
    }
    if (this.opaqueDirs.size && !setfattrPath()) {
      for (const rel of this.opaqueDirs) {
        const p = this.abs(rel);
        const left = (this.xattrs.get(p) ?? []).filter((o) => o.name !== 'trusted.overlay.opaque');
        if (left.length) this.xattrs.set(p, left);
        else this.xattrs.delete(p);
        await this.emulateOpaque(rel, new Set());
      }
    }
    const ops = [...this.xattrs.values()].flat();
    const { unsupported } = await applyXattrs(this.root, this.scratch, ops);
    if (unsupported.length) this.log.warn('extended attributes not supported here', { errors: unsupported.slice(0, 5) });
    const checked = new Set<string>();
    for (const [rel, m] of this.dirMeta) {
      const p = this.abs(rel);
      const st = lstatOrUndef(p);
      // chmod follows symlinks: only real directories under real directories.
      if (!st?.isDirectory() || !parentsAreDirs(this.root, p, checked)) continue;
      chmodSync(p, m.mode);
      lutimesSync(p, m.atime, m.mtime);
    }
    this.dropTemplate();
  }

  /**
   * Without setfattr there is no opaque xattr: hide the lower contents of
   * `rel` with a whiteout per name instead, and, for each directory this
   * layer has there, the same one level down (it would merge otherwise).
   * Lower layers never change, so this is exact, only larger. Names already
   * hidden between layers get a (harmless) whiteout as well.
   */
  private async emulateOpaque(rel: string, checked: Set<string>): Promise<void> {
    const p = this.abs(rel);
    const st = lstatOrUndef(p);
    if (!st?.isDirectory() || !parentsAreDirs(this.root, p, checked)) return;
    const comps = rel === '' ? [] : rel.split('/');
    const names = new Set<string>();
    for (const lower of this.lowers) {
      let lp = lower;
      let ok = true;
      for (const c of comps) {
        lp = join(lp, c);
        const ls = lstatOrUndef(lp);
        if (!ls?.isDirectory()) { ok = false; break; }
      }
      if (ok) for (const n of readdirSync(lp)) names.add(n);
    }
    for (const n of names) {
      const childRel = rel === '' ? n : `${rel}/${n}`;
      const child = this.abs(childRel);
      const cst = lstatOrUndef(child);
      if (!cst) await this.makeWhiteout(child);
      else if (cst.isDirectory()) await this.emulateOpaque(childRel, checked);
    }
  }

  dropTemplate(): void {
    if (this.whiteoutTemplate) rmSync(this.whiteoutTemplate, { force: true });
    this.whiteoutTemplate = undefined;
  }
}

async function drain(entry: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of entry) { /* discard */ }
}

/**
 * Apply one layer to the active snapshot described by `target`. On error the
 * snapshot is left as it is (half-written): the caller removes it
 * (`unpackLayer` does).
 */
export async function applyLayer(opts: ApplyOptions): Promise<ApplyResult> {
  checkLayerMediaType(opts.mediaType);
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const applier = new Applier(opts.target, limits, opts.logger ?? nullLogger);
  const { head, stream } = await peek(opts.stream, 4);
  const compression = compressionOf(head);
  const dec = decompressor(compression);
  const counter = new DiffIdCounter(limits.maxBytes);
  const extract = tar.extract();
  keepBinaryPax(extract);
  // tar-stream's extractor is a streamx stream: fed by hand from the end of
  // a Node pipeline, and destroyed with the pipeline's error if it fails.
  const feed = async (source: AsyncIterable<Buffer>): Promise<void> => {
    for await (const chunk of source) {
      if (extract.destroyed) throw new Error('extraction stopped');
      if (!extract.write(chunk)) {
        await new Promise<void>((resolve) => {
          const done = (): void => { extract.off('drain', done); extract.off('close', done); resolve(); };
          extract.on('drain', done);
          extract.on('close', done);
        });
      }
    }
    (extract as unknown as { end(): void }).end();
  };
  const piping = (dec ? pipeline(stream, dec, counter, feed) : pipeline(stream, counter, feed))
    .catch((e: unknown) => { extract.destroy(e instanceof Error ? e : new Error(String(e))); throw e; });
  let failure: unknown;
  let current = '';
  try {
    for await (const entry of extract as unknown as AsyncIterable<Entry>) {
      current = entry.header.name;
      await applier.entry(entry);
    }
  } catch (e) {
    failure = e;
  }
  try {
    await piping;
  } catch (e) {
    // The loop's own error comes first; the pipeline then only reports that
    // it was cut short.
    failure ??= e;
  }
  try {
    if (failure === undefined) await applier.finish();
  } catch (e) {
    failure = e;
  } finally {
    applier.dropTemplate();
  }
  if (failure !== undefined) {
    if (isBerthError(failure)) throw failure;
    const where = current ? `layer entry ${JSON.stringify(current).slice(0, 300)}: ` : '';
    const msg = messageOf(failure);
    const corrupt = /unexpected end|invalid tar|header|incorrect header|unexpected eof|invalid (block|distance|stored)/i.test(msg);
    throw new BerthError('snapshot', corrupt ? 'invalid-argument' : 'internal', `${where}${corrupt ? 'corrupt or truncated layer: ' : ''}${msg}`, { cause: failure });
  }
  const diffId = counter.digest();
  if (opts.expectedDiffId !== undefined && diffId !== opts.expectedDiffId) {
    throw new BerthError('snapshot', 'digest-mismatch', `layer diff id is ${diffId}, the image config says ${opts.expectedDiffId}`);
  }
  return { diffId, size: counter.bytes, entries: applier.entries, compression };
}
