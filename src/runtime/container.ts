// The runtime library: the OCI lifecycle (create, start, run, kill, delete,
// exec, state, list, pause, resume, update, stats). The runc-compatible CLI
// is a thin layer of argument handling over these calls, and the engine calls
// them in-process.

import { release } from 'node:os';
import {
  existsSync,
  realpathSync,
  readFileSync,
  writeFileSync,
  statSync,
  unlinkSync,
  openSync,
  readSync,
  closeSync,
  constants as fsc,
} from 'node:fs';
import { basename, resolve } from 'node:path';
import { BerthError, errnoOf, messageOf } from '../common/errors.js';
import { writeFileAtomicSync } from '../common/atomic.js';
import { sleep } from '../common/sleep.js';
import { Logger, nullLogger } from '../common/log.js';
import { createManager, createWithResources, type CgroupManager } from './cgroups/manager.js';
import { detectLayout, type CgroupLayout } from './cgroups/detect.js';
import { primeAttachLock } from './cgroups/prime.js';
import type { Stats } from './cgroups/stats.js';
import { parseSpecFile } from './spec/validate.js';
import { checkResourceRanges } from './spec/ranges.js';
import type { LinuxDeviceCgroup, LinuxResources, Process, Spec } from './spec/types.js';
import {
  childPlanNeedsPid,
  compileChild,
  compileExecChild,
  compileExecParent,
  compileParent,
  hookState,
  ignoredCapabilities,
  type CgroupHierarchy,
  type CreatePlanInput,
  type HostFacts,
} from './plan/compile.js';
import { InitPool, launch, type InitSpawner, type Launched } from './init/launch.js';
import type { InitChannel } from './init/channel.js';
import { fitPrecloned } from './plan/preclone.js';
import type { PlanOp } from './plan/ops.js';
import { runHooks } from './hooks.js';
import { StateStore, isAlive, validateId, type ContainerRecord, type Status } from './state.js';
import { procStat } from '../common/proc.js';
import { foreignOf, nsIdentity, ownPids, type Ownership } from './own.js';
import { parentMountOf } from './linux/mountinfo.js';
import { mountIdsUnder, unmountAddedUnder } from './hostmounts.js';
import { SIGNALS } from './linux/constants.js';
import { DEFAULT_DEVICE_RULES } from './devices.js';

export interface RuntimeOptions {
  /** State directory, runc's --root. */
  root?: string;
  log?: Logger;
  /**
   * Keep one berth-init started ahead of need after the first create or
   * exec (default true; a one-shot CLI has no use for it). See InitPool.
   */
  spareInit?: boolean;
  /**
   * fsync the state files (default true). berth-engine's state directory is
   * runtime state like containerd's /run (nothing of it outlives a reboot):
   * it passes false, keeping the files atomic for a crash of any process.
   */
  durableState?: boolean;
}

export interface CreateOptions {
  bundle: string;
  pidFile?: string;
  consoleSocket?: string;
  noPivot?: boolean;
  /** runc's --no-new-keyring: keep the runtime's session keyring instead of a new one. */
  noNewKeyring?: boolean;
  preserveFds?: number;
  /** The container's stdio; the caller's own by default. */
  stdio?: ('inherit' | 'ignore' | number)[];
  /** Who starts berth-init (a berth-shim, for the engine); see LaunchOptions.spawn. */
  spawnInit?: InitSpawner;
  /**
   * A berth-init that ran precloneOps() (plan/preclone.ts): used when the
   * plan fits, after `use()`; otherwise `drop()` ends it and `spawnInit`
   * starts one as usual.
   */
  precloned?: { init: InitChannel; use: () => Promise<void>; drop: () => Promise<void>; nullStdin?: boolean };
}

export interface ExecOptions {
  detach?: boolean;
  pidFile?: string;
  consoleSocket?: string;
  preserveFds?: number;
  stdio?: ('inherit' | 'ignore' | number)[];
  spawnInit?: InitSpawner;
  /** Called with the exec process's host pid as soon as berth-init reports it. */
  onPid?: (pid: number) => void;
}

/** The OCI state plus runc's extra fields, as `berth-runc state` prints it. */
export interface StateDocument {
  ociVersion: string;
  id: string;
  pid: number;
  status: Status;
  bundle: string;
  rootfs: string;
  created: string;
  owner: string;
  annotations?: Record<string, string>;
}

