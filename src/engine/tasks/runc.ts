// A runc-compatible binary (runc, crun, berth-runc) as a task's backend, for
// io.containerd.runc.v2 with BinaryName (`ctr run --runc-binary`, dockerd's
// runtimes): `create` and `exec` run under the task's shim (so the container
// and exec processes are the shim's children, re-parented when runc exits),
// the other verbs from the engine. runc's own error words (its JSON log)
// reach the client.

import { execFile } from 'node:child_process';
import { accessSync, constants, readFileSync, writeFileSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { BerthError, messageOf } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import { emptyStats, type Stats } from '../../runtime/cgroups/stats.js';
import type { LinuxResources, Process } from '../../runtime/spec/types.js';
import { execName, spawnStdio, type ProcessIO } from '../../shim/container.js';
import { INIT } from '../../shim/protocol.js';
import type { ShimHandle } from '../../shim/shims.js';
import type { Backend } from './backend.js';
import { oomFileOf, oomKillCount } from './berth.js';
import { RuntimeFailure } from '../status.js';

function findBinary(name: string): string {
  const candidates =
    isAbsolute(name) || name.includes('/')
      ? [name]
      : (process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin')
          .split(delimiter)
          .map((d) => join(d, name));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // next
    }
  }
  throw new BerthError(
    'berth-engine',
    'invalid-argument',
    `BinaryName: runtime binary "${name}" not found or not executable`,
    { field: 'options.BinaryName' },
  );
}

/** The last error runc wrote to its --log (JSON lines), else the fallback. */
function runcError(log: string, fallback: string): string {
  try {
    const lines = readFileSync(log, 'utf8').trim().split('\n').reverse();
    for (const l of lines) {
      const o = JSON.parse(l) as { level?: string; msg?: string };
      if (o.level === 'error' || o.level === 'fatal') return o.msg ?? fallback;
    }
  } catch {
    // no log
  }
  return fallback;
}

export class RuncBackend implements Backend {
  private readonly bin: string;

  constructor(
    binary: string,
    private readonly root: string,
    private readonly log: Logger,
  ) {
    this.bin = findBinary(binary);
  }

