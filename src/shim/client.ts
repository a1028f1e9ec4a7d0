// Talking to one berth-shim over its control socket. Short requests share
// one connection (answered in order); each `wait` has a connection of its
// own (the shim holds a waiting connection's later requests until it
// answers); a plan-mode `spawn` turns its connection into berth-init's plan
// socket.

import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { BerthError, messageOf } from '../common/errors.js';
import { encodeRequest, parseAnswer, type ShimProcess, type ShimState } from './protocol.js';

/** sun_path holds 108 bytes with its NUL. */
export const MAX_SOCKET_PATH = 107;

export interface SpawnStdio {
  /** FIFO paths, or '' for /dev/null. */
  stdin: string;
  stdout: string;
  stderr: string;
  /** A socket path for the pty master (a terminal), or ''. */
  console: string;
  /** Output also appended here in json-file format, or ''. */
  log: string;
}

/** One connection: a line reader and the answers still owed, in order. */
class Conn {
  private buf = '';
  private pending: { verb: string; resolve: (line: string) => void; reject: (e: Error) => void }[] = [];
  private closedError?: Error;

  constructor(
    readonly sock: Socket,
    private readonly what: string,
  ) {
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      this.buf += chunk;
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        this.pending.shift()?.resolve(line);
      }
    });
    const fail = (e?: Error) => {
      this.closedError ??= new BerthError(
        'berth-engine',
        'unavailable',
        `berth-shim ${this.what}: connection closed${e ? `: ${e.message}` : ''}`,
      );
      for (const p of this.pending.splice(0)) p.reject(this.closedError);
    };
    sock.on('error', fail);
    sock.on('close', () => fail());
  }

  /** The next answer line (for answers nobody sent a request for: a spawn's exit). */
  next(verb: string): Promise<string> {
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise((resolve, reject) => this.pending.push({ verb, resolve, reject }));
  }

  async ask<T>(args: (string | number)[]): Promise<T> {
    const verb = String(args[0]);
    const answer = this.next(verb);
    this.sock.write(encodeRequest(args));
    return parseAnswer<T>(verb, await answer);
  }

  /** Stop reading (the socket is someone else's now); bytes past the last line. */
  detach(): string {
    this.sock.removeAllListeners('data');
    this.sock.removeAllListeners('close');
    this.sock.removeAllListeners('error');
    const rest = this.buf;
    this.buf = '';
    return rest;
  }
}

export class ShimClient {
  readonly socketPath: string;
  private shared?: Promise<Conn>;
  private holder?: Conn;
  private readonly open = new Set<Socket>();

  constructor(readonly dir: string) {
    this.socketPath = join(dir, 'shim.sock');
    if (Buffer.byteLength(this.socketPath) > MAX_SOCKET_PATH) {
      throw new BerthError(
        'berth-engine',
        'invalid-argument',
        `shim socket path ${this.socketPath} is longer than ${MAX_SOCKET_PATH} bytes (a unix socket's limit)`,
      );
    }
  }

