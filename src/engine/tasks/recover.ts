// Finding every task again when the engine starts, from the shims'
// directories (manager.ts reconciles through these hooks): a live shim's
// processes are followed again, with exits that happened while the engine
// was down reported with their recorded status and time; a dead shim's task
// is stopped with the reason said; a create the crash interrupted (no
// process registered: the client never got an answer) and a delete whose
// clean-up was cut short are removed whole.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { messageOf } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import { INIT } from '../../shim/protocol.js';
import type { ShimSet } from '../../shim/shims.js';
import type { Backend } from './backend.js';
import { finishRemoval, markedDeleted } from './cleanup.js';
import type { RuntimeChoice } from './options.js';
import { TaskProcess, type ExitInfo } from './process.js';
import { Task, readIO, safeExit, type TaskMeta } from './task.js';

export interface RecoverHooks {
  backend(ns: string, r: RuntimeChoice): Backend;
  /** The task is the manager's (listed, usable). */
  adopt(task: Task): void;
  drop(task: Task): void;
  shimGone(task: Task, why: string): Promise<void>;
  exited(task: Task, p: TaskProcess, e: ExitInfo): void;
  follow(task: Task, p: TaskProcess): void;
  watchOom(task: Task): void;
}

export async function recoverTasks(shims: ShimSet, log: Logger, m: RecoverHooks): Promise<void> {
  for (const shim of await shims.recover((w) => log.warn(w))) {
    const meta = shim.record.meta as unknown as TaskMeta;
    const backend = m.backend(meta.ns, meta.runtime);
    if (markedDeleted(shim)) {
      // deleted (the client was answered), its clean-up cut short by the engine's end
      log.info('finishing the clean-up of a deleted task', { namespace: meta.ns, container: meta.id });
      // a step the cut-short clean-up had done fails now (the runtime's record is gone): the rest still runs
      const errors = await finishRemoval(backend, shim, meta);
      if (errors.length)
        log.debug('clean-up of a deleted task: steps already done', {
          namespace: meta.ns,
          container: meta.id,
          errors,
        });
      continue;
    }
    const init = new TaskProcess(INIT, '', meta.io);
    init.started = existsSync(join(shim.dir, 'started'));
    const task = new Task(meta, shim, backend, init);
    m.adopt(task);
    let state;
    try {
      state = await shim.state();
    } catch (e) {
      state = undefined;
      log.warn('shim did not answer', { namespace: meta.ns, container: meta.id, error: messageOf(e) });
    }
    if (!state) {
      const rec = safeExit(shim, INIT);
      init.pid = rec?.pid ?? 0;
      await m.shimGone(task, 'found dead at engine start');
      continue;
    }
    const registered = state.procs.find((sp) => sp.name === INIT && sp.pid > 0);
    if (!registered) {
      // The engine died inside this task's create: the client never got
      // an answer, so nothing of it may stay (runtime state, processes,
      // shim, bundle).
      log.warn('task create was interrupted by an engine crash: removed', {
        namespace: meta.ns,
        container: meta.id,
      });
      m.drop(task);
      task.deleting = true;
      await finishRemoval(backend, shim, meta);
      continue;
    }
    for (const sp of state.procs) {
      if (sp.name === INIT) {
        init.pid = sp.pid;
        if (sp.exited)
          m.exited(task, init, { status: sp.status ?? 255, at: { seconds: sp.sec ?? 0, nanos: sp.nsec ?? 0 } });
        else {
          m.follow(task, init);
          // kills before the restart were reported then, or are lost with the engine that died (as containerd's)
          task.ooms = backend.oomKills(meta.id);
          m.watchOom(task);
        }
      } else if (sp.name.startsWith('exec-') && sp.pid) {
        const execId = sp.name.slice(5);
        const p = new TaskProcess(sp.name, execId, readIO(shim.dir, sp.name, sp.terminal));
        p.pid = sp.pid;
        p.started = true;
        task.execs.set(execId, p);
        if (sp.exited) p.exited({ status: sp.status ?? 255, at: { seconds: sp.sec ?? 0, nanos: sp.nsec ?? 0 } });
        else m.follow(task, p);
      }
    }
    log.info('task recovered', { namespace: meta.ns, container: meta.id, pid: init.pid, exited: !!init.exit });
  }
}
