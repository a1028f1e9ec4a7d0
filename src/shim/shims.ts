// The shims of one engine: one directory per task under a root, found again
// after the engine restarts. A directory is named by a hash of the task's key
// (namespace/id), so that its socket path stays short whatever the id; its
// shim.json says whose it is and which process the shim is (pid and start
// time, so that a reused pid is never taken for our shim).

import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../common/atomic.js';
import { BerthError, errnoOf, messageOf } from '../common/errors.js';
import { procStat } from '../common/proc.js';
import { removeTree } from '../common/rmtree.js';
import { ShimClient, MAX_SOCKET_PATH } from './client.js';
import { INIT, type ExitRecord, type ShimState } from './protocol.js';
import { startShim } from './start.js';
import type { InitChannel } from '../runtime/init/channel.js';
import { initBinary } from '../runtime/init/launch.js';
import { spareInit } from './init-channel.js';

export interface ShimRecord {
  /** Whose shim: the engine's task key (namespace/id). */
  key: string;
  shimPid: number;
  /** Field 22 of /proc/<pid>/stat when it started. */
  shimStartTime: string;
  created: string;
  /** What the engine wants back after a restart (runtime, bundle...). */
  meta: Record<string, unknown>;
}

export class ShimHandle {
  readonly client: ShimClient;
  /** A berth-init the spare shim started ahead of need as process INIT (see takeSpareInit). */
  private spareInit?: InitChannel;

  constructor(
    readonly dir: string,
    readonly record: ShimRecord,
  ) {
    this.client = new ShimClient(dir);
  }

  get key(): string {
    return this.record.key;
  }

  /** Given once, by the set that claimed a spare with a berth-init in it. */
  setSpareInit(init: InitChannel): void {
    this.spareInit = init;
  }

  /**
   * The spare berth-init, once: the caller attaches the task's stdio and
   * sends it the plan, or ends it (`dropSpareInit`).
   */
  takeSpareInit(): InitChannel | undefined {
    const i = this.spareInit;
    if (!i?.alive()) return undefined; // a dead one is left for dropSpareInit
    this.spareInit = undefined;
    return i;
  }

  /** Ends the spare berth-init, if any, and frees its name for a process of the caller's. */
  async dropSpareInit(): Promise<void> {
    const i = this.spareInit;
    this.spareInit = undefined;
    if (!i) return;
    i.destroy();
    await this.client.forget(INIT);
  }

  /** The shim process is the one we started and has not exited. */
  alive(): boolean {
    const s = procStat(this.record.shimPid);
    return !!s && s.startTime === this.record.shimStartTime && s.state !== 'Z' && s.state !== 'X';
  }

  /** What the shim says, or undefined when it is gone (crashed, killed). */
  async state(): Promise<ShimState | undefined> {
    if (!this.alive()) return undefined;
    try {
      return await this.client.state();
    } catch (e) {
      if (!this.alive()) return undefined;
      throw e;
    }
  }

  /** The exit the shim recorded for process `name`, if it has exited. */
  readExit(name: string): ExitRecord | undefined {
    let text: string;
    try {
      text = readFileSync(join(this.dir, `${name}.exit`), 'utf8');
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') return undefined;
      throw e;
    }
    const r = JSON.parse(text) as ExitRecord;
    if (!Number.isInteger(r.status) || !Number.isInteger(r.sec)) {
      throw new BerthError(
        'berth-engine',
        'internal',
        `${this.dir}/${name}.exit: not an exit record: ${text.slice(0, 200)}`,
      );
    }
    return r;
  }

  /** A socket path in the shim's directory for process `name`'s pty master. */
  consoleSocket(name: string): string {
    const p = join(this.dir, `${createHash('sha256').update(name).digest('hex').slice(0, 8)}.console`);
    if (Buffer.byteLength(p) > MAX_SOCKET_PATH) {
      throw new BerthError(
        'berth-engine',
        'invalid-argument',
        `console socket path ${p} is longer than ${MAX_SOCKET_PATH} bytes`,
      );
    }
    return p;
  }

