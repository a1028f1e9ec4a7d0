// A task as the manager keeps it: the container's metadata that survives a
// restart (in its shim's directory), its shim, its backend, its processes;
// and the small readers the manager uses on a shim's directory.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BerthError, messageOf } from '../../common/errors.js';
import type { Spec } from '../../runtime/spec/types.js';
import type { ShimHandle } from '../../shim/shims.js';
import type { ContainerRecord } from '../meta/containers.js';
import type { Backend } from './backend.js';
import type { RuntimeChoice } from './options.js';
import type { TaskProcess } from './process.js';
import type { MountSpec } from './rootfs.js';

export interface TaskIO {
  stdin: string;
  stdout: string;
  stderr: string;
  terminal: boolean;
}

/** What survives an engine restart in the shim's directory (shim.json meta). */
export interface TaskMeta {
  ns: string;
  id: string;
  bundle: string;
  mounted: boolean;
  /**
   * The rootfs may be unmounted beside the runtime's delete, not after it:
   * the container has a pid namespace of its own (nothing of it outlives its
   * init: the kernel ends the rest before the init's exit is seen) and no
   * poststop hook (it could look at the rootfs). Absent in older records.
   */
  unmountEarly?: boolean;
  runtime: RuntimeChoice;
  io: TaskIO;
  rootfs: MountSpec[];
}

export class Task {
  readonly execs = new Map<string, TaskProcess>();
  deleting = false;
  /** OOM kills already reported (the cgroup's counter when last read). */
  ooms = 0;

  constructor(
    readonly meta: TaskMeta,
    readonly shim: ShimHandle,
    readonly backend: Backend,
    readonly init: TaskProcess,
  ) {}

  get ns(): string {
    return this.meta.ns;
  }
  get id(): string {
    return this.meta.id;
  }

  process(execId: string): TaskProcess {
    if (!execId) return this.init;
    const p = this.execs.get(execId);
    if (!p) throw new BerthError('berth-engine', 'not-found', `process ${execId} of task ${this.id}: not found`);
    return p;
  }

  paused(): boolean {
    return !this.init.exit && this.init.started && this.backend.paused(this.id);
  }
}

export function readIO(dir: string, name: string, terminal: boolean): TaskIO {
  try {
    return JSON.parse(readFileSync(join(dir, `${name}.io.json`), 'utf8')) as TaskIO;
  } catch {
    return { stdin: '', stdout: '', stderr: '', terminal };
  }
}

export function safeExit(shim: ShimHandle, name: string) {
  try {
    return shim.readExit(name);
  } catch {
    return undefined;
  }
}

export function parseSpec(c: ContainerRecord): Spec {
  if (!c.spec)
    throw new BerthError('berth-engine', 'invalid-argument', `container ${c.id}: no spec`, { field: 'container.spec' });
  try {
    return JSON.parse(c.spec.value.toString('utf8')) as Spec;
  } catch (e) {
    throw new BerthError(
      'berth-engine',
      'invalid-argument',
      `container ${c.id}: spec is not valid JSON: ${messageOf(e)}`,
      { field: 'container.spec' },
    );
  }
}
