// docker exec: an extra process in a running container's task (containerd
// tasks Exec), its spec derived from the container's own process (the same
// capabilities, rlimits and no-new-privileges unless --privileged), its stdio
// through FIFOs like the init process's, attached over a hijacked
// connection or detached; the exit code kept for `exec inspect`.

import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import { z } from 'zod';
import { messageOf } from '../../common/errors.js';
import { badRequest, notFound, wrongState } from '../http/errors.js';
import type { Ctx } from '../http/router.js';
import { frames, MULTIPLEXED, RAW } from '../http/stdcopy.js';
import { allCaps } from './caps.js';
import { resolveUser } from './files.js';
import { withProcessRoot } from './pinned.js';
import { fifoPaths, makeFifos, ProcessIO } from './io.js';
import { mergeEnv } from './manager.js';
import type { ContainerRecord } from './record.js';
import type { Runtime } from './runtime.js';
import type { SpecProcess } from './spec.js';

const PROCESS_TYPE = 'types.containerd.io/opencontainers/runtime-spec/1/Process';

const ExecBody = z.looseObject({
  AttachStdin: z.boolean().optional(),
  AttachStdout: z.boolean().optional(),
  AttachStderr: z.boolean().optional(),
  Tty: z.boolean().optional(),
  Cmd: z.array(z.string()).nullish(),
  Env: z.array(z.string()).nullish(),
  WorkingDir: z.string().optional(),
  User: z.string().optional(),
  Privileged: z.boolean().optional(),
  DetachKeys: z.string().optional(),
});
type ExecConfig = z.infer<typeof ExecBody>;

interface ExecRecord {
  id: string;
  container: ContainerRecord;
  cfg: ExecConfig;
  running: boolean;
  exitCode: number | null;
  pid: number;
  started: boolean;
}

export class Execs {
  private readonly execs = new Map<string, ExecRecord>();

  constructor(private readonly rt: Runtime) {
    // An exec stays inspectable until its container goes, as in dockerd; then
    // its record (which holds the container's) goes too.
    rt.m.s.events.subscribe((e) => {
      if (e.Type !== 'container' || e.Action !== 'destroy') return;
      for (const [id, x] of this.execs) if (x.container.Id === e.Actor.ID) this.execs.delete(id);
    });
  }

  async create(r: ContainerRecord, raw: unknown): Promise<string> {
    const p = ExecBody.safeParse(raw ?? {});
    if (!p.success)
      throw badRequest(`invalid exec config: ${p.error.issues[0]!.path.join('.')}: ${p.error.issues[0]!.message}`);
    if (r.State.Status === 'paused') throw wrongState(`Container ${r.Id} is paused, unpause the container before exec`);
    if (r.State.Status !== 'running') throw wrongState(`Container ${r.Id} is not running`);
    if (!p.data.Cmd?.length) throw badRequest('No exec command specified', 'Cmd');
    const id = randomBytes(32).toString('hex');
    this.execs.set(id, { id, container: r, cfg: p.data, running: false, exitCode: null, pid: 0, started: false });
    this.rt.m.s.events.emit('container', `exec_create: ${p.data.Cmd.join(' ')}`, r.Id, { execID: id });
    return id;
  }

  /** The ids of `containerId`'s execs that have not ended (created, or running): inspect's ExecIDs. */
  pendingOf(containerId: string): string[] {
    return [...this.execs.values()]
      .filter((x) => x.container.Id === containerId && x.exitCode === null)
      .map((x) => x.id);
  }

  get(id: string): ExecRecord {
    const e = this.execs.get(id);
    if (!e) throw notFound(`No such exec instance: ${id}`);
    return e;
  }

  inspect(id: string): Record<string, unknown> {
    const e = this.get(id);
    const [entrypoint, ...args] = e.cfg.Cmd ?? [];
    return {
      ID: e.id,
      Running: e.running,
      ExitCode: e.exitCode,
      ProcessConfig: {
        tty: e.cfg.Tty ?? false,
        entrypoint,
        arguments: args,
        privileged: e.cfg.Privileged ?? false,
        // omitempty in dockerd's ExecProcessConfig
        ...(e.cfg.User ? { user: e.cfg.User } : {}),
      },
      OpenStdin: e.cfg.AttachStdin ?? false,
      OpenStderr: e.cfg.AttachStderr ?? false,
      OpenStdout: e.cfg.AttachStdout ?? false,
      CanRemove: false,
      ContainerID: e.container.Id,
      DetachKeys: '',
      Pid: e.pid,
    };
  }

  private async baseProcess(r: ContainerRecord): Promise<SpecProcess> {
    const live = this.rt.liveOf(r.Id);
    if (live.process) return live.process;
    // berthd restarted since the container started: the spec is in containerd.
    const c = await this.rt.m.s.client.containers.get(r.Id);
    const spec = JSON.parse(c.spec?.value.toString('utf8') ?? '{}') as { process: SpecProcess };
    live.process = spec.process;
    return spec.process;
  }

