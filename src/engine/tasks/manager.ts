// The engine's tasks: a container's processes, each task under its own
// berth-shim. The manager creates them through a backend (the runtime
// library, or a runc-compatible binary), follows each process's exit through
// the shim, publishes containerd's task events, and after a restart finds
// every task again from the shims' directories (reconcile: a live shim's
// processes are followed again; an exit recorded while the engine was down is
// reported with its real status and time; a dead shim's task is stopped with
// the reason said).

import { writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BerthError, messageOf } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import type { Process, Spec } from '../../runtime/spec/types.js';
import { execName } from '../../shim/container.js';
import { INIT } from '../../shim/protocol.js';
import { ShimSet, type ShimHandle } from '../../shim/shims.js';
import type { EventExchange } from '../events/exchange.js';
import type { ContainerRecord } from '../meta/containers.js';
import type { Backend } from './backend.js';
import { BerthBackend } from './berth.js';
import { chooseRuntime, type RuntimeChoice } from './options.js';
import { STATE_WORDS, TaskProcess, nowTimestamp, type ExitInfo } from './process.js';
import { Task, parseSpec, safeExit, type TaskIO, type TaskMeta } from './task.js';

export { Task, type TaskIO } from './task.js';
import { makeBundle, removeBundle, type MountSpec } from './rootfs.js';
import { shimMounter } from './syscall-mount.js';
import { RuncBackend } from './runc.js';
import { shimStdio } from './stdio-uri.js';
import { recoverTasks } from './recover.js';
import { Cleanups, removeTask } from './cleanup.js';
import { watchOom } from './oom.js';

/** What an exec leaves in its shim's directory (./runc.ts, the stdio record above), removed with the exec. */
const EXEC_FILES = ['.io.json', '.pid', '.runc.log', '.process.json'];

const EVENTS = 'containerd.events.';

export class TaskManager {
  private readonly tasks = new Map<string, Task>();
  /** Task keys being created (reserved, not yet usable). */
  private readonly creating = new Set<string>();
  /** Clean-ups of deleted tasks still running, by key. */
  private readonly cleanups: Cleanups;
  private readonly shims: ShimSet;
  private readonly backends = new Map<string, Backend>();
  /** The engine is shutting down: connections to shims close on purpose. */
  private closed = false;

  constructor(
    private readonly state: string,
    private readonly events: EventExchange,
    private readonly log: Logger,
  ) {
    // The state directory is runtime state, as containerd's /run: nothing in
    // it outlives a reboot, so its files are atomic but never fsynced
    // (~13 ms per fsync pair on this loaded disk, on the create and exit paths).
    this.cleanups = new Cleanups(log);
    this.shims = new ShimSet(join(state, 'shims'), { spare: true, durable: false, spareInit: true });
  }

  private backend(ns: string, r: RuntimeChoice): Backend {
    const key = r.kind === 'berth' ? `berth/${ns}` : `runc/${ns}/${r.binary}/${r.root ?? ''}`;
    let b = this.backends.get(key);
    if (!b) {
      b =
        r.kind === 'berth'
          ? new BerthBackend(join(this.state, 'runtime', ns), this.log)
          : new RuncBackend(r.binary!, r.root ?? join(this.state, 'runc', ns), this.log);
      this.backends.set(key, b);
    }
    return b;
  }

  has(ns: string, id: string): boolean {
    return this.tasks.has(`${ns}/${id}`) || this.creating.has(`${ns}/${id}`);
  }

  get(ns: string, id: string): Task {
    const t = this.tasks.get(`${ns}/${id}`);
    if (!t) throw new BerthError('berth-engine', 'not-found', `task ${id} not found`);
    return t;
  }

  list(ns: string): Task[] {
    return [...this.tasks.values()].filter((t) => t.ns === ns);
  }

  all(): Task[] {
    return [...this.tasks.values()];
  }