  /** Ends the shim (processes still running are left to the caller) and removes its directory. */
  async remove(): Promise<void> {
    if (this.alive()) {
      try {
        await this.client.shutdown();
      } catch {
        // it went away meanwhile: the directory is all that is left
      }
    }
    this.client.close();
    await removeTree(this.dir, 'berth-engine');
  }
}

/** A shim started ahead of need in `<root>/.spare-<random>`, renamed into a task's directory when claimed. */
interface Spare {
  dir: string;
  pid: number;
  startTime: string;
  /** Holds the spare's tie to this process until it is claimed. */
  client: ShimClient;
  /** Its berth-init, started as process INIT_NAME and waiting for a plan. */
  init?: InitChannel;
}

/** When nobody refilled the spare after a claim, it is started this long after it. */
const REFILL_FALLBACK_MS = 200;

export class ShimSet {
  private spare?: Promise<Spare | undefined>;
  private closed = false;

  /**
   * `spare`: keep one shim started ahead of need, so that a task's create
   * does not wait for the shim's start (~6-20 ms here). The shim works in
   * its directory through its cwd and relative names, so renaming the
   * directory into the task's place is all a claim takes.
   */
  constructor(
    readonly root: string,
    /** `durable: false`: shim.json and the shims' exit files are atomic but not fsynced (see AtomicOptions). */
    private readonly opts: { spare?: boolean; durable?: boolean; spareInit?: boolean } = {},
  ) {}

  /** Starts the spare now (off the caller's path), if there is none. */
  refill(): void {
    if (!this.opts.spare || this.spare || this.closed) return;
    if (this.refillTimer) clearTimeout(this.refillTimer);
    this.refillTimer = undefined;
    const dir = join(this.root, `.spare-${randomBytes(6).toString('hex')}`);
    this.spare = (async () => {
      try {
        await mkdir(this.root, { recursive: true, mode: 0o700 });
        await mkdir(dir, { mode: 0o700 });
        const client = await startShim(dir, this.opts);
        await client.hold();
        const pid = Number((await readFile(join(dir, 'shim.pid'), 'utf8')).trim());
        const st = procStat(pid);
        if (!st) throw new Error('spare shim exited');
        // Without one the spare is still a shim started ahead of need.
        const init = this.opts.spareInit
          ? await spareInit(client, INIT, initBinary()).catch(() => undefined)
          : undefined;
        return { dir, pid, startTime: st.startTime, client, init };
      } catch {
        await this.kill(dir);
        await rm(dir, { recursive: true, force: true });
        return undefined;
      }
    })();
  }

  private refillTimer?: NodeJS.Timeout;

  /** Starts the spare in `ms`, unless one is started before. */
  refillLater(ms: number): void {
    if (!this.opts.spare || this.refillTimer) return;
    this.refillTimer = setTimeout(() => {
      this.refillTimer = undefined;
      this.refill();
    }, ms);
    this.refillTimer.unref();
  }

  /** The spare, renamed to `dir`, when one is ready (never waited for). */
  private async claim(dir: string): Promise<Spare | undefined> {
    const pending = this.spare;
    if (!pending) return undefined;
    const ready = await Promise.race([pending, Promise.resolve(null)]);
    if (ready === null) return undefined; // still starting: the caller starts its own
    this.spare = undefined;
    if (!ready) return undefined;
    const s = procStat(ready.pid);
    if (!s || s.startTime !== ready.startTime) {
      ready.init?.destroy();
      await rm(ready.dir, { recursive: true, force: true });
      return undefined;
    }
    // released before the rename: a shim in a task's place is never one that may end itself
    await ready.client.claim();
    await rename(ready.dir, dir);
    return { ...ready, dir };
  }

