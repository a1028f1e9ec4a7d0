// Statistics from cgroup v1 files, in runc's `events --stats` shape.

import { readOptional } from './common.js';
import type { CgroupFs } from './fs.js';
import {
  emptyStats,
  parseCpuList,
  parseKeyValues,
  parseValue,
  UNLIMITED,
  type BlkioEntry,
  type MemoryEntry,
  type Stats,
} from './stats.js';

/** USER_HZ: cpuacct.stat counts in ticks of 10 ms. */
const NS_PER_TICK = 10_000_000;

/** v1's "no limit" (PAGE_COUNTER_MAX pages in bytes, about 2^63) reads as unlimited. */
function limitValue(text: string | undefined): number {
  if (text === undefined) return 0;
  const v = parseValue(text);
  return v >= 9223372036854771712 ? UNLIMITED : v;
}

function numbers(text: string | undefined): number[] {
  return (text ?? '').trim().split(/\s+/).filter(Boolean).map(Number);
}

function memoryEntry(fs: CgroupFs, dir: string, prefix: string): MemoryEntry {
  const r = (name: string): string | undefined => readOptional(fs, dir, `${prefix}.${name}`);
  return {
    usage: parseValue(r('usage_in_bytes') ?? '0'),
    max: parseValue(r('max_usage_in_bytes') ?? '0'),
    limit: limitValue(r('limit_in_bytes')),
    failcnt: parseValue(r('failcnt') ?? '0'),
  };
}

/** "8:0 Read 4096" lines (the "Total" line skipped). */
export function parseBlkioLines(text: string | undefined): BlkioEntry[] {
  const out: BlkioEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const m = /^(\d+):(\d+) (\S+) (\d+)$/.exec(line.trim());
    if (m) out.push({ major: Number(m[1]), minor: Number(m[2]), op: m[3]!, value: Number(m[4]) });
  }
  return out;
}

export function v1Stats(fs: CgroupFs, dirs: Record<string, string>): Stats {
  const s = emptyStats();
  const acct = dirs['cpuacct'];
  if (acct) {
    s.cpu.usage.total = parseValue(readOptional(fs, acct, 'cpuacct.usage') ?? '0');
    s.cpu.usage.percpu = numbers(readOptional(fs, acct, 'cpuacct.usage_percpu'));
    const sys = readOptional(fs, acct, 'cpuacct.usage_sys');
    const user = readOptional(fs, acct, 'cpuacct.usage_user');
    if (sys !== undefined && user !== undefined) {
      s.cpu.usage.kernel = parseValue(sys);
      s.cpu.usage.user = parseValue(user);
    } else {
      const st = parseKeyValues(readOptional(fs, acct, 'cpuacct.stat') ?? '');
      s.cpu.usage.kernel = (st['system'] ?? 0) * NS_PER_TICK;
      s.cpu.usage.user = (st['user'] ?? 0) * NS_PER_TICK;
    }
    const pk = readOptional(fs, acct, 'cpuacct.usage_percpu_sys');
    const pu = readOptional(fs, acct, 'cpuacct.usage_percpu_user');
    if (pk !== undefined) s.cpu.usage.percpu_kernel = numbers(pk);
    if (pu !== undefined) s.cpu.usage.percpu_user = numbers(pu);
  }
  const cpu = dirs['cpu'];
  if (cpu) {
    const st = parseKeyValues(readOptional(fs, cpu, 'cpu.stat') ?? '');
    s.cpu.throttling = {
      periods: st['nr_periods'] ?? 0,
      throttledPeriods: st['nr_throttled'] ?? 0,
      throttledTime: st['throttled_time'] ?? 0,
    };
  }
  const cpuset = dirs['cpuset'];
  if (cpuset) {
    s.cpuset = {
      cpus: parseCpuList(readOptional(fs, cpuset, 'cpuset.cpus') ?? ''),
      mems: parseCpuList(readOptional(fs, cpuset, 'cpuset.mems') ?? ''),
    };
  }
  const mem = dirs['memory'];
  if (mem) {
    s.memory.usage = memoryEntry(fs, mem, 'memory');
    s.memory.swap = memoryEntry(fs, mem, 'memory.memsw');
    s.memory.kernel = memoryEntry(fs, mem, 'memory.kmem');
    s.memory.kernelTCP = memoryEntry(fs, mem, 'memory.kmem.tcp');
    s.memory.raw = parseKeyValues(readOptional(fs, mem, 'memory.stat') ?? '');
    s.memory.cache = s.memory.raw['total_cache'] ?? s.memory.raw['cache'] ?? 0;
  }
  const pids = dirs['pids'];
  if (pids) {
    s.pids.current = parseValue(readOptional(fs, pids, 'pids.current') ?? '0');
    const max = (readOptional(fs, pids, 'pids.max') ?? 'max').trim();
    // runc reports an unlimited pids.max as 0.
    s.pids.limit = max === 'max' ? 0 : Number(max);
  }
  const blkio = dirs['blkio'];
  if (blkio) {
    const pick = (names: string[]): string | undefined => {
      for (const n of names) {
        const t = readOptional(fs, blkio, n);
        if (t !== undefined && parseBlkioLines(t).length > 0) return t;
      }
      return undefined;
    };
    s.blkio.ioServiceBytesRecursive = parseBlkioLines(
      pick([
        'blkio.io_service_bytes_recursive',
        'blkio.bfq.io_service_bytes_recursive',
        'blkio.throttle.io_service_bytes_recursive',
      ]),
    );
    s.blkio.ioServicedRecursive = parseBlkioLines(
      pick(['blkio.io_serviced_recursive', 'blkio.bfq.io_serviced_recursive', 'blkio.throttle.io_serviced_recursive']),
    );
  }
  const hugetlb = dirs['hugetlb'];
  if (hugetlb) {
    let names: string[];
    try {
      names = hugetlbSizes(fs, hugetlb);
    } catch {
      names = [];
    }
    for (const size of names) {
      const r = (n: string): number => parseValue(readOptional(fs, hugetlb, `hugetlb.${size}.${n}`) ?? '0');
      s.hugetlb[size] = { usage: r('usage_in_bytes'), max: r('max_usage_in_bytes'), failcnt: r('failcnt') };
    }
  }
  return s;
}

/** Page sizes the hugetlb controller has files for, from the host's /sys/kernel/mm/hugepages. */
export function hugetlbSizes(fs: CgroupFs, _dir: string): string[] {
  const base = '/sys/kernel/mm/hugepages';
  if (!fs.exists(base)) return [];
  return fs.readdir(base).flatMap((d) => {
    const m = /^hugepages-(\d+)kB$/.exec(d);
    if (!m) return [];
    let kb = Number(m[1]);
    const units = ['KB', 'MB', 'GB', 'TB'];
    let u = 0;
    while (kb >= 1024 && kb % 1024 === 0 && u < units.length - 1) {
      kb /= 1024;
      u++;
    }
    return [`${kb}${units[u]}`];
  });
}
