// The statistics of a container's cgroup, in the shape `runc events --stats`
// prints (runc types/events.go), so the CLI can print them as they are.
// Numbers are JS numbers: byte counts and nanoseconds stay exact below 2^53;
// an unlimited value (v1 prints 9223372036854771712, v2 "max") comes out as
// runc reports it for v2, math.MaxUint64, rounded to the nearest double.

export interface CpuUsage {
  total: number;
  percpu?: number[];
  percpu_kernel?: number[];
  percpu_user?: number[];
  /** Nanoseconds. */
  kernel: number;
  user: number;
}

export interface Throttling {
  periods: number;
  throttledPeriods: number;
  /** Nanoseconds. */
  throttledTime: number;
}

export interface MemoryEntry {
  limit: number;
  usage: number;
  max: number;
  failcnt: number;
}

export interface BlkioEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}

export interface HugetlbStats {
  usage: number;
  max: number;
  failcnt: number;
}

export interface Stats {
  cpu: { usage: CpuUsage; throttling: Throttling };
  cpuset: { cpus?: number[]; mems?: number[] };
  memory: {
    cache: number;
    usage: MemoryEntry;
    swap: MemoryEntry;
    kernel: MemoryEntry;
    kernelTCP: MemoryEntry;
    /** memory.stat, every key as the kernel names it. */
    raw: Record<string, number>;
  };
  pids: { current: number; limit: number };
  blkio: {
    ioServiceBytesRecursive: BlkioEntry[];
    ioServicedRecursive: BlkioEntry[];
  };
  hugetlb: Record<string, HugetlbStats>;
}

/** What runc reports for an unlimited value (math.MaxUint64, which a double holds as 2^64). */
export const UNLIMITED = 2 ** 64;

export function emptyMemoryEntry(): MemoryEntry {
  return { limit: 0, usage: 0, max: 0, failcnt: 0 };
}

export function emptyStats(): Stats {
  return {
    cpu: { usage: { total: 0, kernel: 0, user: 0 }, throttling: { periods: 0, throttledPeriods: 0, throttledTime: 0 } },
    cpuset: {},
    memory: {
      cache: 0,
      usage: emptyMemoryEntry(),
      swap: emptyMemoryEntry(),
      kernel: emptyMemoryEntry(),
      kernelTCP: emptyMemoryEntry(),
      raw: {},
    },
    pids: { current: 0, limit: 0 },
    blkio: { ioServiceBytesRecursive: [], ioServicedRecursive: [] },
    hugetlb: {},
  };
}

/** "a b\nc d" → {a: b, c: d} with numeric values (memory.stat, cpu.stat...). */
export function parseKeyValues(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^\d+$/.test(v)) out[k] = Number(v);
  }
  return out;
}

/** A number file: "123", or "max" (→ UNLIMITED). */
export function parseValue(text: string): number {
  const t = text.trim();
  if (t === 'max') return UNLIMITED;
  const n = Number(t);
  return Number.isFinite(n) ? n : 0;
}

/** "0-3,5" → [0,1,2,3,5]. */
export function parseCpuList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.trim().split(',')) {
    if (!part) continue;
    const [a, b] = part.split('-').map(Number);
    if (a === undefined || !Number.isInteger(a)) continue;
    const end = b !== undefined && Number.isInteger(b) ? b : a;
    for (let i = a; i <= end; i++) out.push(i);
  }
  return out;
}
