// The containerd container of a berthd container (the record containerd runs
// a task from: the OCI spec, the runtime, the snapshot key). It is made at
// `docker create` when its spec needs nothing that only a start knows (no
// `container:` namespace to join, no user name to look up in the image),
// beside the snapshot's Prepare and so off `docker run`'s path; otherwise at
// start. A start whose spec differs from the one it was made with (an
// update, a restart after a berthd restart) makes it again. It goes with
// its task at every exit, and at rm.

import { isAlreadyExists, isNotFound, isUnreachable } from '../../client/errors.js';
import type { ContainerdClient } from '../../client/index.js';
import type { DaemonConfig } from '../config.js';
import type { ContainerRecord } from './record.js';
import type { Spec } from './spec.js';

const SPEC_TYPE = 'types.containerd.io/opencontainers/runtime-spec/1/Spec';

export class ContainerdContainers {
  /**
   * Per container: the spec (JSON) its containerd container was made with,
   * or null when it is known to be gone. In memory only: after a berthd
   * restart nothing is known, and a start makes it again (AlreadyExists
   * drops a leftover first).
   */
  private readonly made = new Map<string, string | null>();

  constructor(
    private readonly client: ContainerdClient,
    private readonly cfg: DaemonConfig,
  ) {}

  private object(r: ContainerRecord, specJson: string) {
    return {
      id: r.Id,
      image: r.Config.Image ?? '',
      runtime: { name: this.cfg.runtime },
      spec: { type_url: SPEC_TYPE, value: Buffer.from(specJson) },
      snapshotter: this.cfg.snapshotter,
      snapshot_key: r.Id,
      labels: { 'io.berth.daemon': 'berthd', 'com.docker/engine.bundle.path': '' },
    };
  }

  /** At create: the containerd container for this spec, made now (a failure is the start's to meet again). */
  async precreate(r: ContainerRecord, spec: Spec): Promise<void> {
    const json = JSON.stringify(spec);
    await this.client.containers.create(this.object(r, json));
    this.made.set(r.Id, json);
  }

  /** At start: afterwards the containerd container exists with this spec. */
  async ensure(r: ContainerRecord, spec: Spec): Promise<void> {
    const json = JSON.stringify(spec);
    const had = this.made.get(r.Id);
    if (had === json) return;
    if (had) await this.drop(r.Id);
    const c = this.object(r, json);
    await this.client.containers.create(c).catch(async (e: unknown) => {
      if (!isAlreadyExists(e)) throw e;
      await this.drop(r.Id); // a leftover: berthd went away before the exit that would have deleted it
      await this.client.containers.create(c);
    });
    this.made.set(r.Id, json);
  }

  /** The task (if any) and the containerd container go. */
  async drop(id: string): Promise<void> {
    await this.client.tasks.delete(id).catch(() => undefined);
    await this.client.containers.delete(id).catch((e: unknown) => {
      if (!isNotFound(e)) throw e;
    });
    this.made.set(id, null);
  }

  /**
   * drop() for a create that failed: when containerd cannot be reached (it
   * was killed mid-create, and may have kept the container), tried again
   * after a pause, a few times, for as long as berthd has no record of `id`.
   */
  async dropFailed(id: string, known: (id: string) => boolean): Promise<void> {
    try {
      await this.drop(id);
    } catch (e) {
      if (!isUnreachable(e)) throw e;
      let pauseMs = 1000;
      const retry = () => {
        if (known(id)) return;
        this.drop(id).catch((e2: unknown) => {
          if (!isUnreachable(e2) || pauseMs > 30_000) return;
          pauseMs *= 2;
          setTimeout(retry, pauseMs).unref();
        });
      };
      setTimeout(retry, pauseMs).unref();
      throw e;
    }
  }

  /** The spec (JSON) the containerd container was made with by this berthd, if it exists. */
  madeWith(id: string): string | undefined {
    return this.made.get(id) ?? undefined;
  }

  /** Nothing of it is left in containerd (an exit's handling deleted it): a removal need not ask. */
  gone(id: string): boolean {
    return this.made.get(id) === null;
  }

  /**
   * At boot: a containerd container of berthd's with no record and no task
   * is what a berthd that died mid-create (after the containerd container,
   * before the record) left: it goes. One with a task is left alone.
   */
  async sweep(known: (id: string) => boolean): Promise<string[]> {
    const gone: string[] = [];
    for (const c of await this.client.containers.list()) {
      if (known(c.id) || c.labels['io.berth.daemon'] !== 'berthd') continue;
      const task = await this.client.tasks.get(c.id).then(
        () => true,
        (e: unknown) => !isNotFound(e),
      );
      if (task) continue;
      await this.client.containers.delete(c.id).catch(() => undefined);
      gone.push(c.id);
    }
    return gone;
  }

  /** The container itself is gone from berthd. */
  forget(id: string): void {
    this.made.delete(id);
  }
}
