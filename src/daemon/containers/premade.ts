// Tasks made ahead of their start. `docker run` creates the container, then
// attaches, waits and starts it: three more round trips of the CLI, during
// which berthd would have nothing to do. So once a create is answered, the
// engine's Tasks.Create (the longest call of a run) begins for a container
// whose spec needs nothing only a start knows (its containerd container was
// made at create: ctrd.ts), and the start takes that task when its spec is
// still the one the task was made with. A task is created, not started: no
// process of the user's runs, nothing shows in `docker top`, `ps` or the
// events before the start. One not taken within TTL_MS (a `docker create`
// alone) is deleted, as is one whose container a start finds changed (an
// update in between), is removed, or has its rootfs written from outside
// (`docker cp` into a created container mounts the snapshot itself).

import type { ContainerdClient } from '../../client/index.js';
import type { Logger } from '../../common/log.js';
import { messageOf } from '../../common/errors.js';

type Made = Awaited<ReturnType<ContainerdClient['tasks']['create']>>;

interface Premade {
  /** The spec (JSON) of the containerd container the task runs. */
  spec: string;
  task: Promise<Made>;
  timer: NodeJS.Timeout;
}

/** How long a task made ahead waits for its start: `docker run`'s comes within milliseconds. */
const TTL_MS = 3000;

export class PremadeTasks {
  private readonly made = new Map<string, Premade>();
  private readonly dropping = new Map<string, Promise<void>>();

  constructor(
    private readonly client: ContainerdClient,
    private readonly log: Logger,
  ) {}

  /** `create` begun now for container `id`, whose containerd container has `spec`. */
  make(id: string, spec: string, create: () => Promise<Made>): void {
    if (this.made.has(id)) return;
    const task = create();
    task.catch((e: unknown) =>
      this.log.debug('task made ahead failed: the start makes it', { container: id, error: messageOf(e) }),
    );
    const timer = setTimeout(() => {
      this.discard(id).catch(() => undefined);
    }, TTL_MS);
    timer.unref();
    this.made.set(id, { spec, task, timer });
  }

  /**
   * At start: the task made ahead for this spec, or undefined (none, it
   * failed, or the spec changed since: then it is deleted first). Waits for
   * a deletion of an earlier one under way, so that the start's own
   * Tasks.Create never meets it.
   */
  async take(id: string, spec: string): Promise<Made | undefined> {
    const p = this.made.get(id);
    if (!p) {
      await this.dropping.get(id);
      return undefined;
    }
    if (p.spec !== spec) {
      await this.discard(id);
      return undefined;
    }
    this.made.delete(id);
    clearTimeout(p.timer);
    return p.task.catch(() => undefined);
  }

  /** The task made ahead (if any) deleted, once its Create has answered. */
  async discard(id: string): Promise<void> {
    const p = this.made.get(id);
    if (!p) return this.dropping.get(id);
    this.made.delete(id);
    clearTimeout(p.timer);
    const dropped = p.task
      .then(
        () => this.client.tasks.delete(id),
        () => undefined,
      )
      .then(
        () => this.log.debug('task made ahead deleted', { container: id }),
        (e: unknown) => this.log.warn('task made ahead not deleted', { container: id, error: messageOf(e) }),
      )
      .finally(() => this.dropping.delete(id));
    this.dropping.set(id, dropped);
    return dropped;
  }

  /** At shutdown: none is left to a next berthd (its restore would delete them). */
  async discardAll(): Promise<void> {
    await Promise.all([...this.made.keys()].map((id) => this.discard(id)));
  }
}
