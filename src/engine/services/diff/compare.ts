// diff.Diff: the changes from the `left` mounts (a lower, read-only view, or
// none) to the `right` mounts (a view of the changed snapshot), as an OCI
// layer written to the content store: added and changed entries (owner,
// mode, times, contents, symlink targets, hard links within the layer,
// devices), and a `.wh.` whiteout for each removed path (one for a removed
// directory). Both sides are mounted read-only in a private directory under
// --state and walked; a change is any difference in type, mode, owner,
// size, mtime (ns), device number or link target, as containerd's walking
// differ sees it. Xattrs are not carried (not yet).

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, readlink, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Transform, type Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import type { Stats } from 'node:fs';
import tar, { type Header, type Pack } from 'tar-stream';
import type { Mount__Output } from '../../../api/gen/containerd/types/Mount.js';
import { mountAll, unmountAll } from '../../../snapshot/index.js';
import type { EngineContext } from '../../context.js';
import { invalidArgument, validateLabels } from '../../validate.js';

type Headers = Partial<Header> & Pick<Header, 'name'>;

export const LAYER_TAR = 'application/vnd.oci.image.layer.v1.tar';
export const LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
const UNCOMPRESSED_LABEL = 'containerd.io/uncompressed';

type Tree = Map<string, Stats>;

async function walk(root: string): Promise<Tree> {
  const out: Tree = new Map();
  const visit = async (rel: string): Promise<void> => {
    const names = await readdir(rel ? join(root, rel) : root);
    for (const name of names) {
      const p = rel ? `${rel}/${name}` : name;
      const st = await lstat(join(root, p), { bigint: false });
      out.set(p, st);
      if (st.isDirectory()) await visit(p);
    }
  };
  await visit('');
  return out;
}

function typeOf(st: Stats): string {
  if (st.isDirectory()) return 'directory';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'character-device';
  if (st.isBlockDevice()) return 'block-device';
  if (st.isFIFO()) return 'fifo';
  return 'file';
}

function changed(a: Stats, b: Stats): boolean {
  return (
    typeOf(a) !== typeOf(b) ||
    a.mode !== b.mode ||
    a.uid !== b.uid ||
    a.gid !== b.gid ||
    a.rdev !== b.rdev ||
    (!b.isDirectory() && (a.size !== b.size || a.mtimeMs !== b.mtimeMs)) ||
    (b.isDirectory() && a.mtimeMs !== b.mtimeMs)
  );
}

/** Paths sorted so that a directory comes before what is in it. */
function byPath(a: string, b: string): number {
  const x = a.split('/');
  const y = b.split('/');
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! < y[i]! ? -1 : 1;
  return x.length - y.length;
}

function parentOf(p: string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? '' : p.slice(0, i);
}

async function entry(pack: Pack, header: Headers, body?: Readable): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const done = (err?: Error | null) => (err ? reject(err) : resolve());
    if (body) body.pipe(pack.entry(header, done));
    else pack.entry(header, Buffer.alloc(0), done);
  });
}

/** Writes the changes from `lower` to `upper` into `pack`. */
async function writeChanges(pack: Pack, lower: string | undefined, upper: string): Promise<void> {
  const left: Tree = lower ? await walk(lower) : new Map<string, Stats>();
  const right = await walk(upper);
  const paths = new Set<string>();
  for (const [p, st] of right) {
    const l = left.get(p);
    if (!l || changed(l, st)) paths.add(p);
  }
  const whiteouts: string[] = [];
  for (const p of left.keys()) {
    if (right.has(p)) continue;
    const parent = parentOf(p);
    if (parent !== '' && !right.has(parent)) continue; // under a removed directory: its whiteout covers it
    whiteouts.push(parent ? `${parent}/.wh.${p.slice(parent.length + 1)}` : `.wh.${p}`);
  }
  const all = [...paths, ...whiteouts].sort(byPath);
  const firstOfInode = new Map<number, string>();
  for (const p of all) {
    const st = right.get(p);
    if (!st) {
      await entry(pack, { name: p, type: 'file', size: 0, mode: 0o644, mtime: new Date(0), uid: 0, gid: 0 });
      continue;
    }
    const base: Headers = { name: p, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime };
    const t = typeOf(st);
    if (t === 'directory') await entry(pack, { ...base, type: 'directory' });
    else if (t === 'symlink') await entry(pack, { ...base, type: 'symlink', linkname: await readlink(join(upper, p)) });
    else if (t === 'file') {
      const first = st.nlink > 1 ? firstOfInode.get(st.ino) : undefined;
      if (first !== undefined) {
        await entry(pack, { ...base, type: 'link', linkname: first });
      } else {
        if (st.nlink > 1) firstOfInode.set(st.ino, p);
        await entry(pack, { ...base, type: 'file', size: st.size }, createReadStream(join(upper, p)));
      }
    } else {
      const devmajor = Math.floor(st.rdev / 256);
      await entry(pack, { ...base, type: t as Headers['type'], devmajor, devminor: st.rdev % 256 });
    }
  }
}

