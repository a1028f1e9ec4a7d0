// docker cp: GET/HEAD/PUT /containers/{id}/archive. A running container is
// reached through its init's /proc/<pid>/root (its mounts and volumes
// included), a stopped one through its rootfs snapshot mounted on a temp
// dir. That root is pinned once (pinned.ts) and every path is resolved from
// it through pinned descriptors, each symlink taken as the container sees it
// (an absolute target starts again at the container's root, ".." never
// climbs above it), so a process in the container swapping a directory for a
// symlink between our look and our use sends nothing to a host path: what
// is written is made by extract.ts in a pinned directory, and what is read is
// tarred by GNU tar started in a pinned directory (-C /proc/<berthd>/fd/N),
// which itself walks with openat(O_NOFOLLOW) from there.

import { spawn } from 'node:child_process';
import { lstat, readdir, readlink } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { BerthError, errnoOf, messageOf } from '../../common/errors.js';
import { badRequest, notFound } from '../http/errors.js';
import { boolParam, type Ctx } from '../http/router.js';
import { withRootfs } from './files.js';
import { Dir, PinnedRoot, pinProcessRoot, type Spot } from './pinned.js';
import type { ContainerRecord } from './record.js';
import type { Runtime } from './runtime.js';
import { withReadOnlyRootfs } from './changes.js';
import { extractInto } from './extract.js';

async function withContainerRoot<T>(r: ContainerRecord, rt: Runtime, fn: (tree: PinnedRoot) => Promise<T>): Promise<T> {
  const pinned = async (tree: PinnedRoot) => {
    try {
      return await fn(tree);
    } finally {
      await tree.close();
    }
  };
  if (rt.running(r) && r.State.Pid > 0) return pinned(await pinProcessRoot(r.State.Pid, r.Id));
  // a task made ahead holds the snapshot mounted writable: never two upper mounts of one layer
  await rt.premade.discard(r.Id);
  const snaps = rt.m.s.client.snapshots(rt.m.s.cfg.snapshotter);
  return withRootfs(await snaps.mounts(r.Id), async (root) => pinned(await PinnedRoot.open(root)), {
    writable: true,
  });
}

/** Go's os.FileMode bits, which the CLI decodes from X-Docker-Container-Path-Stat. */
function goMode(mode: number): number {
  const perm = mode & 0o777;
  const t = mode & 0o170000;
  let m = perm;
  if (t === 0o040000) m |= 0x80000000;
  else if (t === 0o120000) m |= 0x08000000;
  else if (t === 0o010000) m |= 0x02000000;
  else if (t === 0o140000) m |= 0x01000000;
  else if (t === 0o020000) m |= 0x04000000 | 0x00200000;
  else if (t === 0o060000) m |= 0x04000000;
  if (mode & 0o4000) m |= 0x00800000;
  if (mode & 0o2000) m |= 0x00400000;
  if (mode & 0o1000) m |= 0x00100000;
  return m >>> 0; // unsigned, as Go's uint32
}

/** Where `path` leads in the container, a 404 in dockerd's words when it does not. */
async function locate(tree: PinnedRoot, path: string, followLast: boolean, id: string): Promise<Spot> {
  try {
    return await tree.locate(path, { followLast });
  } catch (e) {
    const code = errnoOf(e);
    if (code === 'ENOENT' || code === 'ENOTDIR') throw notFound(`Could not find the file ${path} in container ${id}`);
    throw e;
  }
}

async function statHeader(spot: Spot, path: string, id: string): Promise<string> {
  let st: Stats;
  try {
    st = spot.name === undefined ? await spot.dir.handle.stat() : await lstat(spot.dir.at(spot.name));
  } catch (e) {
    if (errnoOf(e) === 'ENOENT' || errnoOf(e) === 'ENOTDIR')
      throw notFound(`Could not find the file ${path} in container ${id}`);
    throw e;
  }
  const linkTarget = st.isSymbolicLink() && spot.name !== undefined ? await readlink(spot.dir.at(spot.name)) : '';
  const doc = {
    name: path.split('/').filter(Boolean).pop() ?? '/',
    size: st.size,
    mode: goMode(st.mode),
    mtime: st.mtime.toISOString(),
    linkTarget,
  };
  return Buffer.from(JSON.stringify(doc)).toString('base64');
}

function pathParam(ctx: Ctx): string {
  const p = ctx.query.get('path');
  if (!p) throw badRequest('Bad parameter: path cannot be empty', 'path');
  return p.startsWith('/') ? p : `/${p}`;
}