export const DEFAULT_ROOT = '/run/berth';

/** The container's stdio when none is given: this process's own fds 0-2, then the `preserved` ones from 3 on. */
function callerStdio(preserved: number): ('inherit' | number)[] {
  return ['inherit', 'inherit', 'inherit', ...Array.from({ length: preserved }, (_, i) => 3 + i)];
}

let hostFacts: HostFacts | undefined;
function host(): HostFacts {
  if (!hostFacts) {
    let apparmor = false;
    try {
      apparmor = readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').trim() === 'Y';
    } catch {
      /* no AppArmor */
    }
    let capLast = 40;
    try {
      capLast = Number(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim());
    } catch {
      /* an old kernel without the file: assume the names we know */
    }
    // /proc/keys is there when the kernel has keyrings (CONFIG_KEYS).
    // mount_setattr(2) came with Linux 5.12.
    const [major = 0, minor = 0] = release()
      .split('.')
      .map((x) => parseInt(x, 10));
    const mountSetattr = major > 5 || (major === 5 && minor >= 12);
    hostFacts = {
      apparmor,
      selinux: existsSync('/sys/fs/selinux/enforce'),
      capLast,
      keyrings: existsSync('/proc/keys'),
      mountSetattr,
    };
  }
  return hostFacts;
}

export function parseSignal(s: string): number {
  const n = Number(s);
  if (Number.isInteger(n) && n > 0 && n < 65) return n;
  const name = s.toUpperCase().startsWith('SIG') ? s.toUpperCase() : `SIG${s.toUpperCase()}`;
  const v = SIGNALS[name];
  if (v === undefined) throw new BerthError('runtime', 'invalid-argument', `unknown signal "${s}"`);
  return v;
}

export class Runtime {
  readonly store: StateStore;
  readonly log: Logger;
  private readonly inits: InitPool;

  constructor(opts: RuntimeOptions = {}) {
    this.store = new StateStore(resolve(opts.root ?? DEFAULT_ROOT), opts.durableState ?? true);
    this.log = opts.log ?? nullLogger;
    this.inits = new InitPool(opts.spareInit ?? true);
  }

  /** Ends the spare berth-init, if any. Containers are not touched. */
  close(): void {
    this.inits.close();
  }

  private manager(rec: Pick<ContainerRecord, 'id' | 'cgroupsPath'>, layout?: CgroupLayout): CgroupManager {
    return createManager({
      cgroupsPath: rec.cgroupsPath,
      containerId: rec.id,
      layout,
      onWarning: (m) => this.log.warn(m),
    });
  }

  status(rec: ContainerRecord): Status {
    // A creator that died before the container process existed made nothing that runs.
    if (!rec.pid)
      return rec.creator && isAlive({ pid: rec.creator.pid, pidStartTime: rec.creator.startTime })
        ? 'creating'
        : 'stopped';
    if (!isAlive(rec)) return 'stopped';
    if (existsSync(this.store.fifo(rec.id))) return 'created';
    try {
      if (this.manager(rec).state() === 'frozen') return 'paused';
    } catch {
      /* no freezer: cannot be paused */
    }
    return 'running';
  }

  stateOf(rec: ContainerRecord): StateDocument {
    const status = this.status(rec);
    const doc: StateDocument = {
      ociVersion: rec.config.ociVersion,
      id: rec.id,
      pid: status === 'stopped' ? 0 : rec.pid,
      status,
      bundle: rec.bundle,
      rootfs: rec.rootfs,
      created: rec.created,
      owner: rec.owner,
    };
    if (rec.config.annotations) doc.annotations = rec.config.annotations;
    return doc;
  }

  state(id: string): StateDocument {
    return this.stateOf(this.store.load(id));
  }

  list(): StateDocument[] {
    const out: StateDocument[] = [];
    for (const id of this.store.ids()) {
      const rec = this.store.tryLoad(id);
      if (rec) out.push(this.stateOf(rec));
    }
    return out;
  }

