// A task's bundle: <state>/tasks/<ns>/<id>/ with config.json (the container's
// spec) and rootfs/, where the mounts the client sent (a snapshot's overlay
// or bind) are mounted, as containerd's shim does. Made and removed whole.
// The mount(2) and umount(2) calls go through the task's shim when it is
// there (one request to a process already running, not a mount(8) or
// umount(8) process per task: ./syscall-mount.ts); mount(8) and umount(8)
// do what that cannot (an option that needs a second call, a failure's
// words, a shim that is gone).

import { execFile } from 'node:child_process';
import { chmod, chown, mkdir, rm, rmdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { BerthError, messageOf } from '../../common/errors.js';
import type { Spec } from '../../runtime/spec/types.js';
import { asSyscall, type Mounter } from './syscall-mount.js';

const run = promisify(execFile);

export interface MountSpec {
  type: string;
  source: string;
  target?: string;
  options: string[];
}

function mountArgs(m: MountSpec, target: string): string[] {
  const opts = m.options.filter((o) => o !== '');
  // "bind" is not a file system type for mount(8): the options say bind/rbind
  const args = m.type === 'bind' || m.type === '' ? [] : ['-t', m.type];
  if (opts.length) args.push('-o', opts.join(','));
  return [...args, m.source, target];
}

/**
 * The bundle is root's alone (containerd's fix for CVE-2021-41103): through a
 * searchable bundle, any host user could reach the running container's files
 * and run a setuid program of its image. A container in a user namespace
 * needs to pass through it as its own root: the group of that root gets
 * search only, as containerd gives it.
 */
async function bundleAccess(dir: string, spec: Spec): Promise<void> {
  const userns = spec.linux?.namespaces?.some((n) => n.type === 'user') ?? false;
  const root = spec.linux?.gidMappings?.find((m) => m.containerID === 0 && m.size > 0);
  if (!userns || !root) return chmod(dir, 0o700); // also when left by an engine before this one
  await chown(dir, -1, root.hostID);
  await chmod(dir, 0o710);
}

/** Makes the bundle; with mounts, spec.root.path becomes "rootfs" and they are mounted there. */
export async function makeBundle(
  dir: string,
  spec: Spec,
  mounts: MountSpec[],
  mounter?: Mounter,
): Promise<{ mounted: boolean }> {
  await mkdir(dirname(dir), { recursive: true, mode: 0o711 });
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await bundleAccess(dir, spec);
  const rootfs = join(dir, 'rootfs');
  let mounted = false;
  try {
    if (mounts.length) {
      await mkdir(rootfs, { mode: 0o755 });
      spec.root = { ...(spec.root ?? {}), path: 'rootfs' };
      for (const [i, m] of mounts.entries()) {
        if (m.target && m.target !== '/' && m.target !== '') {
          throw new BerthError(
            'berth-engine',
            'invalid-argument',
            `rootfs[${i}]: a mount target inside the rootfs (${m.target}) is not supported`,
            { field: 'rootfs' },
          );
        }
        const call = mounter && asSyscall(m);
        if (
          call &&
          (await mounter.mount(m.source, rootfs, call.fstype, call.flags, call.data).then(
            () => true,
            () => false, // mount(8) again, for its words (or what it manages that one call did not)
          ))
        ) {
          mounted = true;
          continue;
        }
        try {
          await run('mount', mountArgs(m, rootfs));
          mounted = true;
        } catch (e) {
          const words = (e as { stderr?: string }).stderr?.trim() || messageOf(e);
          throw new BerthError(
            'berth-engine',
            'failed-precondition',
            `rootfs[${i}]: mount ${m.type} ${m.source}: ${words}`,
            { field: 'rootfs' },
          );
        }
      }
    } else if (!spec.root?.path) {
      throw new BerthError('berth-engine', 'invalid-argument', 'no rootfs mounts and the spec has no root.path', {
        field: 'rootfs',
      });
    }
    await writeFile(join(dir, 'config.json'), JSON.stringify(spec), { mode: 0o600 });
    return { mounted };
  } catch (e) {
    await removeBundle(dir, mounted, mounter);
    throw e;
  }
}

/** Unmounts rootfs/ (every mount stacked there) and removes the bundle, never what is still mounted. */
export async function removeBundle(dir: string, mounted: boolean, mounter?: Mounter): Promise<void> {
  const rootfs = join(dir, 'rootfs');
  // through the shim: done unless a mount there has mounts below it or is busy (umount(8) decides then)
  if (mounted && mounter && (await mounter.umount(rootfs))) mounted = false;
  if (mounted) {
    try {
      await run('umount', ['--recursive', rootfs]);
    } catch (e) {
      const words = (e as { stderr?: string }).stderr ?? '';
      if (!/not mounted|no mount point/.test(words)) {
        // lazily, so the directory can go; the kernel frees it when unused
        await run('umount', ['--lazy', '--recursive', rootfs]).catch(() => undefined);
      }
    }
  }
  // Never recursive: if an unmount failed, rootfs/ still shows the
  // container's files (a bind of the user's directory, say) and must stay.
  await rm(join(dir, 'config.json'), { force: true });
  await rmdir(rootfs).catch(() => undefined);
  await rmdir(dir).catch(() => undefined);
}
