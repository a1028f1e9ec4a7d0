// docker stats: GET /containers/{id}/stats, one JSON document per second
// (stream) or one (stream=false: two samples a second apart, so the CPU
// percentage has a base; one-shot: a single sample). The numbers come from
// containerd's Tasks.Metrics (src/client/metrics.ts); system_cpu_usage is the
// host's /proc/stat, as dockerd reports it.

import { readFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { BLKIO_KEYS, decodeMetrics, type BlkioEntry, type TaskMetrics } from '../../client/metrics.js';
import { boolParam, type Ctx } from '../http/router.js';
import type { ContainerRecord } from './record.js';
import type { Runtime } from './runtime.js';

const CLK_TCK = 100;

async function systemCpuNs(): Promise<number> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0] ?? '';
  const ticks = line
    .trim()
    .split(/\s+/)
    .slice(1, 8)
    .reduce((a, x) => a + Number(x), 0);
  return (ticks * 1e9) / CLK_TCK;
}

interface Sample {
  m: TaskMetrics;
  system: number;
  at: Date;
  networks: Record<string, NetStats>;
}

interface NetStats {
  rx_bytes: number;
  rx_packets: number;
  rx_errors: number;
  rx_dropped: number;
  tx_bytes: number;
  tx_packets: number;
  tx_errors: number;
  tx_dropped: number;
}

/**
 * The counters of the container's interfaces (lo left out), as dockerd reads them from its
 * sandbox: /proc/<pid>/net/dev shows the namespace of that process. None for the host's network
 * (dockerd shows none there either), none when the process is gone.
 */
async function netStats(r: ContainerRecord): Promise<Record<string, NetStats>> {
  if (r.HostConfig.NetworkMode === 'host' || !r.State.Pid) return {};
  const text = await readFile(`/proc/${r.State.Pid}/net/dev`, 'utf8').catch(() => '');
  const out: Record<string, NetStats> = {};
  for (const line of text.split('\n').slice(2)) {
    const [name, rest] = line.split(':', 2).map((x) => x.trim()) as [string, string | undefined];
    if (!rest || name === 'lo') continue;
    const n = rest.split(/\s+/).map(Number);
    const at = (i: number) => n[i] ?? 0;
    out[name] = {
      rx_bytes: at(0),
      rx_packets: at(1),
      rx_errors: at(2),
      rx_dropped: at(3),
      tx_bytes: at(8),
      tx_packets: at(9),
      tx_errors: at(10),
      tx_dropped: at(11),
    };
  }
  return out;
}

async function sample(rt: Runtime, r: ContainerRecord): Promise<Sample | undefined> {
  if (!rt.running(r)) return undefined;
  const [metric] = await rt.m.s.client.tasks.metrics([`id==${r.Id}`]);
  if (!metric?.data) return undefined;
  const [system, networks] = await Promise.all([systemCpuNs(), netStats(r)]);
  return { m: decodeMetrics(metric.data.type_url, metric.data.value), system, at: new Date(), networks };
}

function cpuStats(s: Sample | undefined) {
  if (!s)
    return {
      cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 },
      throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
    };
  const c = s.m.cpu;
  return {
    cpu_usage: {
      total_usage: c.totalNs,
      ...(c.perCpuNs.length ? { percpu_usage: c.perCpuNs } : {}),
      usage_in_kernelmode: c.kernelNs,
      usage_in_usermode: c.userNs,
    },
    system_cpu_usage: s.system,
    online_cpus: cpus().length,
    throttling_data: { periods: c.periods, throttled_periods: c.throttledPeriods, throttled_time: c.throttledNs },
  };
}

/**
 * dockerd's blkio_stats: on v1 every list, empty ones as []; on v2 only io_service_bytes_recursive
 * (null without I/O), the rest null; all null when the container does not run.
 */
function blkioStats(s: Sample | undefined): Record<string, BlkioEntry[] | null> {
  const v1 = s?.m.cgroup === 1;
  return Object.fromEntries(
    BLKIO_KEYS.map((k) => {
      const list = s?.m.blkio[k];
      return [k, v1 ? (list ?? []) : list?.length ? list : null];
    }),
  );
}

export function statsDoc(
  r: ContainerRecord,
  cur: Sample | undefined,
  prev: Sample | undefined,
): Record<string, unknown> {
  const zero = '0001-01-01T00:00:00Z';
  const mem = cur?.m.memory;
  // No limit set reads as a huge number; Docker shows the host's memory instead.
  const limit = mem && mem.limit > 0 && mem.limit < totalmem() ? mem.limit : totalmem();
  return {
    read: cur?.at.toISOString() ?? zero,
    preread: prev?.at.toISOString() ?? zero,
    pids_stats: cur ? { current: cur.m.pids.current, ...(cur.m.pids.limit ? { limit: cur.m.pids.limit } : {}) } : {},
    blkio_stats: blkioStats(cur),
    num_procs: 0,
    storage_stats: {},
    cpu_stats: cpuStats(cur),
    precpu_stats: cpuStats(prev),
    memory_stats: mem
      ? { usage: mem.usage, ...(mem.maxUsage ? { max_usage: mem.maxUsage } : {}), stats: mem.stats, limit }
      : {},
    name: r.Name,
    id: r.Id,
    // dockerd leaves the key out when the sandbox has no interface (omitempty).
    ...(cur && Object.keys(cur.networks).length ? { networks: cur.networks } : {}),
  };
}

export async function stats(ctx: Ctx, r: ContainerRecord, rt: Runtime): Promise<void> {
  const stream = ctx.query.get('stream') === null ? true : boolParam(ctx.query, 'stream');
  const oneShot = boolParam(ctx.query, 'one-shot');
  const out = ctx.stream(200, 'application/json');
  let prev: Sample | undefined;
  if (!stream) {
    if (!oneShot) {
      prev = await sample(rt, r);
      await new Promise((res) => setTimeout(res, 1000));
    }
    out.end(JSON.stringify(statsDoc(r, await sample(rt, r), prev)) + '\n');
    return;
  }
  let open = true;
  ctx.req.socket.once('close', () => (open = false));
  while (open && !out.destroyed) {
    const cur = await sample(rt, r).catch(() => undefined);
    out.write(JSON.stringify(statsDoc(r, cur, prev)) + '\n');
    if (!cur && !rt.running(r)) break;
    prev = cur;
    await new Promise((res) => setTimeout(res, 1000));
  }
  out.end();
}
