// containerd.services.tasks.v1.Tasks: a container's processes, each task
// under its own berth-shim (src/engine/tasks/). Checkpoint is not
// implemented (UNIMPLEMENTED, as for any method without a handler).

import type { TasksHandlers } from '../../../api/gen/containerd/services/tasks/v1/Tasks.js';
import type { Process as ProcessProto } from '../../../api/gen/containerd/v1/types/Process.js';
import { BerthError, messageOf } from '../../../common/errors.js';
import type { LinuxResources, Process } from '../../../runtime/spec/types.js';
import { encodeAny } from '../../proto.js';
import { unary } from '../../rpc.js';
import { addService, type EngineService } from '../../server.js';
import { invalidArgument, validateIdentifier } from '../../validate.js';
import { hostPlugin, type EngineContext } from '../../context.js';
import { containerStore } from '../containers/index.js';
import { TaskManager, type Task } from '../../tasks/manager.js';
import type { TaskProcess } from '../../tasks/process.js';
import { metricsOf } from './metrics.js';
import { checkpointRefusal } from './checkpoint.js';

const NAME = 'containerd.services.tasks.v1.Tasks';

const managers = new WeakMap<EngineContext, { manager: TaskManager; ready: Promise<void> }>();

/** The engine's task manager, recovered from the shims' directories once. */
export function taskManager(ctx: EngineContext): { manager: TaskManager; ready: Promise<void> } {
  let m = managers.get(ctx);
  if (!m) {
    const manager = new TaskManager(ctx.state, ctx.events, ctx.log);
    const ready = manager
      .recover()
      .catch((e: unknown) => ctx.log.error('task recovery failed', { error: messageOf(e) }));
    ctx.onClose(() => manager.close());
    containerStore(ctx).hasTask = (ns, id) => manager.has(ns, id);
    containerStore(ctx).taskCleanup = (ns, id) => manager.cleanup(ns, id);
    m = { manager, ready };
    managers.set(ctx, m);
  }
  return m;
}

/**
 * A Wait ends when the engine stops (the task goes on under its shim): a
 * waiting client must not hold the engine's shutdown, and it sees the
 * engine go away as it would see containerd go (UNAVAILABLE).
 */