  async create(
    ns: string,
    c: ContainerRecord,
    io: TaskIO,
    rootfs: MountSpec[],
    options: ContainerRecord['runtime']['options'],
  ): Promise<Task> {
    const key = `${ns}/${c.id}`;
    if (this.has(ns, c.id)) throw new BerthError('berth-engine', 'already-exists', `task ${c.id}: already exists`);
    const runtime = chooseRuntime(c.runtime.name, c.runtime.options, options);
    const spec = parseSpec(c);
    const shimIO = shimStdio(io, ns, c.id);
    if (io.terminal && io.stderr && io.stderr !== io.stdout)
      throw new BerthError('berth-engine', 'invalid-argument', 'stderr: a terminal has no separate stderr', {
        field: 'stderr',
      });
    spec.process = { ...(spec.process ?? { args: [], cwd: '/' }), terminal: io.terminal } as NonNullable<
      Spec['process']
    >;
    const bundle = join(this.state, 'tasks', ns, c.id);
    this.creating.add(key);
    // the previous task of this id may still be leaving (its Delete answered before its clean-up)
    const previous = this.cleanups.get(key);
    if (previous) await previous;
    let mounted = false;
    let shim: ShimHandle | undefined;
    try {
      const t0 = performance.now();
      // The shim first: it makes the rootfs mounts (syscall-mount.ts). Its
      // record says "mounted" before they are: a restart that finds the
      // create cut short unmounts what is there, and nothing when nothing is.
      const unmountEarly =
        !!spec.linux?.namespaces?.some((n) => n.type === 'pid' && !n.path) && !spec.hooks?.poststop?.length;
      const meta: TaskMeta = { ns, id: c.id, bundle, mounted: rootfs.length > 0, unmountEarly, runtime, io, rootfs };
      shim = await this.shims.start(key, meta as unknown as Record<string, unknown>);
      const t1 = performance.now();
      ({ mounted } = await makeBundle(bundle, spec, rootfs, shimMounter(shim.client)));
      const t2 = performance.now();
      const backend = this.backend(ns, runtime);
      const pid = await backend.create(c.id, bundle, shim, shimIO);
      const ms = (a: number, b: number) => Math.round((b - a) * 10) / 10;
      this.log.debug('task create steps', {
        namespace: ns,
        container: c.id,
        shimMs: ms(t0, t1),
        bundleMs: ms(t1, t2),
        runtimeMs: ms(t2, performance.now()),
      });
      const init = new TaskProcess(INIT, '', io);
      init.pid = pid;
      const task = new Task(meta, shim, backend, init);
      this.tasks.set(key, task);
      this.creating.delete(key);
      this.follow(task, init);
      this.watchOom(task);
      this.events.publish(ns, '/tasks/create', EVENTS + 'TaskCreate', {
        container_id: c.id,
        bundle,
        rootfs: rootfs.map((m) => ({ type: m.type, source: m.source, target: m.target ?? '', options: m.options })),
        io,
        pid,
      });
      return task;
    } catch (e) {
      this.creating.delete(key);
      await removeBundle(bundle, mounted, shim && shimMounter(shim.client)).catch(() => undefined);
      await shim?.remove().catch(() => undefined);
      throw e;
    }
  }

  /** Follows a process's exit through its shim; a shim that dies stops the task with the reason said. */
  private follow(task: Task, p: TaskProcess): void {
    void task.shim.client.wait(p.name).then(
      (w) => this.exited(task, p, { status: w.status ?? 255, at: { seconds: w.sec ?? 0, nanos: w.nsec ?? 0 } }),
      (e: unknown) => {
        if (this.closed || task.deleting || p.exit) return;
        const rec = safeExit(task.shim, p.name);
        if (rec) return this.exited(task, p, { status: rec.status, at: { seconds: rec.sec, nanos: rec.nsec } });
        if (task.shim.alive()) {
          // the connection broke but the shim is there: follow again
          setTimeout(() => this.follow(task, p), 100);
          return;
        }
        this.shimGone(task, messageOf(e)).catch((g: unknown) =>
          this.log.error('shim gone: cleanup failed', { namespace: task.ns, container: task.id, error: messageOf(g) }),
        );
      },
    );
  }

  /** Publishes /tasks/oom at each OOM kill in the task's memory cgroup, when it happens (oom.ts). */
  private watchOom(task: Task): void {
    watchOom(
      task,
      () => this.closed || task.deleting || !!task.init.exit,
      (k) => this.oomSeen(task, k),
      this.log,
    );
  }

  /** One /tasks/oom per OOM kill count seen to rise (containerd publishes one per notification). */
  private oomSeen(task: Task, kills: number): void {
    if (kills <= task.ooms) return;
    task.ooms = kills;
    this.log.info('OOM kill in the container', { namespace: task.ns, container: task.id, oomKills: kills });
    this.events.publish(task.ns, '/tasks/oom', EVENTS + 'TaskOOM', { container_id: task.id });
  }