async function mountedRO(
  ctx: EngineContext,
  dir: string,
  mounts: Mount__Output[],
  name: string,
): Promise<string | undefined> {
  if (mounts.length === 0) return undefined;
  const target = join(dir, name);
  await mkdir(target);
  const ro = mounts.map((m) => ({
    type: m.type,
    source: m.source,
    options: m.options.includes('ro') ? m.options : [...m.options.filter((o) => o !== 'rw'), 'ro'],
  }));
  await mountAll(ro, target);
  return target;
}

export interface DiffResult {
  mediaType: string;
  digest: string;
  size: number;
}

export async function compareMounts(
  ctx: EngineContext,
  ns: string,
  req: { left: Mount__Output[]; right: Mount__Output[]; media_type: string; labels: Record<string, string> },
  lease: string | undefined,
): Promise<DiffResult> {
  const mediaType = req.media_type === '' ? LAYER_GZIP : req.media_type;
  if (mediaType !== LAYER_GZIP && mediaType !== LAYER_TAR) {
    throw invalidArgument(
      `diff: media type ${JSON.stringify(mediaType)} is not supported (want ${LAYER_GZIP} or ${LAYER_TAR})`,
      'media_type',
    );
  }
  if (req.right.length === 0) throw invalidArgument('diff: right mounts must be set', 'right');
  validateLabels(req.labels);
  await mkdir(ctx.state, { recursive: true });
  const dir = await mkdtemp(join(ctx.state, 'diff-'));
  const mounted: string[] = [];
  try {
    const lower = await mountedRO(ctx, dir, req.left, 'left');
    if (lower) mounted.push(lower);
    const upper = (await mountedRO(ctx, dir, req.right, 'right'))!;
    mounted.push(upper);

    const pack = tar.pack();
    const tarHash = createHash('sha256');
    const tap = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        tarHash.update(chunk);
        cb(null, chunk);
      },
    });
    const out = mediaType === LAYER_GZIP ? pack.pipe(tap).pipe(createGzip()) : pack.pipe(tap).pipe(new PassThrough());
    const writing = writeChanges(pack, lower, upper).then(
      () => pack.finalize(),
      (e: unknown) => pack.destroy(e as Error),
    );
    let committed = '';
    const info = await ctx.blobs.putStream(out, {
      beforeCommit: (digest) => {
        committed = digest;
        ctx.ingests.committing.set(digest, (ctx.ingests.committing.get(digest) ?? 0) + 1);
        ctx.leases.protectNow(ns, lease, { type: 'content', id: digest });
      },
    });
    await writing;
    try {
      const labels = { ...req.labels, [UNCOMPRESSED_LABEL]: `sha256:${tarHash.digest('hex')}` };
      ctx.metadata.tx((db) => ctx.content.add(db, ns, info.digest, info.size, labels));
    } finally {
      const n = (ctx.ingests.committing.get(committed) ?? 1) - 1;
      if (n <= 0) ctx.ingests.committing.delete(committed);
      else ctx.ingests.committing.set(committed, n);
    }
    return { mediaType, digest: info.digest, size: info.size };
  } finally {
    for (const m of mounted.reverse()) await unmountAll(m, { detach: true }).catch(() => undefined);
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}