  private hierarchies(m: CgroupManager, layout: CgroupLayout): CgroupHierarchy[] {
    const paths = m.paths();
    if (m.version === 'v2') return [{ dir: '', fstype: 'cgroup2', data: '', hostPath: paths[''] ?? '' }];
    const byMount = new Map<string, { controllers: string[]; hostPath: string }>();
    for (const [ctrl, hostPath] of Object.entries(paths)) {
      if (ctrl === '') continue;
      const mount = layout.v1[ctrl];
      if (!mount) continue;
      const entry = byMount.get(mount.mountpoint) ?? { controllers: [], hostPath };
      entry.controllers.push(ctrl);
      byMount.set(mount.mountpoint, entry);
    }
    const out: CgroupHierarchy[] = [];
    for (const [mountpoint, e] of byMount) {
      const named = e.controllers.find((c) => c.startsWith('name='));
      out.push({
        dir: basename(mountpoint),
        fstype: 'cgroup',
        data: named ? `none,${named}` : e.controllers.join(','),
        hostPath: e.hostPath,
      });
    }
    if (paths[''] && layout.unified)
      out.push({ dir: basename(layout.unified.mountpoint), fstype: 'cgroup2', data: '', hostPath: paths[''] });
    // Not localeCompare: its first call loads ICU collation data (~40 ms here).
    return out.sort((a, b) => (a.dir < b.dir ? -1 : a.dir > b.dir ? 1 : 0));
  }

