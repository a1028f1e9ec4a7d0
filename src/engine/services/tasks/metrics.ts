// Task metrics in containerd's types: io.containerd.cgroups.v1.Metrics for a
// task whose cgroups are v1 controllers (the hybrid layout included),
// v2.Metrics for one that lives in a cgroup2 hierarchy only, built from the
// runtime's statistics (runc's events --stats shape). On v2, a section whose
// controller the task's cgroup does not have (its cgroup.controllers) is
// left out, as containerd leaves it out, rather than shown as zeros. A task
// that is not running has no metrics (left out, as containerd leaves it out).

import { readFileSync } from 'node:fs';
import type { Metric } from '../../../api/gen/containerd/types/Metric.js';
import { BerthError, messageOf } from '../../../common/errors.js';
import { detectLayout } from '../../../runtime/cgroups/detect.js';
import { UNLIMITED, type Stats } from '../../../runtime/cgroups/stats.js';
import { matchAny, parseFilters } from '../../filters/parse.js';
import { encodeAny, toTimestamp } from '../../proto.js';
import type { Task } from '../../tasks/manager.js';

let v1Host: boolean | undefined;
function isV1Host(): boolean {
  if (v1Host === undefined) {
    try {
      v1Host = Object.keys(detectLayout().v1).length > 0;
    } catch {
      v1Host = false;
    }
  }
  return v1Host;
}

/** A v2 limit file: "max" is the largest uint64, as containerd reads it. */
function readLimit(file: string): number | undefined {
  try {
    const v = readFileSync(file, 'utf8').trim();
    return v === 'max' ? UNLIMITED - 1 : Number(v);
  } catch {
    return undefined;
  }
}

/** The v2 controllers of a task's cgroup, or undefined when its cgroups are v1 (or unknown: the host decides). */
function v2Controllers(paths: Record<string, string>): Set<string> | undefined {
  const keys = Object.keys(paths);
  if (keys.length === 0) return isV1Host() ? undefined : new Set(['cpu', 'memory', 'pids', 'io', 'hugetlb']);
  if (keys.some((k) => k !== '' && !k.startsWith('name='))) return undefined;
  try {
    return new Set(readFileSync(`${paths['']}/cgroup.controllers`, 'utf8').trim().split(/\s+/));
  } catch {
    return new Set();
  }
}

/** What a v1 *.limit_in_bytes file reads without a limit: PAGE_COUNTER_MAX pages of 4 KiB. */
const V1_NO_LIMIT = 9223372036854771712;

const raw = (s: Stats, k: string): number => s.memory.raw[k] ?? 0;

export function v1Metrics(s: Stats): object {
  const blk = (e: Stats['blkio']['ioServiceBytesRecursive']) =>
    e.map((x) => ({ op: x.op, major: x.major, minor: x.minor, value: x.value, device: '' }));
  // The runtime reads v1's "no limit" as UNLIMITED; containerd shows the file's own number
  const mem = (e: Stats['memory']['usage']) => ({
    limit: e.limit >= UNLIMITED ? V1_NO_LIMIT : e.limit,
    usage: e.usage,
    max: e.max,
    failcnt: e.failcnt,
  });
  return {
    hugetlb: Object.entries(s.hugetlb).map(([pagesize, h]) => ({
      usage: h.usage,
      max: h.max,
      failcnt: h.failcnt,
      pagesize,
    })),
    pids: { current: s.pids.current, limit: s.pids.limit },
    cpu: {
      usage: {
        total: s.cpu.usage.total,
        kernel: s.cpu.usage.kernel,
        user: s.cpu.usage.user,
        per_cpu: s.cpu.usage.percpu ?? [],
      },
      throttling: {
        periods: s.cpu.throttling.periods,
        throttled_periods: s.cpu.throttling.throttledPeriods,
        throttled_time: s.cpu.throttling.throttledTime,
      },
    },
    memory: {
      cache: s.memory.cache,
      rss: raw(s, 'rss'),
      rss_huge: raw(s, 'rss_huge'),
      mapped_file: raw(s, 'mapped_file'),
      dirty: raw(s, 'dirty'),
      writeback: raw(s, 'writeback'),
      pg_pg_in: raw(s, 'pgpgin'),
      pg_pg_out: raw(s, 'pgpgout'),
      pg_fault: raw(s, 'pgfault'),
      pg_maj_fault: raw(s, 'pgmajfault'),
      inactive_anon: raw(s, 'inactive_anon'),
      active_anon: raw(s, 'active_anon'),
      inactive_file: raw(s, 'inactive_file'),
      active_file: raw(s, 'active_file'),
      unevictable: raw(s, 'unevictable'),
      hierarchical_memory_limit: raw(s, 'hierarchical_memory_limit'),
      hierarchical_swap_limit: raw(s, 'hierarchical_memsw_limit'),
      total_cache: raw(s, 'total_cache'),
      total_rss: raw(s, 'total_rss'),
      total_rss_huge: raw(s, 'total_rss_huge'),
      total_mapped_file: raw(s, 'total_mapped_file'),
      total_dirty: raw(s, 'total_dirty'),
      total_writeback: raw(s, 'total_writeback'),
      total_pg_pg_in: raw(s, 'total_pgpgin'),
      total_pg_pg_out: raw(s, 'total_pgpgout'),
      total_pg_fault: raw(s, 'total_pgfault'),
      total_pg_maj_fault: raw(s, 'total_pgmajfault'),
      total_inactive_anon: raw(s, 'total_inactive_anon'),
      total_active_anon: raw(s, 'total_active_anon'),
      total_inactive_file: raw(s, 'total_inactive_file'),
      total_active_file: raw(s, 'total_active_file'),
      total_unevictable: raw(s, 'total_unevictable'),
      usage: mem(s.memory.usage),
      swap: mem(s.memory.swap),
      kernel: mem(s.memory.kernel),
      kernel_tcp: mem(s.memory.kernelTCP),
    },
    blkio: {
      io_service_bytes_recursive: blk(s.blkio.ioServiceBytesRecursive),
      io_serviced_recursive: blk(s.blkio.ioServicedRecursive),
    },
  };
}

