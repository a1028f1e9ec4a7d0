// The second half of an auto-removed (`--rm`) container's removal. What the
// user can see of the container goes before `wait?condition=removed` answers
// (the record, moved out of the records' directory in one fsynced rename; the
// name; the anonymous volumes; the network endpoints; the destroy event), as
// dockerd frees them before it answers. What only the engine and the kernel
// still hold goes here, after the answer: the task and the containerd
// container (whose Delete waits for the rootfs's unmount and the shim's end),
// the rootfs snapshot, the exec directory, and last the moved record, which
// marks the clean-up as done. Nothing can use them any more: the container
// has a new id at its next create, and a removed one can never be started.
// A clean-up that fails (the engine unreachable) is tried again after a
// pause; a berthd killed meanwhile finds the moved records at its next start
// and finishes them (resume()), so nothing is ever left behind.

import { rm } from 'node:fs/promises';
import { isNotFound } from '../../client/errors.js';
import type { ContainerdClient } from '../../client/index.js';
import { messageOf } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import type { ContainerdContainers } from './ctrd.js';
import type { RecordStore } from './record.js';
import { Steps } from './steps.js';

interface Deps {
  client: ContainerdClient;
  snapshotter: string;
  log: Logger;
  records: RecordStore;
  ctrd: ContainerdContainers;
  execRoot(id: string): string;
}

/** The first pause before a failed clean-up is tried again; it doubles up to MAX_PAUSE_MS, then waits for a restart. */
const FIRST_PAUSE_MS = 500;
const MAX_PAUSE_MS = 30_000;

export class Removals {
  private readonly pending = new Map<string, Promise<void>>();
  private stopped = false;

  constructor(private readonly d: Deps) {}

  /** The clean-up of a retired container, begun now; `dropping` is its task's and containerd container's deletion, under way. */
  finish(id: string, dropping: Promise<void>): void {
    if (this.pending.has(id)) return;
    const p = this.attempt(id, dropping, FIRST_PAUSE_MS).finally(() => this.pending.delete(id));
    this.pending.set(id, p);
  }

  private async attempt(id: string, dropping: Promise<void>, pauseMs: number): Promise<void> {
    const steps = new Steps(this.d.log, 'removal clean-up', id);
    try {
      await dropping;
      steps.mark('dropped');
      await this.d.client
        .snapshots(this.d.snapshotter)
        .remove(id)
        .catch((e: unknown) => {
          if (!isNotFound(e)) throw e;
        });
      steps.mark('snapshot');
      await rm(this.d.execRoot(id), { recursive: true, force: true });
      await this.d.records.purge(id);
      this.d.ctrd.forget(id);
      steps.done();
    } catch (e) {
      if (this.stopped || pauseMs > MAX_PAUSE_MS) {
        this.d.log.warn('removal clean-up left for the next start', { container: id, error: messageOf(e) });
        return;
      }
      this.d.log.warn('removal clean-up failed, tried again', { container: id, error: messageOf(e), pauseMs });
      await new Promise((r) => setTimeout(r, pauseMs).unref());
      if (this.stopped) return;
      return this.attempt(id, this.d.ctrd.drop(id), pauseMs * 2);
    }
  }

  /** At start: the clean-ups a previous berthd left unfinished (killed, or stopped before the engine answered). */
  async resume(): Promise<string[]> {
    const ids = await this.d.records.retired();
    for (const id of ids) {
      this.d.log.info('removal clean-up resumed', { container: id });
      this.finish(id, this.d.ctrd.drop(id));
    }
    return ids;
  }

  /** Whether the clean-up of `id` is under way (its containerd container is going: a boot's sweep leaves it alone). */
  has(id: string): boolean {
    return this.pending.has(id);
  }

  /** At shutdown: the clean-ups under way end, for at most `ms`; what is left is resumed at the next start. */
  async settle(ms: number): Promise<void> {
    const all = Promise.all(this.pending.values());
    await Promise.race([all, new Promise((r) => setTimeout(r, ms).unref())]);
    this.stopped = true;
  }
}
