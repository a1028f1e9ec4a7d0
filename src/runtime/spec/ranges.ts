// Resource values the kernel would silently clamp (a memory limit above its
// page counter's maximum, cpu.shares outside 2..262144) or refuse with a bare
// EINVAL (a CFS period outside 1 ms..1 s): refused here, before anything is
// made, with the field named, as runc refuses them. Used for config.json and
// for `update` alike.

import type { LinuxResources } from './types.js';
import type { Fail } from './field.js';

/** The kernel's PAGE_COUNTER_MAX in bytes with 4 KiB pages: LONG_MAX rounded down to a page. */
export const MAX_MEMORY_BYTES = 9223372036854771712;
const MIN_SHARES = 2;
const MAX_SHARES = 262144;
/** CFS bandwidth bounds in microseconds (kernel/sched/core.c). */
const MIN_CFS_US = 1000;
const MAX_CFS_PERIOD_US = 1000000;
/** PID_MAX_LIMIT on 64-bit: pids.max refuses more. */
const MAX_PIDS = 4194304;

export function checkResourceRanges(r: LinuxResources, fail: Fail, prefix = 'linux.resources'): void {
  const m = r.memory;
  if (m) {
    for (const k of ['limit', 'reservation', 'swap', 'kernel', 'kernelTCP'] as const) {
      const v = m[k];
      if (v !== undefined && v > MAX_MEMORY_BYTES) {
        fail(`${prefix}.memory.${k}`, `${v} is above the kernel's maximum (${MAX_MEMORY_BYTES}); use -1 for unlimited`);
      }
    }
  }
  const c = r.cpu;
  if (c) {
    if (c.shares !== undefined && c.shares !== 0 && (c.shares < MIN_SHARES || c.shares > MAX_SHARES)) {
      fail(`${prefix}.cpu.shares`, `must be from ${MIN_SHARES} to ${MAX_SHARES} (the kernel would clamp ${c.shares})`);
    }
    if (c.quota !== undefined && c.quota !== 0 && c.quota !== -1 && (c.quota < 0 || c.quota < MIN_CFS_US)) {
      fail(`${prefix}.cpu.quota`, `must be -1 (unlimited) or at least ${MIN_CFS_US} microseconds, got ${c.quota}`);
    }
    if (c.period !== undefined && c.period !== 0 && (c.period < MIN_CFS_US || c.period > MAX_CFS_PERIOD_US)) {
      fail(`${prefix}.cpu.period`, `must be from ${MIN_CFS_US} to ${MAX_CFS_PERIOD_US} microseconds, got ${c.period}`);
    }
    if (c.burst !== undefined && c.burst < 0) fail(`${prefix}.cpu.burst`, `must not be negative, got ${c.burst}`);
    if (c.realtimeRuntime !== undefined && c.realtimeRuntime < -1) {
      fail(
        `${prefix}.cpu.realtimeRuntime`,
        `must be -1 (unlimited) or a number of microseconds, got ${c.realtimeRuntime}`,
      );
    }
    if (c.realtimePeriod !== undefined && c.realtimePeriod < 0)
      fail(`${prefix}.cpu.realtimePeriod`, `must not be negative, got ${c.realtimePeriod}`);
    if (c.idle !== undefined && c.idle !== 0 && c.idle !== 1)
      fail(`${prefix}.cpu.idle`, `must be 0 or 1, got ${c.idle}`);
  }
  if (r.pids && r.pids.limit > MAX_PIDS)
    fail(`${prefix}.pids.limit`, `${r.pids.limit} is above the kernel's maximum (${MAX_PIDS})`);
  const weight = (v: number | undefined, field: string) => {
    if (v !== undefined && v !== 0 && (v < 10 || v > 1000)) fail(field, `must be from 10 to 1000, got ${v}`);
  };
  weight(r.blockIO?.weight, `${prefix}.blockIO.weight`);
  weight(r.blockIO?.leafWeight, `${prefix}.blockIO.leafWeight`);
  r.blockIO?.weightDevice?.forEach((d, i) => {
    weight(d.weight, `${prefix}.blockIO.weightDevice[${i}].weight`);
    weight(d.leafWeight, `${prefix}.blockIO.weightDevice[${i}].leafWeight`);
  });
  r.hugepageLimits?.forEach((h, i) => {
    const field = `${prefix}.hugepageLimits[${i}].limit`;
    if (h.limit > MAX_MEMORY_BYTES) fail(field, `${h.limit} is above the kernel's maximum (${MAX_MEMORY_BYTES})`);
    // The kernel keeps whole pages: it would round the limit down, silently.
    const page = pageBytes(h.pageSize);
    if (page && h.limit !== -1 && h.limit % page !== 0) {
      fail(
        field,
        `${h.limit} is not a multiple of the ${h.pageSize} page size (the kernel would round it down to ${Math.floor(h.limit / page) * page})`,
      );
    }
  });
}

const UNITS: Record<string, number> = { KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4, PB: 1024 ** 5 };

/** "2MB" -> 2097152 (the kernel's names for hugepage sizes are binary); undefined when malformed. */
function pageBytes(size: string): number | undefined {
  const m = /^(\d+)(KB|MB|GB|TB|PB)$/.exec(size);
  return m ? Number(m[1]) * UNITS[m[2]!]! : undefined;
}
