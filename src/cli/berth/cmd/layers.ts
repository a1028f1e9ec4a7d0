// `berth inspect --layers CONTAINER`: what each layer of the stack knows
// about one container, each fact labelled with the layer it came from: the
// daemon's record (Engine API), containerd's container and task (ctr against
// the shim's containerd address), the runtime's state.json, the kernel's view
// (/proc cgroups and namespaces) and the last log lines naming the container
// in each daemon's log (found through the daemon's stdout/stderr file).
// Reading the lower layers needs root on the daemon's host.

import { existsSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import type { Ctx } from '../command.js';
import { CliError } from '../errors.js';

interface Record_ {
  Id: string;
  Name: string;
  State: {
    Status: string;
    Pid: number;
    ExitCode: number;
    Error: string;
    StartedAt: string;
    FinishedAt: string;
    OOMKilled: boolean;
  };
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

/** The shim process serving container `id`: its -address and -namespace. */
function findShim(id: string): { pid: number; address?: string; namespace?: string; bundle?: string } | undefined {
  for (const pid of pids()) {
    const argv = cmdline(pid);
    if (!argv[0]?.includes('containerd-shim')) continue;
    const arg = (n: string) => {
      const i = argv.indexOf(n);
      return i >= 0 ? argv[i + 1] : undefined;
    };
    let bundle: string | undefined;
    try {
      bundle = readlinkSync(`/proc/${pid}/cwd`);
    } catch {
      /* gone */
    }
    // One shim per container (runc v2 groups by id); the bundle directory is named by it.
    if (arg('-id') === id || bundle?.endsWith(`/${id}`))
      return { pid, address: arg('-address'), namespace: arg('-namespace'), bundle };
  }
  return undefined;
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

  const shim = findShim(id);
  let containerdPid: number | undefined;
  const host = ctx.client.endpoint.socketPath;
  const dockerd = host
    ? pids().find((p) => cmdline(p).some((a) => a.includes(host)) && cmdline(p)[0]?.endsWith('dockerd'))
    : undefined;
  if (!shim) {
    fact('shim', 'process', 'none found (container not running, or daemon on another host)');
    // Without a shim, containerd is found through dockerd: its --containerd,
    // else the one dockerd starts under its exec root.
    const argv = dockerd ? cmdline(dockerd) : [];
    const arg = (n: string) => {
      const i = argv.findIndex((a) => a === n || a.startsWith(`${n}=`));
      return i < 0 ? undefined : argv[i]!.includes('=') ? argv[i]!.split('=')[1] : argv[i + 1];
    };
    const address = arg('--containerd') ?? join(arg('--exec-root') ?? '/var/run/docker', 'containerd/containerd.sock');
    if (existsSync(address)) {
      const info = spawnSync('ctr', ['--address', address, '--namespace', 'moby', 'containers', 'info', id], {
        encoding: 'utf8',
        timeout: 10000,
      });
      fact(
        'containerd',
        'container',
        info.status === 0
          ? 'known, with no task'
          : `not known (${(info.stderr || '').trim().split('\n').pop()}): dockerd makes it at start and removes it when the task ends`,
      );
      const pidFile = join(dirname(address), 'containerd.pid');
      if (existsSync(pidFile)) containerdPid = Number(readFileSync(pidFile, 'utf8').trim());
    }
  } else {
    fact('shim', 'pid', shim.pid);
    fact('shim', 'bundle', shim.bundle ?? '');
    if (shim.address) {
      fact('shim', 'containerd address', shim.address);
      const ctr = (a: string[]) =>
        spawnSync('ctr', ['--address', shim.address!, '--namespace', shim.namespace ?? 'moby', ...a], {
          encoding: 'utf8',
          timeout: 10000,
        });
      const info = ctr(['containers', 'info', id]);
      if (info.status === 0) {
        const c = JSON.parse(info.stdout) as { Runtime?: { Name: string }; Snapshotter?: string; Image?: string };
        fact('containerd', 'container', { runtime: c.Runtime?.Name, snapshotter: c.Snapshotter, image: c.Image });
      } else fact('containerd', 'container', (info.stderr || info.error?.message || '').trim());
      const tasks = ctr(['tasks', 'ls']);
      const row = tasks.stdout?.split('\n').find((l) => l.startsWith(id));
      fact('containerd', 'task', row ? row.split(/\s+/).slice(1).join(' ') : 'no task');
      const pidFile = join(dirname(shim.address), 'containerd.pid');
      if (existsSync(pidFile)) containerdPid = Number(readFileSync(pidFile, 'utf8').trim());
      // dockerd keeps the runtime's root beside containerd's state: <exec-root>/runtime-runc/<ns>.
      const roots = [
        join(dirname(dirname(shim.address)), 'runtime-runc', shim.namespace ?? 'moby'),
        '/run/docker/runtime-runc/moby',
        `/run/containerd/runc/${shim.namespace ?? 'moby'}`,
      ];
      const state = roots.map((r) => join(r, id, 'state.json')).find((p) => existsSync(p));
      if (state) {
        const s = JSON.parse(readFileSync(state, 'utf8')) as {
          init_process_pid?: number;
          created?: string;
          config?: { cgroups?: { path?: string } };
          cgroup_paths?: Record<string, string>;
        };
        fact('runtime', 'state file', state);
        fact('runtime', 'init pid', s.init_process_pid);
        fact('runtime', 'created', s.created);
        fact('runtime', 'cgroup path', s.config?.cgroups?.path ?? '');
      } else fact('runtime', 'state file', `not found under ${roots.join(', ')}`);
    }
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
    ['daemon', dockerd],
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
  if (lines.length === 0) throw new CliError('nothing known', 1);
  ctx.out(lines.join('\n') + '\n');
  return 0;
}