  private exited(task: Task, p: TaskProcess, e: ExitInfo, reason?: string): void {
    if (p.exit) return;
    // A kill the watch has not answered yet (it may come a moment after the
    // exit it caused) is still reported before that exit, as containerd does.
    this.oomSeen(task, task.backend.oomKills(task.id));
    if (!p.exited(e, reason)) return;
    this.log.info('process exited', {
      namespace: task.ns,
      container: task.id,
      exec: p.execId,
      pid: p.pid,
      status: e.status,
      ...(reason ? { reason } : {}),
    });
    p.afterStart(() =>
      this.events.publish(task.ns, '/tasks/exit', EVENTS + 'TaskExit', {
        container_id: task.id,
        id: p.execId || task.id,
        pid: p.pid,
        exit_status: e.status,
        exited_at: e.at,
      }),
    );
  }

  /** The shim is gone: its processes are stopped (and killed, since nothing can report on them any more). */
  private async shimGone(task: Task, why: string): Promise<void> {
    const reason = `berth-shim of task ${task.id} exited unexpectedly (${why}); the task is stopped`;
    this.log.error(reason, { namespace: task.ns, container: task.id });
    await task.backend.killAll(task.id, 9).catch(() => undefined);
    for (const p of [task.init, ...task.execs.values()]) {
      const rec = safeExit(task.shim, p.name);
      this.exited(
        task,
        p,
        rec ? { status: rec.status, at: { seconds: rec.sec, nanos: rec.nsec } } : { status: 255, at: nowTimestamp() },
        rec ? undefined : reason,
      );
    }
  }

  async start(task: Task, execId: string): Promise<number> {
    const p = task.process(execId);
    if (p.started)
      throw new BerthError('berth-engine', 'failed-precondition', `process ${execId || task.id}: already started`);
    if (!execId) {
      p.holdEvents();
      try {
        await task.backend.start(task.id);
      } catch (e) {
        p.releaseEvents();
        throw e;
      }
      task.init.started = true;
      writeFileSync(join(task.shim.dir, 'started'), '');
      this.events.publish(task.ns, '/tasks/start', EVENTS + 'TaskStart', { container_id: task.id, pid: task.init.pid });
      p.releaseEvents();
      // the next create's spare shim starts after this answer, while the container runs and the engine waits
      setImmediate(() => this.shims.refill());
      return task.init.pid;
    }
    if (task.init.exit)
      throw new BerthError('berth-engine', 'failed-precondition', 'cannot start an exec in a stopped state');
    p.holdEvents();
    let pid: number;
    try {
      pid = await task.backend.exec(task.id, task.shim, execId, p.spec!, shimStdio(p.io, task.ns, task.id));
    } catch (e) {
      p.releaseEvents();
      throw e;
    }
    p.pid = pid;
    // its stdio, for Get after an engine restart
    writeFileSync(join(task.shim.dir, `${p.name}.io.json`), JSON.stringify(p.io), { mode: 0o600 });
    p.started = true;
    this.follow(task, p);
    if (p.stdinClosePending)
      await this.closeIO(task, execId).catch((e: unknown) =>
        this.log.warn('exec stdin close failed', {
          namespace: task.ns,
          container: task.id,
          exec: execId,
          error: messageOf(e),
        }),
      );
    this.events.publish(task.ns, '/tasks/exec-started', EVENTS + 'TaskExecStarted', {
      container_id: task.id,
      exec_id: execId,
      pid,
    });
    p.releaseEvents();
    return pid;
  }

  exec(task: Task, execId: string, spec: Process, io: TaskIO): void {
    if (task.execs.has(execId))
      throw new BerthError('berth-engine', 'already-exists', `exec ${execId}: already exists`);
    if (task.init.exit) throw new BerthError('berth-engine', 'failed-precondition', 'cannot exec in a stopped state');
    task.execs.set(execId, new TaskProcess(execName(execId), execId, io, { ...spec, terminal: io.terminal }));
    this.events.publish(task.ns, '/tasks/exec-added', EVENTS + 'TaskExecAdded', {
      container_id: task.id,
      exec_id: execId,
    });
  }

  async kill(task: Task, execId: string, signal: number, all: boolean): Promise<void> {
    const p = task.process(execId);
    if (all && !execId) {
      if (task.init.exit) throw new BerthError('berth-engine', 'not-found', 'process already finished');
      await task.backend.killAll(task.id, signal);
      return;
    }
    if (p.exit) throw new BerthError('berth-engine', 'not-found', 'process already finished');
    if (!p.pid) throw new BerthError('berth-engine', 'failed-precondition', `process ${execId}: not started`);
    // a paused container only acts on SIGKILL; containerd's shim behaves the same
    await task.shim.client.kill(p.name, signal);
  }

  async resize(task: Task, execId: string, width: number, height: number): Promise<void> {
    const p = task.process(execId);
    if (!p.io.terminal)
      throw new BerthError(
        'berth-engine',
        'failed-precondition',
        `process ${execId || task.id}: no terminal to resize`,
      );
    await task.shim.client.resize(p.name, height, width);
  }

