// `berth inspect --layers CONTAINER`: what each layer of the stack knows
// about one container, each fact labelled with the layer it came from: the
// daemon's record (Engine API, dockerd or berthd), containerd's (or
// berth-engine's) container and task (ctr against the shim's engine
// address), the runtime's state.json (runc's or berth-runc's), the kernel's
// view (/proc cgroups and namespaces) and the last log lines naming the
// container in each daemon's log (found through the daemon's stdout/stderr
// file) and berth-shim's. Reading the lower layers needs root on the host.

import { existsSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import type { Ctx } from '../command.js';
import { CliError } from '../errors.js';

interface Record_ {
  Id: string;
  Name: string;
  /** The fields shown here (of the Engine API's ContainerState). */
  State: { Status: string; Pid: number; ExitCode: number; Error: string };
  HostConfig: { Runtime?: string };
  GraphDriver?: { Name: string; Data?: Record<string, string> };
}

function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

function pids(): number[] {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number);
}

interface Shim {
  pid: number;
  kind: 'containerd-shim' | 'berth-shim';
  /** The containerd API the shim's engine serves (containerd's, or berth-engine's). */
  address?: string;
  namespace?: string;
  /** containerd-shim: the bundle (its cwd); berth-shim: its own directory. */
  dir?: string;
  /** The runtime's root for this namespace, where `<id>/state.json` is. */
  runtimeRoot?: string;
}

function cwdOf(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return undefined;
  }
}

