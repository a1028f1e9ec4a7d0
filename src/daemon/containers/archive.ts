// docker cp: GET/HEAD/PUT /containers/{id}/archive. A running container is
// reached through /proc/<pid>/root (its mounts and volumes included), a
// stopped one through its rootfs snapshot mounted on a temp dir. The path is
// resolved here, one component at a time, with every symlink taken as the
// container sees it (an absolute target starts again at the container's
// root, ".." never climbs above it), so no request reaches a host path; tar
// then works below that directory and does not follow symlinks.
// Known limit: a process inside a running container could swap a component
// for a symlink between our resolution and tar's open (the same race
// `docker cp` had before dockerd learnt to chroot).

import { spawn } from 'node:child_process';
import { lstat, readlink, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { BerthError, errnoOf, messageOf } from '../../common/errors.js';
import { badRequest, notFound } from '../http/errors.js';
import { boolParam, type Ctx } from '../http/router.js';
import { withRootfs } from './files.js';
import { resolveIn } from './paths.js';
import type { ContainerRecord } from './record.js';
import type { Runtime } from './runtime.js';
import { withReadOnlyRootfs } from './changes.js';
import { extractInto } from './extract.js';

async function withContainerRoot<T>(r: ContainerRecord, rt: Runtime, fn: (root: string) => Promise<T>): Promise<T> {
  if (rt.running(r) && r.State.Pid > 0) return fn(`/proc/${r.State.Pid}/root`);
  const snaps = rt.m.s.client.snapshots(rt.m.s.cfg.snapshotter);
  return withRootfs(await snaps.mounts(r.Id), fn, { writable: true });
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

async function statHeader(root: string, host: string, path: string, id: string): Promise<string> {
  let st;
  try {
    // A running container's root is /proc/<pid>/root, a link to the directory.
    st = host === root ? await stat(host) : await lstat(host);
  } catch (e) {
    if (errnoOf(e) === 'ENOENT' || errnoOf(e) === 'ENOTDIR')
      throw notFound(`Could not find the file ${path} in container ${id}`);
    throw e;
  }
  const linkTarget = st.isSymbolicLink() ? await readlink(host) : '';
  const doc = {
    name: basename(path) || '/',
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
  await withContainerRoot(r, rt, async (root) => {
    const host = await resolveIn(root, path, false);
    ctx.send(200, undefined, { 'X-Docker-Container-Path-Stat': await statHeader(root, host, path, r.Id) });
  });
}

export async function archiveGet(ctx: Ctx, r: ContainerRecord, rt: Runtime): Promise<void> {
  const path = pathParam(ctx);
  await withContainerRoot(r, rt, async (root) => {
    // A trailing "/." copies the directory's content, as docker cp does.
    const host = await resolveIn(root, path, !path.endsWith('/'));
    const stat = await statHeader(root, host, path, r.Id);
    const name = basename(host);
    const tar = spawn('tar', ['--numeric-owner', '-C', dirname(host), '-cf', '-', name], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    tar.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const out = ctx.stream(200, 'application/x-tar', { 'X-Docker-Container-Path-Stat': stat });
    rt.m.s.events.emit('container', 'archive-path', r.Id, { image: r.ImageRef, name: r.Name.slice(1) });
    tar.stdout.pipe(out);
    const code = await new Promise<number>((res) => tar.on('close', (c) => res(c ?? 1)));
    if (code !== 0) rt.m.s.log.warn('archive: tar failed', { container: r.Id, error: err.trim() });
  });
}

export async function archivePut(ctx: Ctx, r: ContainerRecord, rt: Runtime): Promise<void> {
  const path = pathParam(ctx);
  if (r.HostConfig.ReadonlyRootfs) throw badRequest('container rootfs is marked read-only');
  await withContainerRoot(r, rt, async (root) => {
    const host = await resolveIn(root, path);
    let st;
    try {
      st = await lstat(host);
    } catch {
      throw notFound(`Could not find the file ${path} in container ${r.Id}`);
    }
    // The container's root of a running one is /proc/<pid>/root, a link to it.
    if (!(host === root ? await stat(host) : st).isDirectory())
      throw badRequest(`extraction point is not a directory: ${path}`);
    const noOverwriteDirNonDir = boolParam(ctx.query, 'noOverwriteDirNonDir');
    try {
      await extractInto(root, path, ctx.body(), { noOverwriteDirNonDir });
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
    // entry for the root itself: the names come from find (relative, NUL
    // separated, -xdev as --one-file-system), tar archives each without recursing.
    const find = spawn('find', ['.', '-xdev', '-mindepth', '1', '-printf', '%P\\0'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const tar = spawn('tar', ['--numeric-owner', '--no-recursion', '--null', '-C', root, '-T', '-', '-cf', '-'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    find.stdout.pipe(tar.stdin);
    let err = '';
    for (const p of [find, tar]) p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const out = ctx.stream(200, 'application/x-tar');
    tar.stdout.pipe(out);
    // a client that hangs up: tar would wait on its full pipe forever, holding the rootfs mounted
    let sent = false;
    tar.stdout.on('end', () => (sent = true));
    out.on('close', () => {
      if (!sent) for (const p of [find, tar]) p.kill('SIGKILL');
    });
    const code = await new Promise<number>((res) => tar.on('close', (c) => res(c ?? 1)));
    if (code !== 0) rt.m.s.log.warn('export: tar failed', { container: r.Id, error: err.trim() });
    else rt.m.s.events.emit('container', 'export', r.Id, { image: r.ImageRef, name: r.Name.slice(1) });
  });
}
