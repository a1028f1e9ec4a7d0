// A task's metrics as containerd's Tasks.Metrics answers them: an Any holding
// the cgroups library's Metrics message, io.containerd.cgroups.v1.Metrics on a
// v1/hybrid host, io.containerd.cgroups.v2.Metrics on a v2 one. Those two
// messages are not in containerd's API .proto set, so the few fields callers
// need are read here by field number (facts from containerd/cgroups'
// stats/v1 and v2/stats metrics.proto), with protobufjs's wire reader.

import protobuf from 'protobufjs/minimal.js';
import { BerthError } from '../common/errors.js';

export interface TaskMetrics {
  cgroup: 1 | 2;
  pids: { current: number; limit: number };
  cpu: {
    totalNs: number;
    userNs: number;
    kernelNs: number;
    perCpuNs: number[];
    periods: number;
    throttledPeriods: number;
    throttledNs: number;
  };
  memory: { usage: number; limit: number; maxUsage: number; stats: Record<string, number> };
  /**
   * Block I/O as Docker's blkio_stats lists it: on v1 every blkio file (by the JSON key, each entry
   * an op on a device); on v2 io.stat's bytes as read and write entries of io_service_bytes_recursive.
   */
  blkio: Partial<Record<BlkioKey, BlkioEntry[]>>;
}

export interface BlkioEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}

/** BlkIOStat's repeated fields 1-8, in order. */
export const BLKIO_KEYS = [
  'io_service_bytes_recursive',
  'io_serviced_recursive',
  'io_queue_recursive',
  'io_service_time_recursive',
  'io_wait_time_recursive',
  'io_merged_recursive',
  'io_time_recursive',
  'sectors_recursive',
] as const;
type BlkioKey = (typeof BLKIO_KEYS)[number];

/** Every value of a repeated message field, decoded. */
const subs = (m: Map<number, Value[]>, f: number): Map<number, Value[]>[] =>
  (m.get(f) ?? []).map((v) => fields(v instanceof Uint8Array ? v : undefined));

function str(m: Map<number, Value[]>, f: number): string {
  const v = m.get(f)?.[0];
  return v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : '';
}

type Value = number | Uint8Array;

function num(v: unknown): number {
  return typeof v === 'number' ? v : Number(String(v));
}

/** Field number → values, for one message; nested messages stay bytes. */
function fields(buf: Uint8Array | undefined): Map<number, Value[]> {
  const out = new Map<number, Value[]>();
  if (!buf) return out;
  const r = protobuf.Reader.create(buf);
  while (r.pos < r.len) {
    const tag = r.uint32();
    const f = tag >>> 3;
    let v: Value;
    switch (tag & 7) {
      case 0:
        v = num(r.uint64());
        break;
      case 1:
        v = num(r.fixed64());
        break;
      case 2:
        v = r.bytes();
        break;
      case 5:
        v = r.fixed32();
        break;
      default:
        throw new BerthError('berthd', 'invalid-argument', `task metrics: unsupported wire type ${tag & 7}`);
    }
    const list = out.get(f);
    if (list) list.push(v);
    else out.set(f, [v]);
  }
  return out;
}

const n = (m: Map<number, Value[]>, f: number): number => {
  const v = m.get(f)?.[0];
  return typeof v === 'number' ? v : 0;
};
const sub = (m: Map<number, Value[]>, f: number): Map<number, Value[]> => {
  const v = m.get(f)?.[0];
  return fields(v instanceof Uint8Array ? v : undefined);
};

/** A packed (or unpacked) repeated uint64. */
function repeated(m: Map<number, Value[]>, f: number): number[] {
  const out: number[] = [];
  for (const v of m.get(f) ?? []) {
    if (typeof v === 'number') out.push(v);
    else {
      const r = protobuf.Reader.create(v);
      while (r.pos < r.len) out.push(num(r.uint64()));
    }
  }
  return out;
}

