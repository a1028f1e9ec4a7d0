// GET /containers/{id}/changes (`docker diff`), computed as dockerd's
// containerd image store computes it: the container's rootfs snapshot
// (snapshots Mounts of its key) and a View of its parent, both mounted
// read-only in private temp dirs, walked side by side. A name only in the
// container is Added (1), only in the image Deleted (2), in both with another
// mode, owner, device, file capability (security.capability), or (not for
// directories) size or mtime Modified (0);
// a directory holding changes is Modified too, listed before them. Deletes
// and opaque directories need no special case: the mounted overlay already
// shows the whiteouts as absent names. What dockerd's init layer holds (the
// mount points of /proc, /sys, /dev/*, /etc/hosts...) is not a change when
// the runtime made it, as it is not in dockerd.

import { randomBytes } from 'node:crypto';
import { lstat, readdir } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import type { MountSpec } from '../../client/services.js';
import { withRootfs } from './files.js';
import { capabilitiesUnder } from './xattrs.js';
import { openDir, PinnedRoot, type Dir } from './pinned.js';
import type { ContainerRecord } from './record.js';
import type { Runtime } from './runtime.js';

export interface Change {
  Path: string;
  Kind: 0 | 1 | 2;
}
const MODIFIED = 0;
const ADDED = 1;
const DELETED = 2;

type Kind = 'dir' | 'file' | 'symlink';
/** dockerd's init layer (daemon/initlayer), with the parents its MkdirAll makes. */
const INIT_LAYER = new Map<string, Kind>([
  ['/dev', 'dir'],
  ['/dev/pts', 'dir'],
  ['/dev/shm', 'dir'],
  ['/proc', 'dir'],
  ['/sys', 'dir'],
  ['/etc', 'dir'],
  ['/.dockerenv', 'file'],
  ['/etc/resolv.conf', 'file'],
  ['/etc/hosts', 'file'],
  ['/etc/hostname', 'file'],
  ['/dev/console', 'file'],
  ['/etc/mtab', 'symlink'],
]);

/** The old side of a directory: a real one (pinned), none, or one the init layer would have made (no real children). */
type Old = { dir: Dir } | 'init' | null;

function kindOf(st: BigIntStats): Kind | 'other' {
  return st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : 'other';
}

function statDifferent(a: BigIntStats, b: BigIntStats): boolean {
  if (a.mode !== b.mode || a.uid !== b.uid || a.gid !== b.gid || a.rdev !== b.rdev) return true;
  // Size and mtime say nothing for directories (moby#9874).
  if (!b.isDirectory() && (a.mtimeNs !== b.mtimeNs || a.size !== b.size)) return true;
  return false;
}

async function names(dir: Dir): Promise<string[]> {
  try {
    return (await readdir(dir.self)).sort();
  } catch {
    return [];
  }
}

async function stat(dir: Dir, name: string): Promise<BigIntStats | null> {
  return lstat(dir.at(name), { bigint: true }).catch(() => null);
}

interface Caps {
  now: Map<string, string>;
  base: Map<string, string>;
}

/**
 * moby's FileInfo.addChanges, over two mounted trees. Each directory is
 * walked through a descriptor pinned when it was opened (O_NOFOLLOW): the
 * container's upper layer is a lower of our read-only mount and its
 * processes may change it meanwhile; a directory swapped for a symlink is
 * then a symlink to us, and a host directory's names never reach the list.
 */