function untilShutdown<T>(signal: AbortSignal, p: Promise<T>): Promise<T> {
  if (signal.aborted) return Promise.reject(shuttingDown());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(shuttingDown());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function shuttingDown(): BerthError {
  return new BerthError('berth-engine', 'unavailable', 'berth-engine is shutting down; the task goes on');
}

function jsonAny<T>(any: { type_url: string; value: Buffer } | null | undefined, field: string): T {
  if (!any?.type_url) throw invalidArgument(`${field} must be set`, field);
  try {
    return JSON.parse(Buffer.from(any.value).toString('utf8')) as T;
  } catch (e) {
    throw invalidArgument(`${field}: not valid JSON: ${messageOf(e)}`, field);
  }
}

function processProto(t: Task, p: TaskProcess): ProcessProto {
  return {
    container_id: t.id,
    id: p.execId || t.id,
    pid: p.pid,
    status: p.status(t.paused()),
    stdin: p.io.stdin,
    stdout: p.io.stdout,
    stderr: p.io.stderr,
    terminal: p.io.terminal,
    exit_status: p.exit?.status ?? 0,
    exited_at: p.exit?.at ?? null,
  };
}

export const tasksService: EngineService = {
  name: NAME,
  plugins: [{ type: 'io.containerd.grpc.v1', id: 'tasks' }, hostPlugin('io.containerd.runtime.v2', 'task')],
  register(server, ctx) {
    const { manager, ready } = taskManager(ctx);
    const containers = containerStore(ctx);
    const task = async (ns: string, id: string): Promise<Task> => {
      await ready;
      validateIdentifier(id, 'container_id');
      return manager.get(ns, id);
    };
    const h: Partial<TasksHandlers> = {
      Create: unary(ctx, 'tasks.Create', async (req, call) => {
        const ns = call.namespace();
        call.set({ container: req.container_id });
        await ready;
        if (req.checkpoint)
          throw new BerthError(
            'berth-engine',
            'failed-precondition',
            'checkpoint: restoring a task from a checkpoint is not supported by berth-engine',
          );
        const c = containers.get(ns, req.container_id);
        const t = await manager.create(
          ns,
          c,
          { stdin: req.stdin, stdout: req.stdout, stderr: req.stderr, terminal: req.terminal },
          req.rootfs.map((m) => ({ type: m.type, source: m.source, target: m.target, options: m.options })),
          req.options?.type_url ? { type_url: req.options.type_url, value: Buffer.from(req.options.value) } : null,
        );
        return { container_id: t.id, pid: t.init.pid };
      }),
      Start: unary(ctx, 'tasks.Start', async (req, call) => {
        const ns = call.namespace();
        call.set({ container: req.container_id, exec: req.exec_id });
        const t = await task(ns, req.container_id);
        return { pid: await manager.start(t, req.exec_id) };
      }),
      Delete: unary(ctx, 'tasks.Delete', async (req, call) => {
        const ns = call.namespace();
        call.set({ container: req.container_id });
        const t = await task(ns, req.container_id);
        const p = await manager.delete(t);
        return { id: t.id, pid: p.pid, exit_status: p.exit?.status ?? 0, exited_at: p.exit?.at ?? null };
      }),
      DeleteProcess: unary(ctx, 'tasks.DeleteProcess', async (req, call) => {
        const ns = call.namespace();
        call.set({ container: req.container_id, exec: req.exec_id });
        if (!req.exec_id) throw invalidArgument('exec_id must be set (delete the task itself with Delete)', 'exec_id');
        const t = await task(ns, req.container_id);
        const p = await manager.deleteProcess(t, req.exec_id);
        return { id: req.exec_id, pid: p.pid, exit_status: p.exit?.status ?? 0, exited_at: p.exit?.at ?? null };
      }),
      Get: unary(ctx, 'tasks.Get', async (req, call) => {
        const ns = call.namespace();
        call.set({ container: req.container_id, exec: req.exec_id });
        const t = await task(ns, req.container_id);
        return { process: processProto(t, t.process(req.exec_id)) };
      }),
      List: unary(ctx, 'tasks.List', async (_req, call) => {
        const ns = call.namespace();
        await ready;
        return { tasks: manager.list(ns).map((t) => processProto(t, t.init)) };
      }),
      Kill: unary(ctx, 'tasks.Kill', async (req, call) => {
        const ns = call.namespace();
        call.set({ container: req.container_id, exec: req.exec_id, signal: req.signal });
        if (!Number.isInteger(req.signal) || req.signal < 0 || req.signal > 64)
          throw invalidArgument(`signal ${req.signal} is not a signal`, 'signal');
        const t = await task(ns, req.container_id);
        await manager.kill(t, req.exec_id, req.signal, req.all);
        return {};
      }),
      Exec: unary(ctx, 'tasks.Exec', async (req, call) => {
        const ns = call.namespace();
        call.set({ container: req.container_id, exec: req.exec_id });
        validateIdentifier(req.exec_id, 'exec_id');
        const spec = jsonAny<Process>(req.spec, 'spec');
        if (!Array.isArray(spec.args) || spec.args.length === 0)
          throw invalidArgument('spec.args: the process needs a program to run', 'spec.args');
        const t = await task(ns, req.container_id);
        manager.exec(t, req.exec_id, spec, {
          stdin: req.stdin,
          stdout: req.stdout,
          stderr: req.stderr,
          terminal: req.terminal,
        });
        return {};
      }),
      ResizePty: unary(ctx, 'tasks.ResizePty', async (req, call) => {
        const ns = call.namespace();
        call.set({ container: req.container_id, exec: req.exec_id });
        const t = await task(ns, req.container_id);
        await manager.resize(t, req.exec_id, req.width, req.height);
        return {};
      }),
      CloseIO: unary(ctx, 'tasks.CloseIO', async (req, call) => {
        const ns = call.namespace();
        call.set({ container: req.container_id, exec: req.exec_id });
        const t = await task(ns, req.container_id);
        if (req.stdin) await manager.closeIO(t, req.exec_id);
        return {};
      }),
      Pause: unary(ctx, 'tasks.Pause', async (req, call) => {
        const ns = call.namespace();
        call.set({ container: req.container_id });
        await manager.pause(await task(ns, req.container_id));
        return {};
      }),
      Resume: unary(ctx, 'tasks.Resume', async (req, call) => {
        const ns = call.namespace();
        call.set({ container: req.container_id });
        await manager.resume(await task(ns, req.container_id));
        return {};
      }),
      ListPids: unary(ctx, 'tasks.ListPids', async (req, call) => {
        const ns = call.namespace();
        call.set({ container: req.container_id });
        const t = await task(ns, req.container_id);
        const byPid = new Map([...t.execs.values()].map((p) => [p.pid, p.execId]));
        const pids = await t.backend.pids(t.id);
        return {
          processes: pids.map((pid) => {
            const execId = byPid.get(pid);
            return { pid, info: execId ? encodeAny('containerd.runc.v1.ProcessDetails', { exec_id: execId }) : null };
          }),
        };
      }),
      Update: unary(ctx, 'tasks.Update', async (req, call) => {
        const ns = call.namespace();
        call.set({ container: req.container_id });
        const t = await task(ns, req.container_id);
        if (req.resources?.type_url) await t.backend.update(t.id, jsonAny<LinuxResources>(req.resources, 'resources'));
        return {};
      }),
      Metrics: unary(ctx, 'tasks.Metrics', async (req, call) => {
        const ns = call.namespace();
        await ready;
        return { metrics: await metricsOf(manager.list(ns), req.filters) };
      }),
      Checkpoint: unary(ctx, 'tasks.Checkpoint', async (req, call) => {
        const ns = call.namespace();
        call.set({ container: req.container_id });
        const t = await task(ns, req.container_id);
        throw checkpointRefusal(t.id);
      }),
      Wait: unary(ctx, 'tasks.Wait', async (req, call) => {
        const ns = call.namespace();
        call.set({ container: req.container_id, exec: req.exec_id });
        const t = await task(ns, req.container_id);
        const e = await untilShutdown(ctx.shutdown, t.process(req.exec_id).wait());
        return { exit_status: e.status, exited_at: e.at };
      }),
    };
    addService(server, NAME, h);
  },
};
