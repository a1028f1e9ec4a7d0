// Healthchecks as dockerd runs them (daemon/health.go): one monitor per
// running container with a CMD or CMD-SHELL test; each probe is an exec in
// the container's task through containerd's Tasks API (the container's
// user, workdir and environment, no tty), its stdout and stderr kept up to
// 4096 bytes ("..." when cut), killed with SIGKILL when it outlives the
// timeout. The result moves State.Health between starting, healthy and
// unhealthy (retries, start period, start interval), keeps the last 5
// results, and a change of status is a `health_status: <status>` event.
// The monitor stops with the container (and while it is paused) and starts
// again, reset to "starting", at every start and after a berthd restart.

import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { messageOf } from '../../common/errors.js';
import { resolveUser } from './files.js';
import { withProcessRoot } from './pinned.js';
import { DEFAULTS, goDuration, probeArgv } from './healthcheck.js';
import { fifoPaths, makeFifos, ProcessIO } from './io.js';
import type { ContainerRecord, HealthResult } from './record.js';
import type { ContainerManager } from './manager.js';
import type { SpecProcess } from './spec.js';

const PROCESS_TYPE = 'types.containerd.io/opencontainers/runtime-spec/1/Process';
const MAX_OUTPUT = 4096;
const MAX_LOG = 5;
/** dockerd gives up on an exec that has not even started after this long. */
const START_LIMIT_MS = 30_000;
/** How long a stop waits for the probe in flight to end. */
const STOP_WAIT_MS = 5_000;

interface Monitor {
  stopped: boolean;
  timer?: NodeJS.Timeout;
  /** The probe in flight: resolves once it has ended (killed or not). */
  probe?: Promise<void>;
  abort?: () => void;
}

/** What the runtime said (containerd's own words, as dockerd records them), without berthd's "Tasks.Start:" prefix. */
function runtimeWords(e: unknown): string {
  const details = (e as { cause?: { details?: unknown } }).cause?.details;
  return typeof details === 'string' && details ? details : messageOf(e);
}

/** Bytes up to 4096, then "..." (dockerd's limitedBuffer). */
class Limited {
  private readonly parts: Buffer[] = [];
  private size = 0;
  private cut = false;
  write(d: Buffer): void {
    const keep = Math.min(MAX_OUTPUT - this.size, d.length);
    if (keep > 0) {
      this.parts.push(d.subarray(0, keep));
      this.size += keep;
    }
    if (keep < d.length) this.cut = true;
  }
  toString(): string {
    return Buffer.concat(this.parts).toString('utf8') + (this.cut ? '...' : '');
  }
}

/** What the monitors need of the runtime (an interface, so that runtime.ts can own them without a cycle). */
export interface HealthHost {
  readonly m: Pick<ContainerManager, 's' | 'save'>;
  liveOf(id: string): { process?: SpecProcess };
}

export class HealthMonitors {
  private readonly monitors = new Map<string, Monitor>();

  constructor(private readonly rt: HealthHost) {}

  private get s() {
    return this.rt.m.s;
  }

  private argv(r: ContainerRecord): string[] | undefined {
    return probeArgv(r.Config.Healthcheck, r.Config.Shell ?? undefined);
  }

  /** At a start, a restart or a restore: Health reset to "starting" and probing begins. */
  init(r: ContainerRecord): void {
    if (!this.argv(r)) return;
    this.stop(r.Id).catch(() => undefined);
    r.State.Health = { Status: 'starting', FailingStreak: 0, Log: r.State.Health?.Log ?? [] };
    this.resume(r);
  }

  /** Probing (again) without a reset: after unpause. */
  resume(r: ContainerRecord): void {
    if (!this.argv(r) || !r.State.Health || r.State.Status !== 'running' || this.monitors.has(r.Id)) return;
    const mon: Monitor = { stopped: false };
    this.monitors.set(r.Id, mon);
    this.schedule(r, mon);
  }