  /**
   * `create`: everything up to the exec of the user's program, which waits on
   * exec.fifo for `start`. On any failure nothing is left: no state, no
   * cgroup, no process.
   */
  async create(
    id: string,
    opts: CreateOptions,
    parentMode: CreatePlanInput['parentMode'] = 'exit',
    parsed?: Spec,
  ): Promise<{ rec: ContainerRecord; launched: Launched }> {
    validateId(id);
    const bundle = resolve(opts.bundle);
    // Validate before reserving the id: a bad config leaves nothing at all.
    const spec = parsed ?? parseSpecFile(bundle);
    if (!spec.root?.path)
      throw new BerthError('runtime', 'invalid-argument', 'root.path: required', { field: 'root.path' });
    const rootfs = resolve(bundle, spec.root.path);
    let st;
    try {
      st = statSync(rootfs);
    } catch {
      throw new BerthError('runtime', 'invalid-argument', `root.path: rootfs (${rootfs}) does not exist`, {
        field: 'root.path',
      });
    }
    if (!st.isDirectory())
      throw new BerthError('runtime', 'invalid-argument', `root.path: rootfs (${rootfs}) is not a directory`, {
        field: 'root.path',
      });
    if (!spec.process)
      throw new BerthError('runtime', 'invalid-argument', 'process: required to create a container', {
        field: 'process',
      });
    if (spec.process.terminal && parentMode === 'exit' && !opts.consoleSocket) {
      throw new BerthError(
        'runtime',
        'invalid-argument',
        'process.terminal: cannot allocate a tty without --console-socket when the runtime does not stay attached',
      );
    }
    if (!spec.process.terminal && opts.consoleSocket) {
      throw new BerthError('runtime', 'invalid-argument', '--console-socket: given but process.terminal is false');
    }

    const ignored = ignoredCapabilities(spec.process, host().capLast);
    if (ignored.length) this.log.warn(`ignoring unknown or unavailable capabilities: [${ignored.join(' ')}]`);
    this.store.reserve(id);
    const t0 = performance.now();
    const step = (what: string) =>
      this.log.debug(`create ${id}: ${what}`, { ms: Math.round((performance.now() - t0) * 10) / 10 });
    let mgr: CgroupManager | undefined;
    let pid = 0;
    let own: Ownership | undefined;
    let hostMounts: ContainerRecord['hostMounts'];
    try {
      // berth-init makes the fifo (OPEN_EXEC_FIFO): no process spawned for it.
      const fifo = this.store.fifo(id);
      const layout = detectLayout();
      mgr = this.manager({ id, cgroupsPath: spec.linux?.cgroupsPath }, layout);
      step('cgroup layout read');
      // As runc 1.1: a cgroup that already holds processes is a warning, and
      // those processes are never the container's (own.ts).
      own = { foreign: foreignOf(mgr) };
      if (own.foreign.length > 0)
        this.log.warn(`container's cgroup is not empty: ${own.foreign.length} process(es) found`);
      // Recorded before anything is made: a creator killed from here on
      // leaves a container that `list` shows and `delete` cleans up.
      const self = procStat(process.pid);
      const sharesHostMounts = !spec.linux?.namespaces?.some((n) => n.type === 'mount');
      const realRootfs = realpathSync(rootfs);
      const draft: ContainerRecord = {
        id,
        bundle,
        rootfs,
        pid: 0,
        pidStartTime: '',
        created: new Date().toISOString(),
        owner: '',
        config: spec,
        cgroupsPath: spec.linux?.cgroupsPath,
        cgroupPaths: mgr.paths(),
        rootless: false,
        ...(opts.noNewKeyring ? { noNewKeyring: true } : {}),
        own,
        ...(self ? { creator: { pid: process.pid, startTime: self.startTime } } : {}),
        ...(sharesHostMounts ? { hostMounts: { rootfs: realRootfs, before: mountIdsUnder(realRootfs) } } : {}),
      };
      hostMounts = draft.hostMounts;
      this.store.save(draft);
      await createWithResources(mgr, withDefaultDevices(spec));
      step('cgroups ready');
      const input: CreatePlanInput = {
        id,
        bundle,
        rootfs,
        spec,
        parentMode,
        consoleSocket: opts.consoleSocket ? resolve(opts.consoleSocket) : undefined,
        execFifo: fifo,
        noPivot: !!opts.noPivot,
        newKeyring: !opts.noNewKeyring,
        preserveFds: opts.preserveFds ?? 0,
        cgroupProcs: mgr.procsFiles(),
        cgroupHierarchies: spec.mounts?.some((m) => m.type === 'cgroup' || m.type === 'cgroup2')
          ? this.hierarchies(mgr, layout)
          : [],
        host: host(),
        ...(/shared/.test(spec.linux?.rootfsPropagation ?? '')
          ? { rootfsParentMount: parentMountOf(realRootfs)?.mountpoint }
          : {}),
      };
      let parentOps = compileParent(input);
      let childPrefix: PlanOp[] = [];
      let spawn = opts.spawnInit;
      const pre = opts.precloned;
      const fit = pre && fitPrecloned(parentOps, pre.nullStdin);
      let attached: Promise<void> | undefined;
      if (pre && fit) {
        // The stdio (FIFOs, a logger to start) are joined while the plan runs:
        // nothing of the container writes to them before `start`. Awaited
        // before the create answers; a failure fails it.
        attached = pre.use();
        attached.catch(() => undefined);
        ({ parent: parentOps, childPrefix } = fit);
        spawn = async () => pre.init;
        step('using a berth-init cloned ahead of need');
      } else if (pre) {
        await pre.drop();
      }
      const stdio = opts.stdio ?? callerStdio(opts.preserveFds ?? 0);
      // Pays the kernel's grace period for cgroup.procs writes while
      // berth-init starts, so that its joins are quick (cgroups/prime.ts).
      // Not awaited; after the cgroups are made, since the write holds the
      // cgroup mutex while it waits.
      primeAttachLock(layout, (e) => this.log.debug(`priming the cgroup attach lock: ${messageOf(e)}`));
      const launched = await launch({
        parent: parentOps,
        child: (p) => [...childPrefix, ...compileChild(input, p)],
        childWithoutPid: !childPlanNeedsPid(spec),
        onPid: (p) => {
          pid = p;
          step(`berth-init cloned pid ${p}`);
          // Recorded at once (it dies with berth-init, which dies with us,
          // until berth-init hands it off, after this).
          const ps = procStat(p);
          const ns = nsIdentity(spec, p);
          if (ns) own = { ...own!, ns };
          if (ps) this.store.save({ ...draft, pid: p, pidStartTime: ps.startTime, own });
        },
        stdio,
        untilReady: true,
        pool: this.inits,
        spawn,
        onWarn: (step, msg) => this.log.warn(`${step}: ${msg}`),
        onSync: async (tag, p) => {
          step(`sync ${tag}`);
          if (tag !== 'createRuntime') return;
          const state = hookState(input, 'creating', p);
          await runHooks(spec.hooks?.prestart, 'prestart', state);
          await runHooks(spec.hooks?.createRuntime, 'createRuntime', state);
        },
      });
      pid = launched.pid;
      step('container ready');
      if (attached) {
        await attached;
        step('stdio attached');
      }
      const ps = procStat(pid);
      if (!ps) throw new BerthError('runtime', 'internal', 'container process exited during create');
      const { creator: _creator, ...done } = draft;
      const rec: ContainerRecord = { ...done, pid, pidStartTime: ps.startTime, created: new Date().toISOString(), own };
      this.store.save(rec);
      if (opts.pidFile) writeFileAtomicSync(resolve(opts.pidFile), String(pid));
      step('state saved');
      // The next create's berth-init starts now, while this container runs.
      this.inits.refill();
      return { rec, launched };
    } catch (e) {
      if (pid) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      if (mgr) await this.removeOwn(mgr, own ?? { foreign: [] });
      this.removeHostMounts(hostMounts);
      this.store.remove(id);
      throw e;
    }
  }

