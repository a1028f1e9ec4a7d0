// Statistics from cgroup v2 files, in runc's `events --stats` shape.

import { readOptional } from './common.js';
import type { CgroupFs } from './fs.js';
import {
  emptyStats,
  parseCpuList,
  parseKeyValues,
  parseValue,
  UNLIMITED,
  type BlkioEntry,
  type Stats,
} from './stats.js';
import { hugetlbSizes } from './v1-stats.js';

/** io.stat: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 ..." per device. */
export function parseIoStat(text: string): { bytes: BlkioEntry[]; ios: BlkioEntry[] } {
  const bytes: BlkioEntry[] = [];
  const ios: BlkioEntry[] = [];
  for (const line of text.split('\n')) {
    const [dev, ...kvs] = line.trim().split(/\s+/);
    const m = /^(\d+):(\d+)$/.exec(dev ?? '');
    if (!m) continue;
    const major = Number(m[1]);
    const minor = Number(m[2]);
    for (const kv of kvs) {
      const [k, v] = kv.split('=');
      const value = Number(v);
      if (k === 'rbytes') bytes.push({ major, minor, op: 'Read', value });
      else if (k === 'wbytes') bytes.push({ major, minor, op: 'Write', value });
      else if (k === 'rios') ios.push({ major, minor, op: 'Read', value });
      else if (k === 'wios') ios.push({ major, minor, op: 'Write', value });
    }
  }
  return { bytes, ios };
}

export function v2Stats(fs: CgroupFs, dir: string): Stats {
  const s = emptyStats();
  const read = (f: string): string | undefined => readOptional(fs, dir, f);
  const cpu = parseKeyValues(read('cpu.stat') ?? '');
  s.cpu.usage.total = (cpu['usage_usec'] ?? 0) * 1000;
  s.cpu.usage.user = (cpu['user_usec'] ?? 0) * 1000;
  s.cpu.usage.kernel = (cpu['system_usec'] ?? 0) * 1000;
  s.cpu.throttling = {
    periods: cpu['nr_periods'] ?? 0,
    throttledPeriods: cpu['nr_throttled'] ?? 0,
    throttledTime: (cpu['throttled_usec'] ?? 0) * 1000,
  };
  const cpus = read('cpuset.cpus.effective');
  if (cpus !== undefined)
    s.cpuset = { cpus: parseCpuList(cpus), mems: parseCpuList(read('cpuset.mems.effective') ?? '') };
  const events = parseKeyValues(read('memory.events') ?? '');
  s.memory.usage = {
    usage: parseValue(read('memory.current') ?? '0'),
    max: parseValue(read('memory.peak') ?? '0'),
    limit: parseValue(read('memory.max') ?? 'max'),
    failcnt: events['max'] ?? 0,
  };
  // v1 reports swap as memory+swap; runc keeps that shape on v2 (max unknown: 0).
  const swapUsage = parseValue(read('memory.swap.current') ?? '0');
  const swapLimit = parseValue(read('memory.swap.max') ?? 'max');
  s.memory.swap = {
    usage: swapUsage + s.memory.usage.usage,
    max: 0,
    limit: swapLimit === UNLIMITED || s.memory.usage.limit === UNLIMITED ? UNLIMITED : swapLimit + s.memory.usage.limit,
    failcnt: parseKeyValues(read('memory.swap.events') ?? '')['max'] ?? 0,
  };
  s.memory.raw = parseKeyValues(read('memory.stat') ?? '');
  s.memory.cache = s.memory.raw['file'] ?? 0;
  s.memory.kernel.usage = s.memory.raw['kernel'] ?? 0;
  s.pids.current = parseValue(read('pids.current') ?? '0');
  const max = (read('pids.max') ?? 'max').trim();
  s.pids.limit = max === 'max' ? 0 : Number(max);
  const io = parseIoStat(read('io.stat') ?? '');
  s.blkio.ioServiceBytesRecursive = io.bytes;
  s.blkio.ioServicedRecursive = io.ios;
  s.hugetlb = v2HugetlbStats(fs, dir);
  return s;
}

/** hugetlb.<size>.current/.max/.events of a v2 directory, for each page size it has files for. */
export function v2HugetlbStats(fs: CgroupFs, dir: string): Stats['hugetlb'] {
  const out: Stats['hugetlb'] = {};
  for (const size of hugetlbSizes(fs, dir)) {
    const current = readOptional(fs, dir, `hugetlb.${size}.current`);
    if (current === undefined) continue;
    out[size] = {
      usage: parseValue(current),
      max: 0,
      failcnt: parseKeyValues(readOptional(fs, dir, `hugetlb.${size}.events`) ?? '')['max'] ?? 0,
    };
  }
  return out;
}