export function v2Metrics(
  s: Stats,
  controllers?: Set<string>,
  /** hugetlb.<size>.max of the task's cgroup (runc's stats carry no v2 limit; containerd's do) */
  hugetlbMax?: (pagesize: string) => number | undefined,
): object {
  const has = (c: string) => !controllers || controllers.has(c);
  // runc's v2 stats carry io as blkio entries per op: fold them into one line per device
  const io = new Map<
    string,
    { major: number; minor: number; rbytes: number; wbytes: number; rios: number; wios: number }
  >();
  const add = (entries: Stats['blkio']['ioServiceBytesRecursive'], bytes: boolean) => {
    for (const e of entries) {
      const k = `${e.major}:${e.minor}`;
      const cur = io.get(k) ?? { major: e.major, minor: e.minor, rbytes: 0, wbytes: 0, rios: 0, wios: 0 };
      const op = e.op.toLowerCase();
      if (op === 'read' && bytes) cur.rbytes += e.value;
      if (op === 'read' && !bytes) cur.rios += e.value;
      if (op === 'write' && bytes) cur.wbytes += e.value;
      if (op === 'write' && !bytes) cur.wios += e.value;
      io.set(k, cur);
    }
  };
  add(s.blkio.ioServiceBytesRecursive, true);
  add(s.blkio.ioServicedRecursive, false);
  const r = (k: string) => raw(s, k);
  return {
    pids: has('pids') ? { current: s.pids.current, limit: s.pids.limit } : null,
    cpu: {
      usage_usec: Math.floor(s.cpu.usage.total / 1000),
      user_usec: Math.floor(s.cpu.usage.user / 1000),
      system_usec: Math.floor(s.cpu.usage.kernel / 1000),
      nr_periods: s.cpu.throttling.periods,
      nr_throttled: s.cpu.throttling.throttledPeriods,
      throttled_usec: Math.floor(s.cpu.throttling.throttledTime / 1000),
    },
    memory: !has('memory')
      ? null
      : {
          anon: r('anon'),
          file: r('file'),
          kernel_stack: r('kernel_stack'),
          slab: r('slab'),
          sock: r('sock'),
          shmem: r('shmem'),
          file_mapped: r('file_mapped'),
          file_dirty: r('file_dirty'),
          file_writeback: r('file_writeback'),
          anon_thp: r('anon_thp'),
          inactive_anon: r('inactive_anon'),
          active_anon: r('active_anon'),
          inactive_file: r('inactive_file'),
          active_file: r('active_file'),
          unevictable: r('unevictable'),
          slab_reclaimable: r('slab_reclaimable'),
          slab_unreclaimable: r('slab_unreclaimable'),
          pgfault: r('pgfault'),
          pgmajfault: r('pgmajfault'),
          usage: s.memory.usage.usage,
          usage_limit: s.memory.usage.limit,
          swap_usage: s.memory.swap.usage,
          swap_limit: s.memory.swap.limit,
        },
    io: has('io') ? { usage: [...io.values()] } : null,
    hugetlb: has('hugetlb')
      ? Object.entries(s.hugetlb).map(([pagesize, h]) => ({
          current: h.usage,
          max: hugetlbMax?.(pagesize) ?? h.max,
          pagesize,
        }))
      : [],
  };
}

/** containerd's task filter fields for Metrics: id, namespace? (no), container id as "id". */
export async function metricsOf(tasks: Task[], filters: string[]): Promise<Metric[]> {
  const f = parseFilters(filters);
  const out: Metric[] = [];
  for (const t of tasks) {
    if (!matchAny(f, (p) => (p.length === 1 && (p[0] === 'id' || p[0] === 'container_id') ? t.id : undefined)))
      continue;
    if (t.init.exit || !t.init.pid) continue;
    let s: Stats;
    try {
      s = await t.backend.stats(t.id);
    } catch (e) {
      // stopped between the check and the read: no metrics, as for any stopped task
      if (t.init.exit) continue;
      throw new BerthError('berth-engine', 'internal', `metrics of task ${t.id}: ${messageOf(e)}`, { cause: e });
    }
    const v2 = v2Controllers(t.backend.cgroupPaths(t.id));
    const data = v2
      ? encodeAny(
          'io.containerd.cgroups.v2.Metrics',
          v2Metrics(s, v2, (size) => readLimit(`${t.backend.cgroupPaths(t.id)['']}/hugetlb.${size}.max`)),
        )
      : encodeAny('io.containerd.cgroups.v1.Metrics', v1Metrics(s));
    out.push({ timestamp: toTimestamp(new Date()), id: t.id, data });
  }
  return out;
}