  /** The mounts a container without a mount namespace made in the runtime's (hostmounts.ts). */
  private removeHostMounts(hm: ContainerRecord['hostMounts']): void {
    if (!hm) return;
    for (const err of unmountAddedUnder(hm.rootfs, hm.before)) this.log.warn(`cleanup: ${err}`);
  }

  /**
   * SIGKILLs the container's own processes until none is left, then removes
   * its cgroups, unless other processes are in them (a shared cgroupsPath):
   * those are never signalled, and their cgroup stays.
   */
  private async removeOwn(mgr: CgroupManager, own: Ownership | undefined, strict = false): Promise<void> {
    let others = 0;
    for (let i = 0; i < 200; i++) {
      const found = ownPids(mgr, own);
      others = found.others;
      if (found.own.length === 0) break;
      for (const p of found.own)
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          /* gone */
        }
      await sleep(10);
    }
    if (others > 0) {
      this.log.warn(
        `the container's cgroup still holds ${others} process(es) that are not the container's: it is left in place`,
      );
      return;
    }
    if (strict) await mgr.destroy();
    else await mgr.destroy().catch((d) => this.log.warn(`cleanup: ${messageOf(d)}`));
  }

  /** `start`: release a created container into its program, then poststart hooks. */
  async start(id: string): Promise<void> {
    const rec = this.store.load(id);
    const status = this.status(rec);
    if (status === 'stopped')
      throw new BerthError('runtime', 'failed-precondition', 'cannot start a container that has stopped');
    if (status !== 'created')
      throw new BerthError('runtime', 'failed-precondition', `cannot start an already ${status} container`);
    const fifo = this.store.fifo(id);
    const fd = openSync(fifo, fsc.O_RDONLY | fsc.O_NONBLOCK);
    try {
      const buf = Buffer.alloc(1);
      for (let i = 0; ; i++) {
        // Liveness is sampled before the read: a fast program (`true`) can
        // take the fifo, exec and exit between a read and a later check, and
        // its byte is still there to read; only a process that was gone
        // before a read that found nothing never started.
        const alive = i % 50 !== 0 || isAlive(rec);
        try {
          if (readSync(fd, buf, 0, 1, null) === 1) break;
        } catch (e) {
          if (errnoOf(e) !== 'EAGAIN') throw e;
        }
        if (!alive) throw new BerthError('runtime', 'failed-precondition', 'cannot start a container that has stopped');
        // not sleepSync: in berth-engine a start waiting here must not hold every other call
        await sleep(1);
      }
    } finally {
      closeSync(fd);
    }
    unlinkSync(fifo);
    try {
      await runHooks(
        rec.config.hooks?.poststart,
        'poststart',
        hookState({ id: rec.id, bundle: rec.bundle, spec: rec.config }, 'running', rec.pid),
      );
    } catch (e) {
      // The spec: a failing poststart hook is a warning; the container runs on.
      this.log.warn(messageOf(e));
    }
  }

  /**
   * `run`: create and start; in the foreground, wait for the container's exit,
   * delete it and return its exit status (128+N for signal N).
   */
  async run(id: string, opts: CreateOptions & { detach?: boolean }): Promise<number> {
    const spec = parseSpecFile(resolve(opts.bundle));
    this.log.debug(`run ${id}: config.json validated`);
    const mode = opts.detach ? 'exit' : spec.process?.terminal && !opts.consoleSocket ? 'wait-tty' : 'wait';
    const { rec, launched } = await this.create(id, opts, mode, spec);
    const forward = (sig: NodeJS.Signals) => {
      try {
        process.kill(rec.pid, sig);
      } catch {
        /* gone */
      }
    };
    const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];
    if (!opts.detach) for (const s of signals) process.on(s, forward);
    try {
      await this.start(id);
      this.log.debug(`run ${id}: started`);
      if (opts.detach) return 0;
      const code = await launched.exited;
      this.log.debug(`run ${id}: exited with status ${code}`);
      return code;
    } finally {
      if (!opts.detach) {
        for (const s of signals) process.off(s, forward);
        await this.delete(id, true).catch((e) => this.log.warn(`delete after run: ${messageOf(e)}`));
        this.log.debug(`run ${id}: deleted`);
      }
    }
  }

  async kill(id: string, signal: string | number, all = false): Promise<void> {
    const rec = this.store.load(id);
    const sig = typeof signal === 'number' ? signal : parseSignal(signal);
    const status = this.status(rec);
    if (status === 'stopped' || status === 'creating')
      throw new BerthError('runtime', 'failed-precondition', 'container not running');
    if (all) {
      const mgr = this.manager(rec);
      const found = ownPids(mgr, rec.own);
      // cgroup.kill would take every process of the cgroup, not only ours.
      if (sig === 9 && found.others === 0 && mgr.killAll()) return;
      // A frozen process only acts on a signal once thawed (SIGKILL acts anyway).
      for (const p of found.own)
        try {
          process.kill(p, sig);
        } catch {
          /* raced with exit */
        }
      return;
    }
    try {
      process.kill(rec.pid, sig);
    } catch (e) {
      if (errnoOf(e) === 'ESRCH') throw new BerthError('runtime', 'failed-precondition', 'container not running');
      throw e;
    }
  }

  async delete(id: string, force = false): Promise<void> {
    const dirExists = existsSync(this.store.dir(id));
    const rec = this.store.tryLoad(id);
    if (!rec) {
      // Like runc: --force on a container that is already gone succeeds (the
      // containerd shim's cleanup calls `delete --force` after `delete`).
      if (!dirExists) {
        if (force) return;
        throw new BerthError('runtime', 'not-found', `container does not exist: ${id}`);
      }
      // A create that died half-way: only its directory is left.
      this.store.remove(id);
      return;
    }
    const status = this.status(rec);
    if (status === 'creating') {
      throw new BerthError(
        'runtime',
        'failed-precondition',
        `cannot delete container ${id}: it is being created (by process ${rec.creator?.pid})`,
      );
    }
    if ((status === 'running' || status === 'paused') && !force) {
      throw new BerthError(
        'runtime',
        'failed-precondition',
        `cannot delete container ${id} that is not stopped: ${status}`,
      );
    }
    const mgr = this.manager(rec);
    if (status !== 'stopped') {
      if (status === 'paused') await mgr.thaw().catch(() => undefined);
      try {
        process.kill(rec.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
      for (let i = 0; i < 1000 && isAlive(rec); i++) await sleep(5);
    }
    // Without a pid namespace of its own, what the container started
    // outlives its init; and a half-made container has only its cgroups.
    await this.removeOwn(mgr, rec.own, true);
    this.removeHostMounts(rec.hostMounts);
    try {
      await runHooks(
        rec.config.hooks?.poststop,
        'poststop',
        hookState({ id: rec.id, bundle: rec.bundle, spec: rec.config }, 'stopped'),
      );
    } catch (e) {
      this.log.warn(messageOf(e));
    }
    this.store.remove(id);
  }

  /** `exec`: a new process in a running container. Returns its exit status (0 when detached). */
  async exec(id: string, proc: Process, opts: ExecOptions = {}): Promise<number> {
    const rec = this.store.load(id);
    const status = this.status(rec);
    if (status === 'stopped')
      throw new BerthError('runtime', 'failed-precondition', 'cannot exec in a stopped container');
    if (status === 'paused')
      throw new BerthError('runtime', 'failed-precondition', 'cannot exec in a paused container');
    if (proc.terminal && opts.detach && !opts.consoleSocket) {
      throw new BerthError(
        'runtime',
        'invalid-argument',
        '--tty: cannot allocate a tty for a detached process without --console-socket',
      );
    }
    const ignored = ignoredCapabilities(proc, host().capLast);
    if (ignored.length) this.log.warn(`ignoring unknown or unavailable capabilities: [${ignored.join(' ')}]`);
    const layout = detectLayout();
    const mgr = this.manager(rec, layout);
    const input = {
      spec: rec.config,
      id,
      bundle: rec.bundle,
      rootfs: rec.rootfs,
      initPid: rec.pid,
      process: proc,
      parentMode: opts.detach
        ? ('exit' as const)
        : proc.terminal && !opts.consoleSocket
          ? ('wait-tty' as const)
          : ('wait' as const),
      consoleSocket: opts.consoleSocket ? resolve(opts.consoleSocket) : undefined,
      preserveFds: opts.preserveFds ?? 0,
      newKeyring: !rec.noNewKeyring,
      host: host(),
    };
    const stdio = opts.stdio ?? callerStdio(opts.preserveFds ?? 0);
    // As in create: the joins below, once berth-init has cloned, find the lock warm.
    primeAttachLock(layout, (e) => this.log.debug(`priming the cgroup attach lock: ${messageOf(e)}`));
    const launched = await launch({
      parent: compileExecParent(input),
      child: (p) => {
        for (const procs of mgr.procsFiles()) writeFileSync(procs, String(p));
        return compileExecChild(input, p);
      },
      stdio,
      untilReady: false,
      pool: this.inits,
      spawn: opts.spawnInit,
      onPid: opts.onPid,
      onWarn: (step, msg) => this.log.warn(`${step}: ${msg}`),
    });
    this.inits.refill();
    if (opts.pidFile) writeFileAtomicSync(resolve(opts.pidFile), String(launched.pid));
    if (opts.detach) return 0;
    const forward = (sig: NodeJS.Signals) => {
      try {
        process.kill(launched.pid, sig);
      } catch {
        /* gone */
      }
    };
    const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];
    for (const s of signals) process.on(s, forward);
    try {
      return await launched.exited;
    } finally {
      for (const s of signals) process.off(s, forward);
    }
  }

  ps(id: string): number[] {
    const rec = this.store.load(id);
    return ownPids(this.manager(rec), rec.own).own;
  }

  async pause(id: string): Promise<void> {
    const rec = this.store.load(id);
    const status = this.status(rec);
    if (status !== 'running' && status !== 'created')
      throw new BerthError('runtime', 'failed-precondition', `container not running: ${status}`);
    const mgr = this.manager(rec);
    // The freezer takes the whole cgroup: never the processes that are not the container's.
    const { others } = ownPids(mgr, rec.own);
    if (others > 0) {
      throw new BerthError(
        'runtime',
        'failed-precondition',
        `cannot pause container ${id}: its cgroup also holds ${others} process(es) that are not the container's, which the freezer would stop too`,
      );
    }
    await mgr.freeze();
  }

  async resume(id: string): Promise<void> {
    const rec = this.store.load(id);
    if (this.status(rec) !== 'paused') throw new BerthError('runtime', 'failed-precondition', 'container not paused');
    await this.manager(rec).thaw();
  }

  async update(id: string, resources: LinuxResources): Promise<void> {
    checkResourceRanges(resources, (field, message) => {
      throw new BerthError('runtime', 'invalid-argument', `${field}: ${message}`, { field });
    });
    const rec = this.store.load(id);
    if (this.status(rec) === 'stopped') throw new BerthError('runtime', 'failed-precondition', 'container not running');
    await this.manager(rec).set(resources);
    // Keep the recorded config in step so a later `state`/`exec` sees the limits.
    const linux = { ...(rec.config.linux ?? {}) };
    linux.resources = mergeResources(linux.resources ?? {}, resources);
    this.store.save({ ...rec, config: { ...rec.config, linux } });
  }

  stats(id: string): Stats {
    const rec = this.store.load(id);
    if (this.status(rec) === 'stopped') throw new BerthError('runtime', 'failed-precondition', 'container not running');
    return this.manager(rec).stats();
  }

  record(id: string): ContainerRecord {
    return this.store.load(id);
  }
}

/** The config's device rules, then the default devices' (./devices.ts), then those it lists in linux.devices. */
export function withDefaultDevices(spec: Spec): LinuxResources {
  const r = spec.linux?.resources ?? {};
  const listed: LinuxDeviceCgroup[] = (spec.linux?.devices ?? [])
    .filter((d) => d.type === 'c' || d.type === 'b')
    .map((d) => ({ allow: true, type: d.type as 'c' | 'b', major: d.major, minor: d.minor, access: 'rwm' }));
  return { ...r, devices: [...(r.devices ?? []), ...DEFAULT_DEVICE_RULES, ...listed] };
}

function mergeResources(a: LinuxResources, b: LinuxResources): LinuxResources {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    if (v && typeof v === 'object' && !Array.isArray(v))
      out[k] = { ...((a as Record<string, unknown>)[k] ?? {}), ...v };
    else if (v !== undefined) out[k] = v;
  }
  return out;
}

export type { Spec };