  /** With the container's exit, a pause, a removal, or berthd's shutdown: the probe in flight is killed. */
  stop(id: string): Promise<void> {
    const mon = this.monitors.get(id);
    if (!mon) return Promise.resolve();
    this.monitors.delete(id);
    mon.stopped = true;
    clearTimeout(mon.timer);
    mon.abort?.();
    // The killed probe ends at once; the bound keeps a wedged runtime from holding up the container's exit.
    const bound = new Promise<void>((res) => setTimeout(res, STOP_WAIT_MS).unref());
    return mon.probe ? Promise.race([mon.probe, bound]) : Promise.resolve();
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.monitors.keys()].map((id) => this.stop(id)));
  }

  private interval(r: ContainerRecord): number {
    const hc = r.Config.Healthcheck ?? {};
    const probeInterval = hc.Interval || DEFAULTS.interval;
    const startInterval = hc.StartInterval || DEFAULTS.startInterval;
    const startPeriod = hc.StartPeriod || DEFAULTS.startPeriod;
    const elapsed = (Date.now() - Date.parse(r.State.StartedAt)) * 1e6;
    if (elapsed >= startPeriod) return probeInterval;
    // The first probe after the start period comes at its end, not an interval later.
    const remaining = startPeriod - elapsed;
    if (remaining < probeInterval) return remaining;
    return r.State.Health?.Status === 'starting' ? startInterval : probeInterval;
  }

  private schedule(r: ContainerRecord, mon: Monitor): void {
    if (mon.stopped) return;
    mon.timer = setTimeout(
      () => {
        mon.probe = this.probeOnce(r, mon)
          .catch((e: unknown) => this.s.log.warn('health check failed', { container: r.Id, error: messageOf(e) }))
          .finally(() => {
            mon.probe = undefined;
            mon.abort = undefined;
            this.schedule(r, mon);
          });
      },
      Math.max(1, Math.round(this.interval(r) / 1e6)),
    );
  }

  private async probeOnce(r: ContainerRecord, mon: Monitor): Promise<void> {
    const start = new Date();
    let result: HealthResult;
    try {
      result = await this.run(r, mon);
    } catch (e) {
      result = { Start: '', End: new Date().toISOString(), ExitCode: -1, Output: runtimeWords(e) };
    }
    result.Start = start.toISOString();
    if (mon.stopped) return; // stopped while probing: the result is dropped, as dockerd drops it
    this.record(r, result, start);
  }

  /** dockerd's handleProbeResult. */
  private record(r: ContainerRecord, res: HealthResult, start: Date): void {
    const h = r.State.Health;
    if (!h) return;
    const hc = r.Config.Healthcheck ?? {};
    const retries = hc.Retries && hc.Retries > 0 ? hc.Retries : DEFAULTS.retries;
    const old = h.Status;
    h.Log = [...h.Log, res].slice(-MAX_LOG);
    if (res.ExitCode === 0) {
      h.FailingStreak = 0;
      h.Status = 'healthy';
    } else {
      // Failures inside the start period do not count while the container has never been healthy.
      const startPeriod = hc.StartPeriod || DEFAULTS.startPeriod;
      const counts = h.Status !== 'starting' || (start.getTime() - Date.parse(r.State.StartedAt)) * 1e6 >= startPeriod;
      if (counts) {
        h.FailingStreak++;
        if (h.FailingStreak >= retries) h.Status = 'unhealthy';
      }
    }
    this.s.log.debug('health check done', { container: r.Id, exitCode: res.ExitCode, status: h.Status });
    if (old !== h.Status) {
      this.s.events.emit('container', `health_status: ${h.Status}`, r.Id, {
        image: r.ImageRef,
        name: r.Name.slice(1),
      });
      this.s.log.info('health status changed', { container: r.Id, from: old, to: h.Status });
      this.rt.m
        .save(r)
        .catch((e: unknown) => this.s.log.warn('health state not saved', { container: r.Id, error: messageOf(e) }));
    }
  }

  private async baseProcess(r: ContainerRecord): Promise<SpecProcess> {
    const live = this.rt.liveOf(r.Id);
    if (live.process) return live.process;
    const c = await this.s.client.containers.get(r.Id);
    const spec = JSON.parse(c.spec?.value.toString('utf8') ?? '{}') as { process: SpecProcess };
    live.process = spec.process;
    return spec.process;
  }

  /** One probe: exec, collect, wait with the timeout; the exec is always deleted. */
  private async run(r: ContainerRecord, mon: Monitor): Promise<HealthResult> {
    const argv = this.argv(r)!;
    const hc = r.Config.Healthcheck ?? {};
    const timeoutNs = hc.Timeout || DEFAULTS.timeout;
    const base = await this.baseProcess(r);
    const user = r.Config.User
      ? await resolveUser(r.Config.User, (fn) => withProcessRoot(r.State.Pid, r.Id, fn))
      : { uid: base.user.uid, gid: base.user.gid, additionalGids: base.user.additionalGids ?? [] };
    const proc: SpecProcess = {
      ...base,
      terminal: false,
      args: argv,
      cwd: r.Config.WorkingDir || base.cwd,
      user: {
        uid: user.uid,
        gid: user.gid,
        ...(user.additionalGids?.length ? { additionalGids: user.additionalGids } : {}),
      },
    };
    const execId = randomBytes(32).toString('hex');
    const dir = join(this.s.cfg.execRoot, r.Id);
    const paths = fifoPaths(dir, `health-${execId.slice(0, 12)}`);
    await makeFifos(dir, [paths.stdout, paths.stderr]);
    const io = new ProcessIO(paths, { stdin: false, stderr: true });
    const out = new Limited();
    io.subscribe((_s, d) => out.write(d));
    const { tasks } = this.s.client;
    const cmd = argv.join(' ');
    const attrs = { execID: execId, image: r.ImageRef, name: r.Name.slice(1) };
    this.s.events.emit('container', `exec_create: ${cmd}`, r.Id, attrs);
    io.holdOpen();
    let created = false;
    try {
      await tasks.exec({
        container_id: r.Id,
        exec_id: execId,
        stdin: '',
        stdout: paths.stdout,
        stderr: paths.stderr,
        terminal: false,
        spec: { type_url: PROCESS_TYPE, value: Buffer.from(JSON.stringify(proc)) },
      });
      created = true;
      const waited = tasks.wait(r.Id, execId);
      waited.catch(() => undefined);
      let startTimer: NodeJS.Timeout | undefined;
      const startLimit = new Promise<never>((_res, rej) => {
        startTimer = setTimeout(
          () => rej(new Error(`timed out starting health check for container ${r.Id}`)),
          START_LIMIT_MS,
        );
      });
      try {
        await Promise.race([tasks.start(r.Id, execId), startLimit]);
      } finally {
        clearTimeout(startTimer);
      }
      io.startReading();
      this.s.events.emit('container', `exec_start: ${cmd}`, r.Id, attrs);
      // From here the probe's own time counts: the timeout, or a stop of the monitor, kills it.
      let timedOut = false;
      const kill = () => void tasks.kill(r.Id, 9, { execId }).catch(() => undefined);
      mon.abort = kill;
      const timer = setTimeout(
        () => {
          timedOut = true;
          kill();
        },
        Math.max(1, Math.round(timeoutNs / 1e6)),
      );
      const w = await waited;
      clearTimeout(timer);
      await Promise.race([io.whenDone(), new Promise((res) => setTimeout(res, 2000))]);
      this.s.events.emit('container', 'exec_die', r.Id, { ...attrs, exitCode: String(w.exit_status) });
      const output = out.toString();
      if (timedOut) {
        const limit = goDuration(timeoutNs);
        return {
          Start: '',
          End: new Date().toISOString(),
          ExitCode: -1,
          Output: output
            ? `Health check exceeded timeout (${limit}): ${output}`
            : `Health check exceeded timeout (${limit})`,
        };
      }
      return { Start: '', End: new Date().toISOString(), ExitCode: w.exit_status, Output: output };
    } finally {
      io.release();
      if (created) await tasks.deleteProcess(r.Id, execId).catch(() => undefined);
      await rm(paths.stdout, { force: true });
      await rm(paths.stderr, { force: true });
    }
  }
}