  async closeIO(task: Task, execId: string): Promise<void> {
    const p = task.process(execId);
    if (!p.pid) {
      p.stdinClosePending = true;
      return;
    }
    await task.shim.client.closeStdin(p.name).catch((e: unknown) => {
      if (!p.exit) throw e;
    });
  }

  async pause(task: Task): Promise<void> {
    const state = task.init.status(task.paused());
    if (state !== 'RUNNING') throw new BerthError('berth-engine', 'failed-precondition', STATE_WORDS.pause[state]);
    await task.backend.pause(task.id);
    this.events.publish(task.ns, '/tasks/paused', EVENTS + 'TaskPaused', { container_id: task.id });
  }

  async resume(task: Task): Promise<void> {
    const state = task.init.status(task.paused());
    if (state !== 'PAUSED') throw new BerthError('berth-engine', 'failed-precondition', STATE_WORDS.resume[state]);
    await task.backend.resume(task.id);
    this.events.publish(task.ns, '/tasks/resumed', EVENTS + 'TaskResumed', { container_id: task.id });
  }

  async deleteProcess(task: Task, execId: string): Promise<TaskProcess> {
    const p = task.process(execId);
    if (p.started && !p.exit)
      throw new BerthError(
        'berth-engine',
        'failed-precondition',
        `process ${execId} must be stopped before deletion: running`,
      );
    if (p.started) await task.shim.client.forget(p.name).catch(() => undefined);
    // the shim dropped its exit record; the files the engine and the runtime kept for this exec go too
    await Promise.all(
      EXEC_FILES.map((suffix) => rm(join(task.shim.dir, p.name + suffix), { force: true }).catch(() => undefined)),
    );
    // no /tasks/delete for an exec: containerd's shim publishes it for the init only
    task.execs.delete(execId);
    return p;
  }

  /**
   * Deletes a stopped (or never started) task: runtime state, shim, bundle
   * and rootfs mounts. A task whose process has exited is answered before
   * that clean-up runs (it is off the reply path): a `deleted` mark in its
   * shim directory makes an engine that dies meanwhile finish it at start,
   * a create of the same id waits for it, and so does containers.Delete (the
   * rootfs is unmounted before the container and its snapshot go).
   */
  async delete(task: Task): Promise<TaskProcess> {
    const p = task.init;
    const key = `${task.ns}/${task.id}`;
    if (p.started && !p.exit)
      throw new BerthError(
        'berth-engine',
        'failed-precondition',
        `task ${task.id} must be stopped before deletion: ${p.status(task.paused()).toLowerCase()}`,
      );
    task.deleting = true;
    if (p.exit) {
      await this.cleanups.start(key, task.backend, task.shim, task.meta);
      this.tasks.delete(key);
    } else {
      // created, never started: its process is killed and gone before the answer
      try {
        await removeTask(task.backend, task.shim, task.meta);
      } catch (e) {
        task.deleting = false;
        throw e;
      }
      p.exited({ status: 137, at: nowTimestamp() }); // killed by the delete
      this.tasks.delete(key);
    }
    this.events.publish(task.ns, '/tasks/delete', EVENTS + 'TaskDelete', {
      container_id: task.id,
      pid: p.pid,
      exit_status: p.exit?.status ?? 0,
      exited_at: p.exit?.at ?? null,
    });
    return p;
  }

  /** The clean-up of a deleted task still running, if any. */
  cleanup(ns: string, id: string): Promise<void> | undefined {
    return this.cleanups.get(`${ns}/${id}`);
  }

  /** On engine start: every task whose shim directory is there, live or not (recover.ts). */
  async recover(): Promise<void> {
    await recoverTasks(this.shims, this.log, {
      backend: (ns, r) => this.backend(ns, r),
      adopt: (t) => this.tasks.set(`${t.ns}/${t.id}`, t),
      drop: (t) => this.tasks.delete(`${t.ns}/${t.id}`),
      shimGone: (t, why) => this.shimGone(t, why),
      exited: (t, p, e) => this.exited(t, p, e),
      follow: (t, p) => this.follow(t, p),
      watchOom: (t) => this.watchOom(t),
    });
    this.shims.refill();
  }

  /** Stops following (the engine shuts down); tasks and shims go on. */
  async close(): Promise<void> {
    this.closed = true;
    await this.cleanups.all();
    for (const t of this.tasks.values()) t.shim.client.close();
    await this.shims.close();
  }
}