  private dial(what: string): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const sock = connect(this.socketPath);
      const onError = (e: Error) =>
        reject(
          new BerthError('berth-engine', 'unavailable', `berth-shim at ${this.dir}: ${messageOf(e)}`, { cause: e }),
        );
      sock.once('error', onError);
      sock.once('connect', () => {
        sock.off('error', onError);
        this.open.add(sock);
        sock.on('close', () => this.open.delete(sock));
        resolve(new Conn(sock, what));
      });
    });
  }

  private async conn(): Promise<Conn> {
    if (!this.shared) {
      const p = this.dial('requests');
      this.shared = p;
      p.then(
        (c) => c.sock.on('close', () => this.shared === p && (this.shared = undefined)),
        () => this.shared === p && (this.shared = undefined),
      );
    }
    return await this.shared;
  }

  async request<T>(...args: (string | number)[]): Promise<T> {
    return await (await this.conn()).ask<T>(args);
  }

  state(): Promise<ShimState> {
    return this.request<ShimState>('state');
  }

  register(name: string, pid: number): Promise<ShimProcess> {
    return this.request<ShimProcess>('register', name, pid);
  }

  async kill(name: string, signal: number): Promise<void> {
    await this.request('kill', name, signal);
  }

  async resize(name: string, rows: number, cols: number): Promise<void> {
    await this.request('resize', name, rows, cols);
  }

  async closeStdin(name: string): Promise<void> {
    await this.request('closestdin', name);
  }

  async forget(name: string): Promise<void> {
    await this.request('forget', name);
  }

  async shutdown(): Promise<void> {
    await this.request('shutdown');
  }

  /**
   * Resolves with the cgroup's OOM kill count once it is above `seen` (a
   * connection of its own). `file` is the memory cgroup's v1
   * memory.oom_control or v2 memory.events; the shim is told at once by the
   * kernel (an eventfd, inotify), so the answer comes at the kill.
   */
  async oomWait(file: string, seen: number): Promise<number> {
    const c = await this.dial('oom');
    c.sock.unref(); // a watch never keeps the engine up
    try {
      return (await c.ask<{ oomKills: number }>(['oom', file, seen])).oomKills;
    } finally {
      c.sock.destroy();
    }
  }

  /**
   * Ties a spare shim to this process: the shim ends itself (and removes its
   * directory) when the connection closes before `claim`, so a spare never
   * outlives its engine, however the engine ends.
   */
  async hold(): Promise<void> {
    const c = await this.dial('hold');
    c.sock.unref();
    this.holder = c;
    await c.ask(['hold']);
  }

  /** The spare is a task's shim now: its tie to the engine is released. */
  async claim(): Promise<void> {
    const c = this.holder;
    if (!c) return;
    this.holder = undefined;
    try {
      await c.ask(['claim']);
    } finally {
      c.sock.destroy();
    }
  }

  /** Resolves once the process has exited and its output is copied (a connection of its own). */
  async wait(name: string, verb: 'wait' | 'waitspawn' = 'wait'): Promise<ShimProcess> {
    const c = await this.dial(verb);
    try {
      return await c.ask<ShimProcess>([verb, name]);
    } finally {
      c.sock.destroy();
    }
  }

  /**
   * Runs `argv` under the shim with its connection as fd 3 (berth-init's
   * plan socket). The socket is the caller's from then on.
   */
  async spawnPlan(
    name: string,
    stdio: SpawnStdio | 'spare',
    argv: string[],
  ): Promise<{ pid: number; socket: Socket; early: string }> {
    const c = await this.dial('spawn');
    try {
      const args =
        stdio === 'spare'
          ? spawnArgs(name, 'spare', { stdin: '', stdout: '', stderr: '', console: '', log: '' }, argv)
          : spawnArgs(name, 'plan', stdio, argv);
      const { pid } = await c.ask<{ pid: number }>(args);
      this.open.delete(c.sock);
      return { pid, socket: c.sock, early: c.detach() };
    } catch (e) {
      c.sock.destroy();
      throw e;
    }
  }

  /** Names the FIFOs of a process spawned as a spare ('' : stdin at EOF, output dropped). */
  async attach(name: string, stdio: Pick<SpawnStdio, 'stdin' | 'stdout' | 'stderr'>): Promise<void> {
    await this.request('attach', name, stdio.stdin, stdio.stdout, stdio.stderr);
  }

  /** Runs `argv` under the shim (runc create); `exited` resolves with its exit status. */
  async spawnWait(name: string, stdio: SpawnStdio, argv: string[]): Promise<{ pid: number; exited: Promise<number> }> {
    const c = await this.dial('spawn');
    try {
      const { pid } = await c.ask<{ pid: number }>(spawnArgs(name, 'wait', stdio, argv));
      const exited = c
        .next('spawn')
        .then((line) => parseAnswer<{ status: number }>('spawn', line).status)
        .finally(() => c.sock.destroy());
      return { pid, exited };
    } catch (e) {
      c.sock.destroy();
      throw e;
    }
  }

  /** Closes every connection of ours (the shim and its processes go on). */
  close(): void {
    for (const s of this.open) s.destroy();
    this.open.clear();
    this.shared = undefined;
  }
}

function spawnArgs(name: string, mode: string, s: SpawnStdio, argv: string[]): string[] {
  return ['spawn', name, mode, s.stdin, s.stdout, s.stderr, s.console, s.log, ...argv];
}