  private run(args: string[], input?: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const child = execFile(
        this.bin,
        ['--root', this.root, ...args],
        { encoding: 'utf8', maxBuffer: 16 << 20 },
        (err, out, stderr) => {
          if (!err) return resolve(out);
          const words = stderr.trim().split('\n').pop() || messageOf(err);
          reject(
            new BerthError('berth-engine', 'failed-precondition', `${this.bin} ${args[0]}: ${words}`, { cause: err }),
          );
        },
      );
      if (input !== undefined) child.stdin?.end(input);
    });
  }

  /** Runs `runc <args>` under the shim as process `name`, then registers the pid it wrote. */
  private async underShim(
    shim: ShimHandle,
    name: string,
    io: ProcessIO,
    args: (pidFile: string, console: string) => string[],
  ): Promise<number> {
    const stdio = spawnStdio(shim, name, io);
    const pidFile = join(shim.dir, `${name}.pid`);
    const log = join(shim.dir, `${name}.runc.log`);
    const argv = [this.bin, '--root', this.root, '--log', log, '--log-format', 'json', ...args(pidFile, stdio.console)];
    try {
      const { exited } = await shim.client.spawnWait(name, stdio, argv);
      const status = await exited;
      if (status !== 0)
        throw new RuntimeFailure(
          // containerd's words, which dockerd and scripts look for
          `${name === INIT ? 'failed to create shim task: ' : ''}OCI runtime ${args(pidFile, stdio.console)[0]} failed: ${runcError(log, `${this.bin}: exit status ${status}`)}`,
        );
      const pid = Number(readFileSync(pidFile, 'utf8').trim());
      await shim.client.register(name, pid);
      return pid;
    } catch (e) {
      await shim.client.forget(name).catch(() => undefined);
      throw e;
    }
  }

  async create(id: string, bundle: string, shim: ShimHandle, io: ProcessIO): Promise<number> {
    // a berth-init the shim started ahead of need is no use to runc
    await shim.dropSpareInit();
    return await this.underShim(shim, INIT, io, (pidFile, console) => [
      'create',
      '--bundle',
      bundle,
      '--pid-file',
      pidFile,
      ...(console ? ['--console-socket', console] : []),
      id,
    ]);
  }

  async start(id: string): Promise<void> {
    await this.run(['start', id]);
  }

  exec(id: string, shim: ShimHandle, execId: string, proc: Process, io: ProcessIO): Promise<number> {
    const name = execName(execId);
    const procFile = join(shim.dir, `${name}.process.json`);
    writeFileSync(procFile, JSON.stringify(proc), { mode: 0o600 });
    return this.underShim(shim, name, io, (pidFile, console) => [
      'exec',
      '--process',
      procFile,
      '--detach',
      '--pid-file',
      pidFile,
      ...(console ? ['--console-socket', console] : []),
      id,
    ]);
  }

  async killAll(id: string, signal: number): Promise<void> {
    await this.run(['kill', '--all', id, String(signal)]);
  }

  async pause(id: string): Promise<void> {
    await this.run(['pause', id]);
  }

  async resume(id: string): Promise<void> {
    await this.run(['resume', id]);
  }

  /** runc's cgroup paths, from its state file (<root>/<id>/state.json), without running runc. */
  cgroupPaths(id: string): Record<string, string> {
    try {
      const st = JSON.parse(readFileSync(join(this.root, id, 'state.json'), 'utf8')) as {
        cgroup_paths?: Record<string, string>;
      };
      return st.cgroup_paths ?? {};
    } catch {
      return {};
    }
  }

  paused(id: string): boolean {
    // read from the freezer, as runc's own `state` does, but without a process per call
    const paths = this.cgroupPaths(id);
    try {
      if (paths.freezer) return readFileSync(`${paths.freezer}/freezer.state`, 'utf8').trim() === 'FROZEN';
      if (paths['']) return readFileSync(`${paths['']}/cgroup.freeze`, 'utf8').trim() === '1';
    } catch {
      // gone: not paused
    }
    return false;
  }

  async pids(id: string): Promise<number[]> {
    return JSON.parse(await this.run(['ps', '--format', 'json', id])) as number[];
  }

  async stats(id: string): Promise<Stats> {
    const out = await this.run(['events', '--stats', id]);
    return normalize((JSON.parse(out) as { data?: Partial<Stats> }).data ?? {});
  }

  async update(id: string, resources: LinuxResources): Promise<void> {
    await this.run(['update', '--resources', '-', id], JSON.stringify(resources));
  }

  oomKills(id: string): number {
    return oomKillCount(this.cgroupPaths(id));
  }

  oomFile(id: string): string | undefined {
    return oomFileOf(this.cgroupPaths(id));
  }

  async delete(id: string): Promise<void> {
    await this.run(['delete', '--force', id]);
    this.log.debug('runc delete', { container: id, binary: this.bin });
  }
}

/** runc leaves out what is empty (omitempty): fill it in so every field is there. */
function normalize(d: Partial<Stats>): Stats {
  const e = emptyStats();
  return {
    cpu: { usage: { ...e.cpu.usage, ...d.cpu?.usage }, throttling: { ...e.cpu.throttling, ...d.cpu?.throttling } },
    cpuset: { ...e.cpuset, ...d.cpuset },
    memory: {
      cache: d.memory?.cache ?? 0,
      usage: { ...e.memory.usage, ...d.memory?.usage },
      swap: { ...e.memory.swap, ...d.memory?.swap },
      kernel: { ...e.memory.kernel, ...d.memory?.kernel },
      kernelTCP: { ...e.memory.kernelTCP, ...d.memory?.kernelTCP },
      raw: { ...d.memory?.raw },
    },
    pids: { ...e.pids, ...d.pids },
    blkio: {
      ioServiceBytesRecursive: d.blkio?.ioServiceBytesRecursive ?? [],
      ioServicedRecursive: d.blkio?.ioServicedRecursive ?? [],
    },
    hugetlb: { ...d.hugetlb },
  };
}