export async function archiveHead(ctx: Ctx, r: ContainerRecord, rt: Runtime): Promise<void> {
  const path = pathParam(ctx);
  await withContainerRoot(r, rt, async (tree) => {
    const spot = await locate(tree, path, false, r.Id);
    try {
      ctx.send(200, undefined, { 'X-Docker-Container-Path-Stat': await statHeader(spot, path, r.Id) });
    } finally {
      await spot.dir.close();
    }
  });
}

export async function archiveGet(ctx: Ctx, r: ContainerRecord, rt: Runtime): Promise<void> {
  const path = pathParam(ctx);
  await withContainerRoot(r, rt, async (tree) => {
    // A trailing "/." copies the directory's content, as docker cp does.
    const spot = await locate(tree, path, !path.endsWith('/'), r.Id);
    try {
      const stat = await statHeader(spot, path, r.Id);
      // tar starts in the pinned directory and opens the one name there without following it.
      const tar = spawn('tar', ['--numeric-owner', '-C', spot.dir.atForChild(), '-cf', '-', '--', spot.name ?? '.'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let err = '';
      tar.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const out = ctx.stream(200, 'application/x-tar', { 'X-Docker-Container-Path-Stat': stat });
      rt.m.s.events.emit('container', 'archive-path', r.Id, { image: r.ImageRef, name: r.Name.slice(1) });
      tar.stdout.pipe(out);
      const code = await new Promise<number>((res) => tar.on('close', (c) => res(c ?? 1)));
      if (code !== 0) rt.m.s.log.warn('archive: tar failed', { container: r.Id, error: err.trim() });
    } finally {
      await spot.dir.close();
    }
  });
}

export async function archivePut(ctx: Ctx, r: ContainerRecord, rt: Runtime): Promise<void> {
  const path = pathParam(ctx);
  if (r.HostConfig.ReadonlyRootfs) throw badRequest('container rootfs is marked read-only');
  await withContainerRoot(r, rt, async (tree) => {
    let dest: Dir;
    try {
      dest = await tree.directory(path);
    } catch (e) {
      if (errnoOf(e) === 'ENOTDIR') throw badRequest(`extraction point is not a directory: ${path}`);
      if (errnoOf(e) === 'ENOENT') throw notFound(`Could not find the file ${path} in container ${r.Id}`);
      throw e;
    }
    await dest.close();
    const noOverwriteDirNonDir = boolParam(ctx.query, 'noOverwriteDirNonDir');
    try {
      await extractInto(tree, path, ctx.body(), { noOverwriteDirNonDir });
    } catch (e) {
      if (e instanceof BerthError) throw e;
      throw badRequest(`extracting the archive into ${path}: ${messageOf(e)}`);
    }
    rt.m.s.events.emit('container', 'extract-to-dir', r.Id, { image: r.ImageRef, name: r.Name.slice(1) });
    ctx.send(200);
  });
}

/** docker export: the container's filesystem as one tar (its rootfs; volumes are not part of it, as with dockerd). */
export async function exportRootfs(ctx: Ctx, r: ContainerRecord, rt: Runtime): Promise<void> {
  // The snapshot mounted read-only (its upper as a lower), running or not: never what is mounted over it.
  await withReadOnlyRootfs(rt, r, async (root) => {
    // dockerd's export names its members `bin/sh`, with no `./` prefix and no
    // entry for the root itself: tar is given the root's own names and
    // recurses from them. It walks with openat(O_NOFOLLOW) from each
    // directory it opened, so a running container that swaps a directory of
    // its upper layer for a symlink while we read gets the symlink archived,
    // never the host file it points at (a list of paths made first, by find,
    // was opened again by path, through whatever symlink stood there then).
    const names = await readdir(root);
    const tar = spawn(
      'tar',
      ['--numeric-owner', '--one-file-system', '--null', '--verbatim-files-from', '-C', root, '-T', '-', '-cf', '-'],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    tar.stdin.end(names.map((n) => `${n}\0`).join(''));
    let err = '';
    tar.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const out = ctx.stream(200, 'application/x-tar');
    tar.stdout.pipe(out);
    // a client that hangs up: tar would wait on its full pipe forever, holding the rootfs mounted
    let sent = false;
    tar.stdout.on('end', () => (sent = true));
    out.on('close', () => {
      if (!sent) tar.kill('SIGKILL');
    });
    const code = await new Promise<number>((res) => tar.on('close', (c) => res(c ?? 1)));
    if (code !== 0) rt.m.s.log.warn('export: tar failed', { container: r.Id, error: err.trim() });
    else rt.m.s.events.emit('container', 'export', r.Id, { image: r.ImageRef, name: r.Name.slice(1) });
  });
}