const V1_MEMORY_STATS: Record<number, string> = {
  1: 'cache',
  2: 'rss',
  3: 'rss_huge',
  4: 'mapped_file',
  5: 'dirty',
  6: 'writeback',
  7: 'pgpgin',
  8: 'pgpgout',
  9: 'pgfault',
  10: 'pgmajfault',
  11: 'inactive_anon',
  12: 'active_anon',
  13: 'inactive_file',
  14: 'active_file',
  15: 'unevictable',
  16: 'hierarchical_memory_limit',
  17: 'hierarchical_memsw_limit',
  18: 'total_cache',
  19: 'total_rss',
  20: 'total_rss_huge',
  21: 'total_mapped_file',
  22: 'total_dirty',
  23: 'total_writeback',
  24: 'total_pgpgin',
  25: 'total_pgpgout',
  26: 'total_pgfault',
  27: 'total_pgmajfault',
  28: 'total_inactive_anon',
  29: 'total_active_anon',
  30: 'total_inactive_file',
  31: 'total_active_file',
  32: 'total_unevictable',
};
const V2_MEMORY_STATS: Record<number, string> = {
  1: 'anon',
  2: 'file',
  3: 'kernel_stack',
  4: 'slab',
  5: 'sock',
  6: 'shmem',
  7: 'file_mapped',
  8: 'file_dirty',
  9: 'file_writeback',
  11: 'inactive_anon',
  12: 'active_anon',
  13: 'inactive_file',
  14: 'active_file',
  15: 'unevictable',
};

export function decodeMetrics(typeUrl: string, value: Uint8Array): TaskMetrics {
  const m = fields(value);
  if (typeUrl.endsWith('io.containerd.cgroups.v1.Metrics')) {
    const pids = sub(m, 2);
    const cpu = sub(m, 3);
    const usage = sub(cpu, 1);
    const thr = sub(cpu, 2);
    const mem = sub(m, 4);
    const memUsage = sub(mem, 33);
    const stats: Record<string, number> = {};
    for (const [f, name] of Object.entries(V1_MEMORY_STATS)) stats[name] = n(mem, Number(f));
    return {
      cgroup: 1,
      pids: { current: n(pids, 1), limit: n(pids, 2) },
      cpu: {
        totalNs: n(usage, 1),
        kernelNs: n(usage, 2),
        userNs: n(usage, 3),
        perCpuNs: repeated(usage, 4),
        periods: n(thr, 1),
        throttledPeriods: n(thr, 2),
        throttledNs: n(thr, 3),
      },
      memory: { usage: n(memUsage, 2), limit: n(memUsage, 1), maxUsage: n(memUsage, 3), stats },
      blkio: Object.fromEntries(
        BLKIO_KEYS.map((key, i) => [
          key,
          subs(sub(m, 5), i + 1).map((e) => ({ major: n(e, 3), minor: n(e, 4), op: str(e, 1), value: n(e, 5) })),
        ]),
      ),
    };
  }
  if (typeUrl.endsWith('io.containerd.cgroups.v2.Metrics')) {
    const pids = sub(m, 1);
    const cpu = sub(m, 2);
    const mem = sub(m, 4);
    const stats: Record<string, number> = {};
    for (const [f, name] of Object.entries(V2_MEMORY_STATS)) stats[name] = n(mem, Number(f));
    return {
      cgroup: 2,
      pids: { current: n(pids, 1), limit: n(pids, 2) },
      cpu: {
        totalNs: n(cpu, 1) * 1000,
        userNs: n(cpu, 2) * 1000,
        kernelNs: n(cpu, 3) * 1000,
        perCpuNs: [],
        periods: n(cpu, 4),
        throttledPeriods: n(cpu, 5),
        throttledNs: n(cpu, 6) * 1000,
      },
      memory: { usage: n(mem, 32), limit: n(mem, 33), maxUsage: 0, stats },
      blkio: {
        io_service_bytes_recursive: subs(sub(m, 6), 1).flatMap((e) => [
          { major: n(e, 1), minor: n(e, 2), op: 'read', value: n(e, 3) },
          { major: n(e, 1), minor: n(e, 2), op: 'write', value: n(e, 4) },
        ]),
      },
    };
  }
  throw new BerthError('berthd', 'unavailable', `task metrics of type ${typeUrl} are not understood`);
}
