// What goes when a task is deleted (runtime state and cgroups, its shim and
// directory, its bundle and rootfs mounts), and the clean-ups still running
// after a Delete that was answered before them (manager.ts). A `deleted`
// mark in the shim directory, written before the answer, lets the next
// engine start finish a clean-up that an engine's end cut short.

import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { messageOf } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import type { ShimHandle } from '../../shim/shims.js';
import type { Backend } from './backend.js';
import { removeBundle } from './rootfs.js';
import { shimMounter } from './syscall-mount.js';
import type { TaskMeta } from './task.js';

const DELETED = 'deleted';

/**
 * Removes everything of a task: its processes and runtime state first (so
 * nothing runs in the rootfs), then its bundle, and its shim directory last:
 * that directory holds the record (shim.json, the `deleted` mark) from which
 * a later start finishes a removal cut short. When nothing of the container
 * can outlive its init (meta.unmountEarly), the bundle goes beside the
 * runtime's delete: each waits for the kernel (cgroup removal, the unmount's
 * RCU grace period), and a containers.Delete waits for both.
 */
export async function removeTask(backend: Backend, shim: ShimHandle, meta: TaskMeta, log?: Logger): Promise<void> {
  const t0 = performance.now();
  let t1 = t0;
  let t2 = t0;
  const runtime = () => backend.delete(meta.id).finally(() => (t1 = performance.now()));
  const bundle = () =>
    removeBundle(meta.bundle, meta.mounted, shimMounter(shim.client)).finally(() => (t2 = performance.now()));
  if (meta.unmountEarly) {
    const [a, b] = await Promise.allSettled([runtime(), bundle()]);
    for (const r of [a, b]) if (r.status === 'rejected') throw r.reason;
  } else {
    await runtime();
    await bundle();
  }
  const t3 = performance.now();
  await shim.remove();
  const ms = (a: number, b: number) => Math.round((b - a) * 10) / 10;
  // where a delete's wait goes (containers.Delete waits for this)
  log?.debug('task clean-up steps', {
    namespace: meta.ns,
    container: meta.id,
    runtimeMs: ms(t0, t1),
    bundleMs: ms(meta.unmountEarly ? t0 : t1, t2),
    ...(meta.unmountEarly ? { together: true } : {}),
    shimMs: ms(t3, performance.now()),
  });
}

/** The same after an engine's end cut a removal short: each step even when an earlier one had been done. */
export async function finishRemoval(backend: Backend, shim: ShimHandle, meta: TaskMeta): Promise<string[]> {
  const errors: string[] = [];
  const step = (p: Promise<void>) => p.catch((e: unknown) => void errors.push(messageOf(e)));
  await step(backend.delete(meta.id));
  await step(removeBundle(meta.bundle, meta.mounted, shimMounter(shim.client)));
  await step(shim.remove());
  return errors;
}

/** The task of this shim directory was deleted; what is left of it is to be removed. */
export function markedDeleted(shim: ShimHandle): boolean {
  return existsSync(join(shim.dir, DELETED));
}

export class Cleanups {
  private readonly running = new Map<string, Promise<void>>();

  constructor(private readonly log: Logger) {}

  /** Marks the task deleted, then removes it in the background (errors are logged; the next start retries). */
  async start(key: string, backend: Backend, shim: ShimHandle, meta: TaskMeta): Promise<void> {
    await writeFile(join(shim.dir, DELETED), '');
    const done = removeTask(backend, shim, meta, this.log)
      .catch((e: unknown) =>
        this.log.error('task clean-up after delete failed; the next engine start retries it', {
          namespace: meta.ns,
          container: meta.id,
          error: messageOf(e),
        }),
      )
      .finally(() => this.running.delete(key));
    this.running.set(key, done);
  }

  /** The clean-up of task `key` still running, if any. */
  get(key: string): Promise<void> | undefined {
    return this.running.get(key);
  }

  async all(): Promise<void> {
    await Promise.all(this.running.values());
  }
}