async function walk(newDir: Dir, old: Old, rel: string, added: boolean, out: Change[], caps: Caps): Promise<void> {
  const mark = out.length;
  const oldNames = old && old !== 'init' ? new Set(await names(old.dir)) : new Set<string>();
  for (const name of await names(newDir)) {
    const path = `${rel}/${name}`;
    const ns = await stat(newDir, name);
    if (!ns) continue;
    let inOld = false;
    let childAdded = false;
    let oldSub: Dir | undefined;
    if (oldNames.has(name)) {
      oldNames.delete(name);
      const od = (old as { dir: Dir }).dir;
      const os = await stat(od, name);
      if (os) {
        inOld = true;
        if (os.isDirectory() && ns.isDirectory()) oldSub = await openDir(od, name);
        if (statDifferent(os, ns) || caps.now.get(path) !== caps.base.get(path)) {
          out.push({ Path: path, Kind: MODIFIED });
          childAdded = true;
        }
      }
    }
    let initMade = false;
    if (!inOld) {
      const init = INIT_LAYER.get(path);
      // A mount point the runtime made where dockerd's init layer has one: part of the base, not a change.
      if (init && init === kindOf(ns)) initMade = true;
      else {
        out.push({ Path: path, Kind: ADDED });
        childAdded = true;
      }
    }
    try {
      const sub = ns.isDirectory() ? await openDir(newDir, name) : undefined;
      if (sub) {
        try {
          await walk(sub, oldSub ? { dir: oldSub } : initMade ? 'init' : null, path, childAdded, out, caps);
        } finally {
          await sub.close();
        }
      }
    } finally {
      await oldSub?.close();
    }
  }
  for (const name of [...oldNames].sort()) out.push({ Path: `${rel}/${name}`, Kind: DELETED });
  if (out.length > mark && !added && rel !== '') out.splice(mark, 0, { Path: rel, Kind: MODIFIED });
}

/** Mounts of an active snapshot, made read-only: overlay's upper becomes the top lower (never mounted twice as upper). */
export function readOnly(mounts: MountSpec[]): MountSpec[] {
  return mounts.map((m) => {
    if (m.type !== 'overlay') return { ...m, options: [...m.options.filter((o) => o !== 'rw'), 'ro'] };
    const upper = m.options.find((o) => o.startsWith('upperdir='))?.slice('upperdir='.length);
    const rest = m.options.filter((o) => !o.startsWith('upperdir=') && !o.startsWith('workdir=') && o !== 'rw');
    if (!upper) return { ...m, options: rest };
    return {
      ...m,
      options: rest.map((o) => (o.startsWith('lowerdir=') ? `lowerdir=${upper}:${o.slice('lowerdir='.length)}` : o)),
    };
  });
}

export async function containerChanges(rt: Runtime, r: ContainerRecord): Promise<Change[]> {
  const { client, cfg } = rt.m.s;
  const snaps = client.snapshots(cfg.snapshotter);
  const info = await snaps.stat(r.Id);
  const tag = randomBytes(6).toString('hex');
  // The parent's view lives in a lease that expires on its own if berthd dies before removing it.
  const lease = await client.leases.create(`berthd-diff-${r.Id.slice(0, 12)}-${tag}`, {
    'containerd.io/gc.expire': new Date(Date.now() + 3600_000).toISOString(),
  });
  const viewKey = `${r.Id}-parent-view-${tag}`;
  try {
    const base = info.parent ? await snaps.view(viewKey, info.parent, {}, { lease }) : [];
    const top = readOnly(await snaps.mounts(r.Id));
    const out: Change[] = [];
    await withRootfs(top, async (newRoot) => {
      const now = await capabilitiesUnder(newRoot);
      const newTree = await PinnedRoot.open(newRoot);
      try {
        if (!base.length) return await walk(newTree.root, null, '', false, out, { now, base: new Map() });
        return await withRootfs(readOnly(base), async (oldRoot) => {
          const oldTree = await PinnedRoot.open(oldRoot);
          try {
            const was = await capabilitiesUnder(oldRoot);
            await walk(newTree.root, { dir: oldTree.root }, '', false, out, { now, base: was });
          } finally {
            await oldTree.close();
          }
        });
      } finally {
        await newTree.close();
      }
    });
    return out;
  } finally {
    await snaps.remove(viewKey).catch(() => undefined);
    await client.leases.delete(lease).catch(() => undefined);
  }
}

/**
 * The container's rootfs as its snapshot holds it (image and writes, without
 * what the runtime mounts over it: /proc, volumes, the bound /etc/hosts),
 * mounted read-only, running or not: what dockerd exports.
 */
export async function withReadOnlyRootfs<T>(rt: Runtime, r: ContainerRecord, fn: (root: string) => Promise<T>) {
  const snaps = rt.m.s.client.snapshots(rt.m.s.cfg.snapshotter);
  return withRootfs(readOnly(await snaps.mounts(r.Id)), fn);
}