  /** Ends the spare shim, if any (tasks' shims go on). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.refillTimer) clearTimeout(this.refillTimer);
    const s = await this.spare;
    this.spare = undefined;
    if (s) {
      s.init?.destroy();
      await this.kill(s.dir);
      await rm(s.dir, { recursive: true, force: true });
    }
  }

  dirFor(key: string): string {
    return join(this.root, createHash('sha256').update(key).digest('hex').slice(0, 16));
  }

  /** Starts the shim of task `key`. Fails if that task has a shim directory already. */
  async start(key: string, meta: Record<string, unknown> = {}): Promise<ShimHandle> {
    const dir = this.dirFor(key);
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    if (existsSync(dir))
      throw new BerthError('berth-engine', 'already-exists', `task ${key}: a shim directory exists (${dir})`);
    const spare = await this.claim(dir).catch(() => undefined);
    // Not now: starting a process blocks the engine's event loop for a few
    // ms (fork and exec), which the create under way would wait for. The
    // caller refills at a quieter moment (the engine: once the task started);
    // this is the fallback.
    this.refillLater(REFILL_FALLBACK_MS);
    if (spare) {
      const h = this.record(dir, key, spare.pid, spare.startTime, meta);
      if (spare.init) h.setSpareInit(spare.init);
      return h;
    }
    try {
      await mkdir(dir, { mode: 0o700 });
    } catch (e) {
      if (errnoOf(e) === 'EEXIST')
        throw new BerthError('berth-engine', 'already-exists', `task ${key}: a shim directory exists (${dir})`);
      throw e;
    }
    try {
      await startShim(dir, this.opts);
      const shimPid = Number((await readFile(join(dir, 'shim.pid'), 'utf8')).trim());
      const st = procStat(shimPid);
      if (!st)
        throw new BerthError(
          'berth-engine',
          'internal',
          `berth-shim for ${key} exited right after it started (see ${dir}/shim.log)`,
        );
      return this.record(dir, key, shimPid, st.startTime, meta);
    } catch (e) {
      await this.kill(dir);
      await rm(dir, { recursive: true, force: true });
      throw e;
    }
  }

  private record(
    dir: string,
    key: string,
    shimPid: number,
    shimStartTime: string,
    meta: Record<string, unknown>,
  ): ShimHandle {
    const record: ShimRecord = { key, shimPid, shimStartTime, created: new Date().toISOString(), meta };
    writeFileAtomicSync(join(dir, 'shim.json'), JSON.stringify(record), 0o600, { durable: this.opts.durable });
    return new ShimHandle(dir, record);
  }

  private async kill(dir: string): Promise<void> {
    try {
      const pid = Number(readFileSync(join(dir, 'shim.pid'), 'utf8').trim());
      if (pid > 0) process.kill(pid, 'SIGKILL');
    } catch {
      // never started, or gone
    }
  }

  /**
   * Every shim directory under the root, for an engine that (re)starts: live
   * shims and dead ones alike (the caller reads their exit files). A
   * directory without shim.json is a start that died half-way: removed.
   */
  async recover(onWarning: (msg: string) => void = () => undefined): Promise<ShimHandle[]> {
    if (!existsSync(this.root)) return [];
    const out: ShimHandle[] = [];
    for (const name of readdirSync(this.root)) {
      const dir = join(this.root, name);
      if (name.startsWith('.spare-')) {
        // a spare of an engine that died: never claimed, nothing in it
        await this.kill(dir);
        await rm(dir, { recursive: true, force: true });
        continue;
      }
      let record: ShimRecord;
      try {
        record = JSON.parse(readFileSync(join(dir, 'shim.json'), 'utf8')) as ShimRecord;
      } catch (e) {
        if (errnoOf(e) === 'ENOENT') {
          onWarning(`${dir}: no shim.json (a start interrupted): removed`);
          await this.kill(dir);
          await rm(dir, { recursive: true, force: true });
        } else {
          onWarning(`${dir}: unreadable shim.json: ${messageOf(e)}; left in place`);
        }
        continue;
      }
      out.push(new ShimHandle(dir, record));
    }
    return out;
  }
}
