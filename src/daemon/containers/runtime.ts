// Running containers through containerd: start (spec → containerd container
// → task with stdio FIFOs → wait → start), the exit path (output drained,
// task and containerd container deleted, state saved, waiters answered,
// restart policy, auto-remove), stop/kill/pause, and restore after berthd
// restarts (live-restore): running tasks are adopted again — FIFOs reopened,
// Wait re-issued — and tasks that ended while berthd was away are reaped.

import { constants as osc } from 'node:os';
import { closeSync, constants as fsc, existsSync, openSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { copyUp } from './copyup.js';
import { dirname, join } from 'node:path';
import { isNotFound } from '../../client/errors.js';
import { BerthError, messageOf } from '../../common/errors.js';
import { dateOf } from '../../client/services.js';
import { badRequest, wrongState, HttpError } from '../http/errors.js';
import { fifoPaths, makeFifos, ProcessIO } from './io.js';
import { loggerURI, logSettings, startFifoLogger } from './logdriver.js';
import type { ContainerManager } from './manager.js';
import type { ContainerdClient } from '../../client/index.js';
import type { ContainerRecord } from './record.js';
import { resolveUser, withGroupAdd, withRootfs, type RootAccess, type User } from './files.js';
import { buildSpec, type Spec, type SpecProcess } from './spec.js';
import { ContainerdContainers } from './ctrd.js';
import { HealthMonitors } from './health.js';
import { BackOff, policyRestarts } from './restart.js';
import { volumeEvents } from './volume-events.js';
import { networkEvents } from '../networking/events.js';
import { cgroupOOMKilled } from './oom.js';
import { Steps } from './steps.js';
import { waitTask } from './waittask.js';
import { Removals } from './removal.js';
import { PremadeTasks } from './premade.js';

const ZERO_TIME = '0001-01-01T00:00:00Z';
// How long a kill with SIGKILL waits for the exit before answering (dockerd: 2 s, then 10 s more).
const KILL_WAIT_MS = 12_000;

export function parseSignal(s: string | null | undefined, dflt = 'SIGKILL'): number {
  const v = (s || dflt).toUpperCase();
  if (/^\d+$/.test(v)) return Number(v);
  const name = (v.startsWith('SIG') ? v : `SIG${v}`) as keyof typeof osc.signals;
  const n = osc.signals[name];
  if (n === undefined) throw badRequest(`Invalid signal: ${s}`, 'signal');
  return n;
}

export interface Live {
  io?: ProcessIO;
  /** The process part of the spec the task runs, the base of every exec. */
  process?: SpecProcess;
  /** Attached clients waiting for the next start's output. */
  pending: ((io: ProcessIO | undefined) => void)[];
  exitWaiters: ((code: number) => void)[];
  removeWaiters: ((code: number) => void)[];
  exited?: Promise<void>;
  /** A stop or kill asked for this exit: no restart follows it, whatever the policy (dockerd's ExitOnNext). */
  exitOnNext?: boolean;
  /** When this berthd began the current run (ms): OOM events from before it belong to an earlier run. */
  since?: number;
  /** The removal under way (status `removing`): a `docker rm` meanwhile answers when it is done. */
  removal?: Promise<void>;
}

export function cgroupV2Only(): boolean {
  return existsSync('/sys/fs/cgroup/cgroup.controllers');
}

export class Runtime {
  private readonly live = new Map<string, Live>();
  private readonly restartTimers = new Map<string, NodeJS.Timeout>();
  private shuttingDown = false;
  readonly health = new HealthMonitors(this);
  private readonly backoff = new BackOff();
  readonly ctrd: ContainerdContainers;
  readonly removals: Removals;
  readonly premade: PremadeTasks;

  constructor(readonly m: ContainerManager) {
    this.ctrd = new ContainerdContainers(m.s.client, m.s.cfg);
    this.removals = new Removals({
      client: m.s.client,
      snapshotter: m.s.cfg.snapshotter,
      log: m.s.log,
      records: m.records,
      ctrd: this.ctrd,
      execRoot: (id) => this.execRoot(id),
    });
    this.premade = new PremadeTasks(m.s.client, m.s.log);
    m.hooks = {
      created: (r) => this.precreate(r),
      failed: (id) => this.ctrd.dropFailed(id, (x) => m.has(x)),
      made: (r) => this.premake(r),
    };
  }

  private get s() {
    return this.m.s;
  }

  liveOf(id: string): Live {
    let l = this.live.get(id);
    if (!l) this.live.set(id, (l = { exitWaiters: [], removeWaiters: [], pending: [] }));
    return l;
  }

  running(r: ContainerRecord): boolean {
    return r.State.Status === 'running' || r.State.Status === 'paused';
  }

  private execRoot(id: string): string {
    return join(this.s.cfg.execRoot, id);
  }

  /** berth-logger's attach socket for the container's output. */
  loggerSocket(id: string): string {
    return join(this.execRoot(id), 'log.sock');
  }

  /** `manual`: asked for by the user (or berthd's boot), which resets RestartCount and the back-off as dockerd does. */
  async start(r: ContainerRecord, manual = true): Promise<void> {
    if (this.running(r)) throw new HttpError(304, '');
    if (r.State.Status === 'removing')
      throw wrongState(`container ${r.Id} is marked for removal and cannot be started`);
    const { client, cfg } = this.s;
    const id = r.Id;
    const h = r.HostConfig;
    const steps = new Steps(this.s.log, 'start', id);
    let spec: Spec;
    try {
      const joins = this.joinsOf(r);
      const root: RootAccess = async (fn) => withRootfs(await this.m.rootfsMounts(id), fn);
      const user = await withGroupAdd(await resolveUser(r.Config.User ?? '', root), h.GroupAdd, root);
      await this.copyUps(r);
      steps.mark('user');
      spec = this.specOf(r, user, joins);
    } catch (e) {
      // as dockerd: a start that fails before its task is a failed start too (the error kept, --rm honoured)
      await this.startFailed(r, e);
      throw e;
    }
    const tty = r.Config.Tty ?? false;
    const stdin = r.Config.OpenStdin ?? false;
    this.liveOf(id).process = spec.process;
    const paths = fifoPaths(this.execRoot(id), 'init');
    // The output goes to berth-logger, started by the shim for a binary:// stdout: it writes the
    // log with berthd up or down. With -i and no tty the task gets FIFOs instead (containerd's
    // shim gives no stdin to a binary:// task) and the logger reading them is started here.
    const fifoLog = stdin && !tty;
    await makeFifos(
      this.execRoot(id),
      fifoLog ? [paths.stdin, paths.stdout, paths.stderr] : stdin ? [paths.stdin] : [],
    );
    const logs = logSettings(h.LogConfig?.Type, h.LogConfig?.Config ?? {});
    if (r.LogPath) await mkdir(dirname(r.LogPath), { recursive: true, mode: 0o700 });
    // a unix socket path has 107 bytes: a long --exec-root would leave attach without output
    if (Buffer.byteLength(this.loggerSocket(id)) > 107)
      throw new BerthError(
        'berthd',
        'invalid-argument',
        `--exec-root ${cfg.execRoot} is too long for the logger's socket`,
        {
          field: 'exec-root',
        },
      );
    const logURI = loggerURI(logs, r.LogPath, this.loggerSocket(id));
    if (fifoLog)
      await startFifoLogger(logs, r.LogPath, this.loggerSocket(id), paths, { id, ns: cfg.containerdNamespace });
    const live = this.liveOf(id);
    const io = new ProcessIO(paths, { stdin, stderr: false, stdout: false });
    live.io = io;
    // the task made ahead at create (premade.ts), when the container is still the one it was made for
    const premade = fifoLog ? undefined : await this.premade.take(id, JSON.stringify(spec));
    steps.mark(premade ? 'premade' : 'prepared');
    await this.ctrd.ensure(r, spec);
    steps.mark('container');
    let taskMade = false;
    // an OOM event of this run may come before Start answers: from here on it counts
    r.State.OOMKilled = false;
    live.since = Date.now();
    try {
      io.holdOpen();
      const task =
        premade ??
        (await client.tasks.create({
          container_id: id,
          rootfs: await this.m.rootfsMounts(id),
          stdin: stdin ? paths.stdin : '',
          stdout: fifoLog ? paths.stdout : logURI,
          stderr: fifoLog ? paths.stderr : tty ? '' : logURI,
          terminal: tty,
        }));
      taskMade = true;
      steps.mark('task');
      // The namespace exists, nothing runs in it yet: the container starts with its network up.
      await this.s.nets.attachAll(r, task.pid);
      io.startReading();
      // connected before the process runs: an attached client misses none of its output
      await io.connectLogger(this.loggerSocket(id));
      steps.mark('logger');
      for (const p of live.pending.splice(0)) p(io);
      const waited = waitTask(client, id);
      waited.catch(() => undefined); // handled below once started; a failed start reports itself
      const pid = await client.tasks.start(id);
      steps.mark('started');
      r.State = {
        ...r.State,
        Status: 'running',
        Pid: pid,
        ExitCode: 0,
        Error: '',
        StartedAt: new Date().toISOString(),
        FinishedAt: ZERO_TIME,
      };
      r.ManuallyStopped = false;
      live.exitOnNext = false;
      if (manual) {
        r.RestartCount = 0;
        this.backoff.forget(id);
      }
      this.health.init(r);
      // The run state is written after the answer: a berthd killed before it lands finds the task
      // running and adopts it (restore). The exit's handling comes after it (saves land in order anyway).
      const saved = this.m
        .save(r, { durable: false })
        .catch((e: unknown) => this.s.log.error('run state not saved', { container: id, error: messageOf(e) }));
      volumeEvents(this.s.events, r, 'mount');
      networkEvents(this.s.events, this.s.nets.nets.list(), r, 'connect');
      this.s.events.emit('container', 'start', id, { image: r.ImageRef, name: r.Name.slice(1) });
      this.s.log.info('container started', { container: id, image: r.Image, pid });
      steps.done();
      live.exited = saved
        .then(() => waited)
        .then(
          (w) => this.onExit(r, w.exit_status, dateOf(w.exited_at)),
          (e: unknown) => this.s.log.error('waiting for the task failed', { container: id, error: messageOf(e) }),
        );
    } catch (e) {
      io.release();
      if (fifoLog) endFifoLogger(paths.stdout, paths.stderr);
      if (taskMade) await client.tasks.delete(id).catch(() => undefined);
      await this.ctrd.drop(id);
      await this.s.nets.detachAll(id);
      const code = await this.startFailed(r, e);
      if (e instanceof BerthError && code !== 128)
        throw new BerthError('berthd', 'invalid-argument', `failed to create task for container: ${messageOf(e)}`, {
          cause: e,
        });
      throw e;
    }
  }

  /** A failed start recorded as dockerd records it (error, exit code), attached clients ended, an --rm container removed. */
  private async startFailed(r: ContainerRecord, e: unknown): Promise<number> {
    const msg = messageOf(e);
    const code = /executable file not found|no such file or directory/.test(msg)
      ? 127
      : /permission denied/.test(msg)
        ? 126
        : 128;
    r.State = {
      ...r.State,
      Status: r.State.Status === 'created' ? 'created' : 'exited',
      ExitCode: code,
      Error: msg,
      Pid: 0,
    };
    await this.m.save(r);
    this.s.log.error('container start failed', { container: r.Id, error: msg });
    // Attached clients get their end of stream; an --rm container goes, as with dockerd.
    for (const p of this.liveOf(r.Id).pending.splice(0)) p(undefined);
    if (r.HostConfig.AutoRemove) await this.remove(r, { force: true, volumes: true }).catch(() => undefined);
    return code;
  }

  /**
   * Docker's copy-up: a volume that is empty when first mounted gets what the
   * image has at its destination (owners, modes and links kept), taken from
   * the container's own rootfs snapshot before the task exists.
   */
  private async copyUps(r: ContainerRecord): Promise<void> {
    const todo = r.Mounts.filter((m) => m.Type === 'volume' && m.CopyUp && m.Name);
    if (!todo.length) return;
    await withRootfs(await this.m.rootfsMounts(r.Id), async (root) => {
      for (const m of todo) {
        if (!(await this.s.volumes.isEmpty(m.Name!))) continue;
        if (!(await copyUp(root, m.Destination, m.Source))) continue;
        this.s.log.info('volume seeded from the image', { container: r.Id, volume: m.Name, path: m.Destination });
      }
    });
    for (const m of todo) m.CopyUp = false;
    await this.m.save(r);
  }

  /** The namespaces a `container:` mode joins (that container must run), and the host's network for `host`. */
  private joinsOf(r: ContainerRecord): Record<string, string> {
    const h = r.HostConfig;
    const joins: Record<string, string> = {};
    for (const [kind, mode] of [
      ['pid', h.PidMode],
      ['ipc', h.IpcMode],
      ['network', h.NetworkMode],
    ] as const) {
      if (mode?.startsWith('container:')) {
        const other = this.m.get(mode.slice('container:'.length));
        if (other.State.Status !== 'running')
          throw wrongState(`cannot join network of a non running container: ${other.Id}`);
        joins[kind] = `/proc/${other.State.Pid}/ns/${kind === 'network' ? 'net' : kind}`;
      }
    }
    if (h.NetworkMode === 'host') joins.network = this.s.nets.hostNetns;
    return joins;
  }

  private specOf(r: ContainerRecord, user: User, joins: Record<string, string>): Spec {
    return buildSpec({
      rec: r,
      user,
      cgroupsPath: this.cgroupsPath(r),
      cgroupV2: cgroupV2Only(),
      joins,
      initPath: r.HostConfig.Init ? initBinary() : undefined,
    });
  }

  /**
   * docker create: the containerd container made now, beside the snapshot's
   * Prepare, when its spec needs nothing a start alone knows (see ctrd.ts);
   * never a reason for the create to fail (the start makes it otherwise).
   */
  private async precreate(r: ContainerRecord): Promise<void> {
    const h = r.HostConfig;
    if ([h.PidMode, h.IpcMode, h.NetworkMode].some((m) => m?.startsWith('container:'))) return;
    let spec: Spec;
    try {
      const later: RootAccess = () => Promise.reject(new Error('a user or group name: read at start'));
      const user = await withGroupAdd(await resolveUser(r.Config.User ?? '', later), r.HostConfig.GroupAdd, later);
      spec = this.specOf(r, user, this.joinsOf(r));
    } catch {
      return;
    }
    await this.ctrd
      .precreate(r, spec)
      .catch((e: unknown) =>
        this.s.log.debug('containerd container left to the start', { container: r.Id, error: messageOf(e) }),
      );
  }

  /** The container's cgroup (cgroupfs driver, as ctr places it): /<namespace>/<id>. */
  private cgroupsPath(r: ContainerRecord): string {
    return `/${this.s.cfg.containerdNamespace}/${r.Id}`;
  }

  /**
   * After a create: its task made ahead (premade.ts) when the containerd
   * container was made at create, with what the start would give it. Not for
   * `-i` without a tty (the start starts a logger on FIFOs first) nor for a
   * volume the start seeds from the image (it mounts the rootfs first).
   */
  private premake(r: ContainerRecord): void {
    const id = r.Id;
    const spec = this.ctrd.madeWith(id);
    if (!spec || r.Config.OpenStdin || r.Mounts.some((m) => m.CopyUp)) return;
    const sock = this.loggerSocket(id);
    if (Buffer.byteLength(sock) > 107) return; // the start says why
    const h = r.HostConfig;
    const logURI = loggerURI(logSettings(h.LogConfig?.Type, h.LogConfig?.Config ?? {}), r.LogPath, sock);
    const tty = r.Config.Tty ?? false;
    this.premade.make(id, spec, async () => {
      await mkdir(this.execRoot(id), { recursive: true, mode: 0o700 });
      if (r.LogPath) await mkdir(dirname(r.LogPath), { recursive: true, mode: 0o700 });
      return this.s.client.tasks.create({
        container_id: id,
        rootfs: await this.m.rootfsMounts(id),
        stdin: '',
        stdout: logURI,
        stderr: tty ? '' : logURI,
        terminal: tty,
      });
    });
  }

  /** The init process ended: everything after it, in order. */
  private async onExit(r: ContainerRecord, code: number, at: Date | null): Promise<void> {
    const id = r.Id;
    const live = this.liveOf(id);
    const steps = new Steps(this.s.log, 'exit', id);
    await this.health.stop(id);
    // Deleting the task ends the logger (containerd's shim closes its pipes and
    // signals it; under berth-shim the container's pipes are closed already);
    // the attach streams and the log get every byte before anyone hears of the exit.
    // The containerd container goes (its Delete waits for the task's rootfs to be let go) while
    // the output drains, and the network endpoints go meanwhile too: the process is gone, and a
    // veth's deletion waits for the kernel (15-25 ms) as containers.Delete waits for the engine.
    const dropping = this.ctrd.drop(id);
    const dropped = dropping.catch((e: unknown) =>
      this.s.log.warn('task cleanup failed', { container: id, error: messageOf(e) }),
    );
    const detached = this.s.nets.detachAll(id);
    if (live.io) await Promise.race([live.io.whenDone(), new Promise((res) => setTimeout(res, 5000))]);
    steps.mark('output');
    // An --rm container's task and containerd container are the background half of its removal
    // (removal.ts): nothing can start it again. Any other waits for them, as its next start would.
    const autoRemove = r.HostConfig.AutoRemove && !this.shuttingDown;
    if (!autoRemove) await dropped;
    steps.mark('dropped');
    await detached;
    steps.mark('detached');
    const finished = at ?? new Date();
    const ranMs = finished.getTime() - Date.parse(r.State.StartedAt);
    const restart =
      !this.shuttingDown && !live.exitOnNext && !r.HostConfig.AutoRemove && policyRestarts(r, code, r.ManuallyStopped);
    r.State = {
      ...r.State,
      Status: restart ? 'restarting' : 'exited',
      Pid: 0,
      ExitCode: code,
      FinishedAt: finished.toISOString(),
    };
    if (restart) r.RestartCount++;
    // An --rm container's record is about to go: not written (should berthd die first, its
    // restore finds the task gone and removes it then).
    if (this.m.has(id) && !autoRemove) await this.m.save(r, { durable: false });
    steps.mark('saved');
    this.s.events.emit('container', 'die', id, {
      image: r.ImageRef,
      name: r.Name.slice(1),
      exitCode: String(code),
      execDuration: String(Math.max(0, Math.floor(ranMs / 1000))),
    });
    networkEvents(this.s.events, this.s.nets.nets.list(), r, 'disconnect');
    volumeEvents(this.s.events, r, 'unmount');
    this.s.log.info('container exited', { container: id, exitCode: code, restart });
    for (const w of live.exitWaiters.splice(0)) w(code);
    steps.done();
    if (this.shuttingDown) return;
    if (r.HostConfig.AutoRemove) {
      await this.removeExited(r, dropping).catch(async (e: unknown) => {
        this.s.log.error('auto-remove failed', { container: id, error: messageOf(e) });
        r.State.Status = 'exited';
        if (this.m.has(id)) await this.m.save(r, { durable: false }).catch(() => undefined);
      });
      return;
    }
    if (restart) this.restartLater(r, this.backoff.next(id, ranMs));
  }

  /**
   * containerd reported an OOM kill in the container's cgroup (the init or
   * any other process of it), as dockerd's monitor hears it: OOMKilled stays
   * true until the next start. An event older than the current run is not
   * this run's (the event stream and the task's Wait are not ordered).
   */
  async markOOM(id: string, at: Date): Promise<void> {
    if (!this.m.has(id)) return;
    const r = this.m.get(id);
    const since = this.live.get(id)?.since ?? Date.parse(r.State.StartedAt);
    if (at.getTime() < since || r.State.OOMKilled) return;
    r.State.OOMKilled = true;
    await this.m.save(r);
    this.s.events.emit('container', 'oom', id, { image: r.ImageRef, name: r.Name.slice(1) });
    this.s.log.info('container OOM-killed a process', { container: id });
  }

  /** The policy's restart, after its back-off; a failed start leaves the container exited. */
  private restartLater(r: ContainerRecord, delayMs: number): void {
    const id = r.Id;
    this.s.log.debug('restart scheduled', { container: id, delayMs, restartCount: r.RestartCount });
    this.restartTimers.set(
      id,
      setTimeout(() => {
        this.restartTimers.delete(id);
        this.start(r, false).catch(async (e: unknown) => {
          this.s.log.error('restart failed', { container: id, error: messageOf(e) });
          if (r.State.Status === 'restarting') r.State.Status = 'exited';
          if (this.m.has(id)) await this.m.save(r).catch(() => undefined);
        });
      }, delayMs),
    );
  }

  /**
   * The output stream to attach to: the running process's, or (for a
   * container not started yet, or about to restart) the next start's.
   * Undefined when nothing will come.
   */
  async outputFor(r: ContainerRecord, abort: Promise<void>): Promise<ProcessIO | undefined> {
    const live = this.liveOf(r.Id);
    if (this.running(r) && live.io && !live.io.done) return live.io;
    // Otherwise the next start's (docker run attaches before it starts; docker start -a too).
    let cb: ((io: ProcessIO | undefined) => void) | undefined;
    const next = new Promise<ProcessIO | undefined>((res) => live.pending.push((cb = res)));
    const got = await Promise.race([next, abort.then(() => undefined)]);
    if (!got) live.pending = live.pending.filter((p) => p !== cb);
    return got;
  }

  /** Resolves with the exit code of the next exit. */
  nextExit(r: ContainerRecord): Promise<number> {
    return new Promise((res) => this.liveOf(r.Id).exitWaiters.push(res));
  }

  removed(r: ContainerRecord): Promise<number> {
    return new Promise((res) => this.liveOf(r.Id).removeWaiters.push(res));
  }

  /** dockerd's `kill` event, sent for every signal it delivers: docker kill, stop (and its SIGKILL after the timeout), rm -f. */
  private killEvent(r: ContainerRecord, signal: number): void {
    this.s.events.emit('container', 'kill', r.Id, { image: r.ImageRef, name: r.Name.slice(1), signal: String(signal) });
  }

  async kill(r: ContainerRecord, signal: number, manual = true): Promise<void> {
    if (!this.running(r)) throw wrongState(`Container ${r.Id} is not running`);
    if (manual) {
      r.ManuallyStopped = true;
      // Only the stop signal or SIGKILL cancels the policy's next restart (dockerd's killWithSignal).
      if (signal === 9 || signal === stopSignalOf(r)) this.liveOf(r.Id).exitOnNext = true;
      await this.m.save(r);
    }
    // dockerd's Kill waits for the exit after a SIGKILL (not after other signals): a client that
    // inspects right after `docker kill` sees the container exited with 137, never still running.
    const exited = signal === 9 ? this.nextExit(r) : undefined;
    await this.s.client.tasks.kill(r.Id, signal, { all: false });
    this.killEvent(r, signal);
    // dockerd resumes a paused container after SIGKILL or its stop signal: the signal is delivered (docker
    // kill/stop of a paused container ends it, and it is no longer paused).
    if (r.State.Status === 'paused' && (signal === 9 || signal === stopSignalOf(r))) await this.unpause(r);
    if (exited) await Promise.race([exited, new Promise((res) => setTimeout(res, KILL_WAIT_MS).unref())]);
  }

  async stop(r: ContainerRecord, timeoutS: number | undefined, signal?: string): Promise<void> {
    const t = this.restartTimers.get(r.Id);
    if (t) {
      clearTimeout(t);
      this.restartTimers.delete(r.Id);
      r.ManuallyStopped = true;
      r.State.Status = 'exited';
      await this.m.save(r);
      return;
    }
    if (!this.running(r)) throw new HttpError(304, '');
    // berthd's own stop at shutdown (live-restore off) is not the user's: the policy still applies at the next boot.
    if (!this.shuttingDown) r.ManuallyStopped = true;
    this.liveOf(r.Id).exitOnNext = true;
    await this.m.save(r);
    const exited = this.nextExit(r);
    if (r.State.Status === 'paused') await this.s.client.tasks.resume(r.Id).catch(() => undefined);
    const sig = parseSignal(signal ?? r.Config.StopSignal, 'SIGTERM');
    const timeout = timeoutS ?? r.Config.StopTimeout ?? 10;
    await this.s.client.tasks.kill(r.Id, sig).catch((e: unknown) => {
      if (!isNotFound(e)) throw e;
    });
    this.killEvent(r, sig);
    const timer = new Promise<boolean>((res) => setTimeout(() => res(false), Math.max(timeout, 0) * 1000).unref());
    const gotExit = await Promise.race([exited.then(() => true), ...(timeout < 0 ? [] : [timer])]);
    if (!gotExit) {
      await this.s.client.tasks.kill(r.Id, 9, { all: true }).catch(() => undefined);
      this.killEvent(r, 9);
      await exited;
    }
    this.s.events.emit('container', 'stop', r.Id, { image: r.ImageRef, name: r.Name.slice(1) });
  }

  async pause(r: ContainerRecord): Promise<void> {
    if (r.State.Status === 'paused') throw wrongState(`Container ${r.Id} is already paused`);
    if (r.State.Status !== 'running') throw wrongState(`Container ${r.Id} is not running`);
    await this.s.client.tasks.pause(r.Id);
    await this.health.stop(r.Id);
    r.State.Status = 'paused';
    await this.m.save(r);
    this.s.events.emit('container', 'pause', r.Id, { image: r.ImageRef, name: r.Name.slice(1) });
  }

  async unpause(r: ContainerRecord): Promise<void> {
    if (r.State.Status !== 'paused') throw wrongState(`Container ${r.Id} is not paused`);
    await this.s.client.tasks.resume(r.Id);
    r.State.Status = 'running';
    this.health.resume(r);
    await this.m.save(r);
    this.s.events.emit('container', 'unpause', r.Id, { image: r.ImageRef, name: r.Name.slice(1) });
  }

  async remove(r: ContainerRecord, opts: { force: boolean; volumes: boolean }): Promise<void> {
    if (!opts.force && r.State.Status === 'paused')
      throw wrongState(
        'cannot remove a paused container: unpause and then stop the container before attempting removal or force remove',
      );
    if (!opts.force && r.State.Status === 'restarting')
      throw wrongState(
        'cannot remove a restarting container: stop the container before attempting removal or force remove',
      );
    const t = this.restartTimers.get(r.Id);
    if (t) clearTimeout(t);
    this.restartTimers.delete(r.Id);
    if (this.running(r)) {
      if (!opts.force) {
        throw wrongState(
          `cannot remove container "${r.Name}": container is running: stop the container before removing or force remove`,
        );
      }
      r.ManuallyStopped = true;
      this.liveOf(r.Id).exitOnNext = true;
      const exited = this.nextExit(r);
      if (r.State.Status === 'paused') await this.s.client.tasks.resume(r.Id).catch(() => undefined);
      await this.s.client.tasks.kill(r.Id, 9, { all: true }).catch(() => undefined);
      this.killEvent(r, 9);
      await exited;
    }
    if (r.State.Status === 'removing') {
      await this.live.get(r.Id)?.removal;
      return;
    }
    const steps = new Steps(this.s.log, 'remove', r.Id);
    r.State.Status = 'removing';
    const live = this.liveOf(r.Id);
    let done!: () => void;
    live.removal = new Promise((res) => (done = res));
    try {
      await this.removeNow(r, opts.volumes, steps);
    } finally {
      done();
    }
  }

  private async removeNow(r: ContainerRecord, volumes: boolean, steps: Steps): Promise<void> {
    const live = this.liveOf(r.Id);
    await this.premade.discard(r.Id);
    await this.health.stop(r.Id);
    this.backoff.forget(r.Id);
    if (!this.ctrd.gone(r.Id)) await this.ctrd.drop(r.Id).catch(() => undefined);
    steps.mark('dropped');
    await Promise.all([this.m.forget(r, volumes), rm(this.execRoot(r.Id), { recursive: true, force: true })]);
    steps.done();
    for (const w of live.removeWaiters.splice(0)) w(r.State.ExitCode);
    this.live.delete(r.Id);
    this.ctrd.forget(r.Id);
  }

  /**
   * An --rm container's removal after its exit: what the user sees goes now
   * (the record, durably; the name; the anonymous volumes; destroy), then
   * `wait?condition=removed` answers; the engine's side (`dropping`: the task
   * and the containerd container, then the snapshot and the exec directory)
   * ends in the background (removal.ts), resumed at the next start should
   * berthd die first.
   */
  private async removeExited(r: ContainerRecord, dropping: Promise<void>): Promise<void> {
    if (r.State.Status === 'removing') return; // a docker rm -f got there first
    const id = r.Id;
    const steps = new Steps(this.s.log, 'remove', id);
    r.State.Status = 'removing';
    const live = this.liveOf(id);
    let done!: () => void;
    live.removal = new Promise((res) => (done = res));
    try {
      this.backoff.forget(id);
      await this.m.retire(r, true);
      steps.mark('retired');
      this.removals.finish(id, dropping);
      for (const w of live.removeWaiters.splice(0)) w(r.State.ExitCode);
      this.live.delete(id);
      steps.done();
    } finally {
      done();
    }
  }

  /** The engine's tasks of berthd's namespace by container id, asked for once at start-up (restore()). */
  async taskStates(): Promise<Map<string, TaskState>> {
    const tasks = await this.s.client.tasks.list();
    return new Map(tasks.map((t) => [t.container_id || t.id, t]));
  }

  /** After a berthd restart: adopt what still runs, reap what ended meanwhile. `tasks`: taskStates(). */
  async restore(r: ContainerRecord, tasks: Map<string, TaskState>): Promise<void> {
    if (r.State.Status === 'restarting') {
      // berthd went away while a restart was pending: the policy already said yes.
      r.State.Status = 'exited';
      this.restartLater(r, 0);
      return;
    }
    const task = tasks.get(r.Id);
    if (r.State.Status === 'created' && task?.status === 'CREATED') {
      // made ahead at create (premade.ts), or a start cut short before Tasks.Start: never started, so it goes
      await this.s.client.tasks.delete(r.Id).catch(() => undefined);
      tasks.delete(r.Id);
    }
    if (!this.running(r) && startedMeanwhile(r, task)) {
      // berthd died between the engine's Tasks.Start and the record's save: the start happened
      this.s.log.info('a start that berthd did not see finish: the task runs, adopted', { container: r.Id });
      r.State = { ...r.State, Status: 'running', ExitCode: 0, Error: '', StartedAt: new Date().toISOString() };
    }
    if (!this.running(r) && r.HostConfig.AutoRemove) {
      // as dockerd's boot: an --rm container that does not run (exited while berthd stopped, or never
      // started: the client that would have started it is gone) goes now
      this.s.log.info('auto-remove at boot', { container: r.Id });
      await this.remove(r, { force: true, volumes: true });
      return;
    }
    if (!this.running(r)) {
      // dockerd's boot: the policy decides, the user's stop counting for unless-stopped only.
      const again = r.State.Status === 'exited' && !r.HostConfig.AutoRemove;
      if (again && policyRestarts(r, r.State.ExitCode, r.ManuallyStopped)) {
        this.s.log.info('restart at boot per policy', { container: r.Id, policy: r.HostConfig.RestartPolicy?.Name });
        await this.start(r).catch((e: unknown) =>
          this.s.log.error('restart at boot failed', { container: r.Id, error: messageOf(e) }),
        );
      }
      return;
    }
    const { client } = this.s;
    const proc = task;
    if (!proc) {
      // containerd lost the task (it was restarted too): the container is gone.
      this.s.log.warn('task gone while berthd was down', { container: r.Id });
      await this.onExit(r, 255, null);
      return;
    }
    const live = this.liveOf(r.Id);
    if (proc.status === 'STOPPED') {
      // an OOM kill while berthd was down: no one heard the event, the task's cgroup still counts it
      if (!r.State.OOMKilled && (await cgroupOOMKilled(this.cgroupsPath(r), cgroupV2Only()))) {
        r.State.OOMKilled = true;
        this.s.events.emit('container', 'oom', r.Id, { image: r.ImageRef, name: r.Name.slice(1) });
        this.s.log.info('container OOM-killed a process while berthd was down', { container: r.Id });
      }
      await this.onExit(r, proc.exit_status, dateOf(proc.exited_at));
      return;
    }
    // berth-logger kept writing the log meanwhile; attach gets its live output again.
    // stdin (-i): the shim still reads its FIFO; held again so that attach can write into it
    const stdin = (r.Config.OpenStdin ?? false) && !r.Config.StdinOnce;
    const io = new ProcessIO(fifoPaths(this.execRoot(r.Id), 'init'), { stdin, stderr: false, stdout: false });
    try {
      io.holdOpen();
    } catch (e) {
      this.s.log.warn('stdin FIFO not reopened: attach cannot write to this container', {
        container: r.Id,
        error: messageOf(e),
      });
    }
    await io.connectLogger(this.loggerSocket(r.Id));
    live.io = io;
    r.State.Status = proc.status === 'PAUSED' ? 'paused' : 'running';
    r.State.Pid = proc.pid;
    this.health.init(r);
    live.exited = waitTask(client, r.Id).then(
      (w) => this.onExit(r, w.exit_status, dateOf(w.exited_at)),
      (e: unknown) => this.s.log.error('waiting for the task failed', { container: r.Id, error: messageOf(e) }),
    );
    this.s.log.info('container restored', { container: r.Id, pid: proc.pid });
  }

  /** On SIGTERM: without live-restore, stop every container; with it, leave them running. */
  async shutdown(liveRestore: boolean): Promise<void> {
    this.shuttingDown = true;
    for (const t of this.restartTimers.values()) clearTimeout(t);
    await this.health.stopAll();
    if (!liveRestore) {
      await Promise.all(
        this.m
          .all()
          .filter((r) => this.running(r))
          .map((r) => this.stop(r, undefined).catch(() => undefined)),
      );
    }
    await this.premade.discardAll();
    // removals' clean-ups under way end first (what does not is resumed at the next start)
    await this.removals.settle(5000);
  }
}

/** A FIFO logger whose task never came: a writer that comes and goes is its end of output. */
function endFifoLogger(...fifos: string[]): void {
  for (const f of fifos) {
    try {
      closeSync(openSync(f, fsc.O_WRONLY | fsc.O_NONBLOCK));
    } catch {
      /* no reader left: nothing to end */
    }
  }
}

type TaskState = Awaited<ReturnType<ContainerdClient['tasks']['get']>>;

/** A container recorded as not running whose task the engine runs (a start cut short by a kill of berthd). */
function startedMeanwhile(r: ContainerRecord, task: TaskState | undefined): boolean {
  if (r.State.Status !== 'created' && r.State.Status !== 'exited') return false;
  return task?.status === 'RUNNING' || task?.status === 'PAUSED';
}

function stopSignalOf(r: ContainerRecord): number {
  try {
    return parseSignal(r.Config.StopSignal, 'SIGTERM');
  } catch {
    return 15;
  }
}

/** Docker's init (tini), where the host has it. */
function initBinary(): string {
  for (const p of ['/usr/bin/docker-init', '/usr/libexec/docker/docker-init', '/usr/bin/tini-static']) {
    if (existsSync(p)) return p;
  }
  throw new BerthError('berthd', 'unavailable', 'no docker-init or tini-static binary on this host for --init');
}

export function hostCgroupVersion(): '1' | '2' {
  return cgroupV2Only() ? '2' : '1';
}