function ppidOf(pid: number): number | undefined {
  try {
    const m = /^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * berth-shim keeps no id on its command line (a spare shim is claimed
 * later): it is the container's parent, its cwd is `<state>/shims/<name>`,
 * and berth-engine's socket and the runtime's state are under `<state>`.
 */
function berthShim(pid: number, id: string): Shim {
  const dir = cwdOf(pid);
  const state = dir ? dirname(dirname(dir)) : undefined;
  const address = state && existsSync(join(state, 'engine.sock')) ? join(state, 'engine.sock') : undefined;
  let namespace: string | undefined;
  try {
    namespace = state
      ? readdirSync(join(state, 'runtime')).find((ns) => existsSync(join(state, 'runtime', ns, id)))
      : undefined;
  } catch {
    /* no runtime state */
  }
  const runtimeRoot = state && namespace ? join(state, 'runtime', namespace) : undefined;
  return { pid, kind: 'berth-shim', address, namespace, dir, runtimeRoot };
}

/** The shim serving container `id`: the parent of its process, else a containerd-shim named by it. */
function findShim(id: string, pid: number): Shim | undefined {
  const parent = pid > 0 ? ppidOf(pid) : undefined;
  if (parent && cmdline(parent)[0]?.endsWith('berth-shim')) return berthShim(parent, id);
  for (const p of parent ? [parent, ...pids()] : pids()) {
    const argv = cmdline(p);
    if (!argv[0]?.includes('containerd-shim')) continue;
    const arg = (n: string) => {
      const i = argv.indexOf(n);
      return i >= 0 ? argv[i + 1] : undefined;
    };
    const bundle = cwdOf(p);
    // One shim per container (runc v2 groups by id); the bundle directory is named by it.
    if (arg('-id') === id || bundle?.endsWith(`/${id}`)) {
      const address = arg('-address');
      const namespace = arg('-namespace');
      // dockerd keeps the runtime's root beside containerd's state: <exec-root>/runtime-runc/<ns>.
      const runtimeRoot = [
        ...(address ? [join(dirname(dirname(address)), 'runtime-runc', namespace ?? 'moby')] : []),
        '/run/docker/runtime-runc/moby',
        `/run/containerd/runc/${namespace ?? 'moby'}`,
      ].find((r) => existsSync(join(r, id)));
      return { pid: p, kind: 'containerd-shim', address, namespace, dir: bundle, runtimeRoot };
    }
  }
  return undefined;
}

/** The process serving the containerd API at `address` (containerd, or berth-engine). */
function engineAt(address: string): number | undefined {
  const pidFile = join(dirname(address), 'containerd.pid');
  if (existsSync(pidFile)) return Number(readFileSync(pidFile, 'utf8').trim());
  return pids().find((p) => {
    const argv = cmdline(p);
    const i = argv.indexOf('--address');
    return i >= 0 && argv[i + 1] === address;
  });
}

/** The file a daemon's stderr goes to, if it is a regular file (its log). */
function logFileOf(pid: number): string | undefined {
  for (const fd of [2, 1]) {
    try {
      const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (target.startsWith('/') && statSync(target).isFile()) return target;
    } catch {
      /* none */
    }
  }
  return undefined;
}

function lastLinesWith(file: string, needle: string, n = 5): string[] {
  try {
    const text = readFileSync(file, 'utf8');
    return text
      .split('\n')
      .filter((l) => l.includes(needle))
      .slice(-n);
  } catch {
    return [];
  }
}

export async function inspectLayers(ctx: Ctx, args: string[]): Promise<number> {
  const rec = await ctx.client.get<Record_>(`/containers/${encodeURIComponent(args[0]!)}/json`);
  const id = rec.Id;
  const lines: string[] = [];
  const fact = (layer: string, k: string, v: unknown) =>
    lines.push(`[${layer}] ${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
  fact('daemon', 'name', rec.Name.replace(/^\//, ''));
  fact('daemon', 'id', id);
  fact('daemon', 'status', rec.State.Status);
  fact('daemon', 'pid', rec.State.Pid);
  fact('daemon', 'exit code', rec.State.ExitCode);
  if (rec.State.Error) fact('daemon', 'error', rec.State.Error);
  fact('daemon', 'runtime', rec.HostConfig.Runtime ?? '');
  if (rec.GraphDriver)
    fact('daemon', 'storage', `${rec.GraphDriver.Name} ${rec.GraphDriver.Data?.MergedDir ?? ''}`.trim());

  const shim = findShim(id, rec.State.Pid);
  let containerdPid: number | undefined;
  const host = ctx.client.endpoint.socketPath;
  const daemon = host
    ? pids().find((p) => {
        const argv = cmdline(p);
        return argv.some((x) => x.includes(host)) && argv.some((x) => /(^|\/)(dockerd|berthd(\.js)?)$/.test(x));
      })
    : undefined;
  const ctr = (address: string, ns: string, a: string[]) =>
    spawnSync('ctr', ['--address', address, '--namespace', ns, ...a], { encoding: 'utf8', timeout: 10000 });
  if (!shim) {
    fact('shim', 'process', 'none found (container not running, or daemon on another host)');
    // Without a shim, containerd (or berth-engine) is found through the
    // daemon: its --containerd, else the one dockerd starts under its exec root.
    const argv = daemon ? cmdline(daemon) : [];
    const arg = (n: string) => {
      const i = argv.findIndex((a) => a === n || a.startsWith(`${n}=`));
      return i < 0 ? undefined : argv[i]!.includes('=') ? argv[i]!.split('=')[1] : argv[i + 1];
    };
    const address = arg('--containerd') ?? join(arg('--exec-root') ?? '/var/run/docker', 'containerd/containerd.sock');
    if (existsSync(address)) {
      // The daemon's namespace: dockerd's moby, else whichever holds the container.
      const spaces = ctr(address, 'default', ['namespaces', 'ls', '-q']).stdout?.split('\n').filter(Boolean) ?? [];
      let last = '';
      const known = ['moby', ...spaces.filter((n) => n !== 'moby')].some((ns) => {
        const info = ctr(address, ns, ['containers', 'info', id]);
        last = (info.stderr || '').trim().split('\n').pop() ?? '';
        return info.status === 0;
      });
      fact(
        'containerd',
        'container',
        known
          ? 'known, with no task'
          : `not known (${last}): the daemon makes it at start and removes it when the task ends`,
      );
      containerdPid = engineAt(address);
    }
  } else {
    fact('shim', 'pid', shim.pid);
    fact('shim', shim.kind === 'berth-shim' ? 'directory' : 'bundle', shim.dir ?? '');
    if (shim.address) {
      fact('shim', 'containerd address', shim.address);
      const ns = shim.namespace ?? 'moby';
      const info = ctr(shim.address, ns, ['containers', 'info', id]);
      if (info.status === 0) {
        const c = JSON.parse(info.stdout) as { Runtime?: { Name: string }; Snapshotter?: string; Image?: string };
        fact('containerd', 'container', { runtime: c.Runtime?.Name, snapshotter: c.Snapshotter, image: c.Image });
      } else fact('containerd', 'container', (info.stderr || info.error?.message || '').trim());
      const tasks = ctr(shim.address, ns, ['tasks', 'ls']);
      const row = tasks.stdout?.split('\n').find((l) => l.startsWith(id));
      fact('containerd', 'task', row ? row.split(/\s+/).slice(1).join(' ') : 'no task');
      containerdPid = engineAt(shim.address);
    }
    const state = shim.runtimeRoot ? join(shim.runtimeRoot, id, 'state.json') : undefined;
    if (state && existsSync(state)) {
      // runc's state.json, or berth-runc's (pid, cgroupsPath).
      const s = JSON.parse(readFileSync(state, 'utf8')) as {
        init_process_pid?: number;
        pid?: number;
        created?: string;
        config?: { cgroups?: { path?: string } };
        cgroupsPath?: string;
      };
      fact('runtime', 'state file', state);
      fact('runtime', 'init pid', s.init_process_pid ?? s.pid);
      fact('runtime', 'created', s.created);
      fact('runtime', 'cgroup path', s.config?.cgroups?.path ?? s.cgroupsPath ?? '');
    } else fact('runtime', 'state file', 'not found');
  }

  const pid = rec.State.Pid;
  if (pid > 0 && existsSync(`/proc/${pid}`)) {
    const cg = readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n');
    fact('kernel', 'cgroups', cg.find((l) => l.startsWith('0::')) ?? cg.find((l) => l.includes('memory')) ?? cg[0]);
    for (const ns of ['mnt', 'pid', 'net', 'ipc', 'uts', 'user', 'cgroup']) {
      try {
        const mine = readlinkSync(`/proc/${pid}/ns/${ns}`);
        // Compared with berth's own namespaces (pid 1's may be unreadable, even for root, in a VM sandbox).
        const ours = readlinkSync(`/proc/self/ns/${ns}`);
        fact('kernel', `ns ${ns}`, `${mine}${mine === ours ? " (the same as berth's own)" : ''}`);
      } catch {
        /* namespace not there */
      }
    }
    const st = readFileSync(`/proc/${pid}/status`, 'utf8');
    fact('kernel', 'state', /State:\s+(.*)/.exec(st)?.[1] ?? '');
  } else fact('kernel', 'process', pid > 0 ? `pid ${pid} is gone` : 'no process');

  const seen = new Set<string>();
  for (const [layer, p] of [
    ['daemon', daemon],
    ['containerd', containerdPid],
  ] as const) {
    if (!p) continue;
    const file = logFileOf(p);
    if (file && seen.has(file)) {
      fact(layer, 'log', `${file} (shared with the daemon's log, shown above)`);
      continue;
    }
    if (file) seen.add(file);
    if (!file) {
      fact(layer, 'log', `pid ${p} does not log to a file (journal?)`);
      continue;
    }
    const hits = lastLinesWith(file, id);
    fact(layer, 'log', `${file}: ${hits.length} recent line(s) naming the container`);
    for (const l of hits) lines.push(`[${layer}]   ${l.length > 240 ? l.slice(0, 240) + '…' : l}`);
  }
  // berth-shim logs beside itself.
  const shimLog = shim?.kind === 'berth-shim' && shim.dir ? join(shim.dir, 'shim.log') : undefined;
  if (shimLog && existsSync(shimLog)) {
    const hits = lastLinesWith(shimLog, id);
    fact('shim', 'log', `${shimLog}: ${hits.length} recent line(s) naming the container`);
    for (const l of hits) lines.push(`[shim]   ${l.length > 240 ? l.slice(0, 240) + '…' : l}`);
  }
  if (lines.length === 0) throw new CliError('nothing known', 1);
  ctx.out(lines.join('\n') + '\n');
  return 0;
}