  async start(ctx: Ctx, id: string, raw: unknown): Promise<void> {
    const e = this.get(id);
    if (e.started) throw wrongState(`Error: Exec command ${id} has already run`);
    const r = e.container;
    if (r.State.Status !== 'running') throw wrongState(`Container ${r.Id} is not running`);
    const body = (raw ?? {}) as { Detach?: boolean; Tty?: boolean };
    const detach = body.Detach ?? false;
    // The process gets a terminal when the create asked for one; the stream's framing follows the
    // start's Tty, as in dockerd: a tty exec started without Tty comes as stdout frames (docker-py's
    // exec_start(tty=False) demultiplexes them), a plain one started with Tty comes raw.
    const tty = e.cfg.Tty ?? false;
    const rawOut = body.Tty ?? false;
    // dockerd answers an attached start that fails from here on inside the stream: the message on
    // stdout and exit code 126 for the client's inspect (docker exec exits 126), not an HTTP error.
    const failed = (err: unknown): void => {
      e.started = true;
      e.exitCode = 126;
      if (detach) throw err;
      const hij = ctx.hijack(rawOut ? RAW : MULTIPLEXED);
      const msg = Buffer.from(messageOf(err) + '\r\n');
      hij.output.write(rawOut ? msg : frames(1, msg)[0]!);
      hij.end();
    };
    let base: SpecProcess;
    let user: SpecProcess['user'];
    try {
      base = await this.baseProcess(r);
      user = e.cfg.User ? await resolveUser(e.cfg.User, (fn) => withProcessRoot(r.State.Pid, r.Id, fn)) : base.user;
    } catch (err) {
      return failed(err);
    }
    const caps = e.cfg.Privileged ? allCaps() : undefined;
    const proc: SpecProcess = {
      ...base,
      terminal: tty,
      args: e.cfg.Cmd ?? [],
      env: mergeEnv(base.env, e.cfg.Env ?? []),
      cwd: e.cfg.WorkingDir || base.cwd,
      user: {
        uid: user.uid,
        gid: user.gid,
        ...('additionalGids' in user && user.additionalGids?.length ? { additionalGids: user.additionalGids } : {}),
      },
      ...(caps ? { capabilities: { bounding: caps, effective: caps, permitted: caps } } : {}),
    };
    const dir = join(this.rt.m.s.cfg.execRoot, r.Id);
    const paths = fifoPaths(dir, id.slice(0, 16));
    const stdin = (e.cfg.AttachStdin ?? false) && !detach;
    await makeFifos(dir, [paths.stdout, ...(tty ? [] : [paths.stderr]), ...(stdin ? [paths.stdin] : [])]);
    const io = new ProcessIO(paths, { stdin, stderr: !tty });
    const { tasks } = this.rt.m.s.client;
    e.started = true;
    io.holdOpen();
    try {
      await tasks.exec({
        container_id: r.Id,
        exec_id: id,
        stdin: stdin ? paths.stdin : '',
        stdout: paths.stdout,
        stderr: tty ? '' : paths.stderr,
        terminal: tty,
        spec: { type_url: PROCESS_TYPE, value: Buffer.from(JSON.stringify(proc)) },
      });
    } catch (err) {
      io.release();
      await rm(dir + `/${id.slice(0, 16)}-stdout`, { force: true });
      return failed(err);
    }
    const waited = tasks.wait(r.Id, id);
    waited.catch(() => undefined); // a failed start is reported below, not as an unhandled rejection
    let hij: ReturnType<Ctx['hijack']> | undefined;
    const want = { stdout: e.cfg.AttachStdout ?? true, stderr: e.cfg.AttachStderr ?? true };
    if (!detach) {
      hij = ctx.hijack(rawOut ? RAW : MULTIPLEXED);
      const out = hij.output;
      io.subscribe((s, d) => {
        if ((s === 1 && !want.stdout) || (s === 2 && !want.stderr) || out.destroyed) return;
        if (rawOut) out.write(d);
        else for (const f of frames(s, d)) out.write(f);
      });
    }
    try {
      // The shim opens its ends of an exec's FIFOs at Start (of the init process's at Create).
      const started = tasks.start(r.Id, id);
      e.pid = await started;
      io.startReading();
      e.running = true;
    } catch (err) {
      e.exitCode = 126;
      io.release();
      await tasks.deleteProcess(r.Id, id).catch(() => undefined);
      if (hij) {
        const msg = Buffer.from(messageOf(err) + '\r\n');
        hij.output.write(rawOut ? msg : frames(1, msg)[0]!);
        hij.end();
        return;
      }
      throw err;
    }
    if (hij && stdin) {
      // Only now: the shim has its end of the FIFO open, so our EOF cannot drop buffered input.
      const sink = io.stdin();
      sink?.on('error', () => undefined);
      hij.input.on('data', (d: Buffer) => sink?.write(d));
      hij.input.on('end', () => {
        // EOF reaches the process when no writer is left on the FIFO: ours, and the hold.
        // ...then the shim's stdin, once our bytes are in the FIFO (dockerd's
        // order): a CloseIO that overtakes them would drop them.
        const closed = () => {
          io.closeStdin();
          tasks.closeStdin(r.Id, id).catch(() => undefined);
        };
        if (sink) sink.end(closed);
        else closed();
      });
    }
    this.rt.m.s.events.emit('container', `exec_start: ${(e.cfg.Cmd ?? []).join(' ')}`, r.Id, { execID: id });
    if (detach) ctx.send(200, undefined);
    const finished = waited.then(async (w) => {
      await Promise.race([io.whenDone(), new Promise((res) => setTimeout(res, 2000))]);
      e.exitCode = w.exit_status;
      e.running = false;
      await tasks.deleteProcess(r.Id, id).catch(() => undefined);
      this.rt.m.s.events.emit('container', 'exec_die', r.Id, { execID: id, exitCode: String(w.exit_status) });
    });
    if (hij) {
      await finished.catch(() => undefined);
      hij.end();
    }
  }

  /** Resize is accepted for a running tty exec (containerd ResizePty). */
  async resize(id: string, q: URLSearchParams): Promise<void> {
    const e = this.get(id);
    const w = Number(q.get('w') ?? 0);
    const h = Number(q.get('h') ?? 0);
    if (!e.running) throw wrongState(`Exec ${id} is not running`);
    await this.rt.m.s.client.tasks.resize(e.container.Id, id, w, h);
  }
}
