// Writes OCI linux.resources into cgroup v2 files (runc fs2 semantics): the
// v1-shaped OCI values are converted (shares → cpu.weight, memory+swap →
// swap.max, blkio weight → io.weight), settings v2 has no file for are an
// 'unavailable' error naming them, and `unified` keys are written last,
// verbatim, so they can override the converted values.

import { posix } from 'node:path';
import { errnoOf } from '../../common/errors.js';
import type { LinuxBlockIO, LinuxCPU, LinuxMemory, LinuxResources } from '../spec/types.js';
import { checkPageSize, checkUnifiedKey, isInt, rdmaLine, readOptional } from './common.js';
import { deviceFilterProgram } from './devices/ebpf.js';
import { applyDeviceRules, normalizeDeviceRules } from './devices/rules.js';
import { cgroupError, writeError } from './errors.js';
import type { ManagerContext } from './types.js';

const R = 'linux.resources';

/** runc's conversion of cpu.shares (2..262144) to cpu.weight (1..10000). */
export function sharesToWeight(shares: number): number {
  if (shares === 0) return 0;
  return 1 + Math.trunc(((shares - 2) * 9999) / 262142);
}

/** runc's conversion of a blkio weight (10..1000) to io.weight (1..10000). */
export function blkioWeightToIoWeight(weight: number): number {
  if (weight === 0) return 0;
  return 1 + Math.trunc(((weight - 10) * 9999) / 990);
}

/**
 * OCI's memory.swap is memory+swap (v1); v2's memory.swap.max is swap alone.
 * Returns the swap.max value, "max", or undefined to leave it alone.
 */
export function swapMaxValue(swap: number | undefined, limit: number | undefined): string | undefined {
  const field = `${R}.memory.swap`;
  // Unlimited memory without a swap setting: unlimited swap too, like v1.
  if (limit === -1 && (swap === undefined || swap === 0)) return 'max';
  if (swap === undefined || swap === 0) return undefined;
  if (swap === -1) return 'max';
  if (limit === undefined || limit === 0 || limit === -1) {
    throw cgroupError('invalid-argument', 'a memory+swap limit needs a memory limit too', field);
  }
  if (swap < limit)
    throw cgroupError('invalid-argument', `memory+swap (${swap}) must be at least the memory limit (${limit})`, field);
  return String(swap - limit);
}

function int(v: unknown, field: string, min = -1): number {
  if (!isInt(v) || v < min)
    throw cgroupError('invalid-argument', `${JSON.stringify(v)} is not an integer >= ${min}`, field);
  return v;
}

const given = (v: number | undefined): v is number => v !== undefined && v !== 0;

export class V2Writer {
  constructor(
    private readonly ctx: ManagerContext,
    readonly dir: string,
  ) {}

  has(file: string): boolean {
    return this.ctx.fs.exists(posix.join(this.dir, file));
  }

  write(file: string, value: string, field: string): void {
    try {
      this.ctx.fs.writeFile(posix.join(this.dir, file), value);
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') {
        const controller = file.split('.')[0]!;
        const available = (readOptional(this.ctx.fs, this.dir, 'cgroup.controllers') ?? '')
          .trim()
          .split(/\s+/)
          .filter(Boolean);
        if (controller !== 'cgroup' && !available.includes(controller)) {
          throw cgroupError(
            'unavailable',
            `the ${controller} controller is not available to ${this.dir} (cgroup.controllers: ${available.join(' ') || 'none'}), so ${file} cannot be set`,
            field,
            e,
          );
        }
      }
      throw writeError(e, field, file, value);
    }
  }

  unsupported(field: string, why: string): never {
    throw cgroupError('unavailable', `cgroup v2 has no equivalent (${why})`, field);
  }
}

export function setV2Resources(w: V2Writer, ctx: ManagerContext, r: LinuxResources): void {
  if (r.cpu) {
    setCpu(w, r.cpu);
    for (const key of ['cpus', 'mems'] as const) {
      const v = r.cpu[key];
      if (v === undefined || v === '') continue;
      if (!/^[0-9,\-\s]+$/.test(v))
        throw cgroupError('invalid-argument', `${JSON.stringify(v)} is not a list like "0-3,5"`, `${R}.cpu.${key}`);
      w.write(`cpuset.${key}`, v, `${R}.cpu.${key}`);
    }
  }
  if (r.memory) setMemory(w, ctx, r.memory);
  if (r.pids) {
    const field = `${R}.pids.limit`;
    const limit = int(r.pids.limit, field, Number.MIN_SAFE_INTEGER);
    w.write('pids.max', limit > 0 ? String(limit) : 'max', field);
  }
  if (r.blockIO) setIo(w, r.blockIO);
  (r.hugepageLimits ?? []).forEach((h, i) => {
    const field = `${R}.hugepageLimits[${i}]`;
    checkPageSize(h.pageSize, `${field}.pageSize`);
    w.write(`hugetlb.${h.pageSize}.max`, String(int(h.limit, `${field}.limit`, 0)), field);
  });
  if (r.network?.classID !== undefined)
    w.unsupported(`${R}.network.classID`, 'net_cls is v1 only; use an eBPF program');
  if ((r.network?.priorities ?? []).length > 0) w.unsupported(`${R}.network.priorities`, 'net_prio is v1 only');
  for (const [dev, lim] of Object.entries(r.rdma ?? {})) {
    const field = `${R}.rdma["${dev}"]`;
    w.write('rdma.max', rdmaLine(dev, lim, field), field);
  }
  for (const [key, value] of Object.entries(r.unified ?? {})) {
    const field = `${R}.unified["${key}"]`;
    checkUnifiedKey(key, value, field);
    w.write(key, value, field);
  }
  if (r.devices) {
    const state = applyDeviceRules(normalizeDeviceRules(r.devices));
    ctx.attachDeviceFilter(w.dir, deviceFilterProgram(state));
  }
}

function setCpu(w: V2Writer, c: LinuxCPU): void {
  const f = (k: string): string => `${R}.cpu.${k}`;
  if (given(c.shares)) {
    const shares = int(c.shares, f('shares'), 2);
    if (shares > 262144) throw cgroupError('invalid-argument', `${shares} is out of range (2-262144)`, f('shares'));
    w.write('cpu.weight', String(sharesToWeight(shares)), f('shares'));
  }
  if (given(c.realtimePeriod)) w.unsupported(f('realtimePeriod'), 'no real-time group scheduling in v2');
  if (given(c.realtimeRuntime)) w.unsupported(f('realtimeRuntime'), 'no real-time group scheduling in v2');
  const burst = c.burst !== undefined ? String(int(c.burst, f('burst'), 0)) : undefined;
  if (given(c.quota) || given(c.period)) {
    // The kernel wants burst <= quota at every step: try the burst first
    // (it may fail against the old quota), then cpu.max, then burst for real.
    if (burst !== undefined && w.has('cpu.max.burst')) {
      try {
        w.write('cpu.max.burst', burst, f('burst'));
      } catch {
        /* retried below */
      }
    }
    let value = given(c.quota) && int(c.quota, f('quota')) > 0 ? String(c.quota) : 'max';
    if (given(c.period)) value += ` ${int(c.period, f('period'), 1)}`;
    w.write('cpu.max', value, given(c.quota) ? f('quota') : f('period'));
  }
  if (burst !== undefined) w.write('cpu.max.burst', burst, f('burst'));
  if (c.idle !== undefined) w.write('cpu.idle', String(int(c.idle, f('idle'), 0)), f('idle'));
}

function setMemory(w: V2Writer, ctx: ManagerContext, m: LinuxMemory): void {
  const f = (k: string): string => `${R}.memory.${k}`;
  if (m.kernel !== undefined && m.kernel !== 0)
    ctx.warn(`${f('kernel')} is deprecated by the kernel and ignored (as runc does)`);
  if (given(m.kernelTCP)) w.unsupported(f('kernelTCP'), 'v2 accounts TCP memory in memory.max');
  if (m.swappiness !== undefined && m.swappiness !== -1)
    w.unsupported(f('swappiness'), 'no per-cgroup swappiness in v2');
  if (m.disableOOMKiller === true)
    w.unsupported(f('disableOOMKiller'), 'the OOM killer cannot be disabled per cgroup in v2');
  if (m.useHierarchy === false) w.unsupported(f('useHierarchy'), 'v2 is always hierarchical');
  const limit = given(m.limit) ? int(m.limit, f('limit')) : undefined;
  const swap = given(m.swap) ? int(m.swap, f('swap')) : undefined;
  const swapMax = swapMaxValue(swap, limit);
  if (swapMax !== undefined) {
    if (w.has('memory.swap.max')) w.write('memory.swap.max', swapMax, f('swap'));
    else if (swap !== undefined && swap !== -1) {
      throw cgroupError(
        'unavailable',
        'this host has no memory.swap.max (swap accounting off: boot with swapaccount=1)',
        f('swap'),
      );
    }
  }
  if (limit !== undefined) {
    if (m.checkBeforeUpdate && limit !== -1) {
      const current = Number((readOptional(ctx.fs, w.dir, 'memory.current') ?? '0').trim());
      if (current > limit) {
        throw cgroupError(
          'failed-precondition',
          `the container already uses ${current} bytes, more than the new limit ${limit}`,
          f('limit'),
        );
      }
    }
    w.write('memory.max', limit === -1 ? 'max' : String(limit), f('limit'));
  }
  if (given(m.reservation)) {
    const v = int(m.reservation, f('reservation'));
    w.write('memory.low', v === -1 ? 'max' : String(v), f('reservation'));
  }
}

function setIo(w: V2Writer, b: LinuxBlockIO): void {
  const f = (k: string): string => `${R}.blockIO.${k}`;
  const range = (v: unknown, field: string): number => {
    if (!isInt(v) || v < 10 || v > 1000)
      throw cgroupError('invalid-argument', `${JSON.stringify(v)} is out of range (10-1000)`, field);
    return v;
  };
  const bfq = w.has('io.bfq.weight');
  if (given(b.weight)) {
    const v = range(b.weight, f('weight'));
    if (bfq) w.write('io.bfq.weight', String(v), f('weight'));
    else w.write('io.weight', `default ${blkioWeightToIoWeight(v)}`, f('weight'));
  }
  if (given(b.leafWeight)) w.unsupported(f('leafWeight'), 'no leaf weights in v2');
  (b.weightDevice ?? []).forEach((d, i) => {
    const field = `${f('weightDevice')}[${i}]`;
    const dev = `${int(d.major, `${field}.major`, 0)}:${int(d.minor, `${field}.minor`, 0)}`;
    if (d.leafWeight !== undefined) w.unsupported(`${field}.leafWeight`, 'no leaf weights in v2');
    if (d.weight === undefined) return;
    const v = range(d.weight, `${field}.weight`);
    if (bfq) w.write('io.bfq.weight', `${dev} ${v}`, `${field}.weight`);
    else w.write('io.weight', `${dev} ${blkioWeightToIoWeight(v)}`, `${field}.weight`);
  });
  const throttles = [
    ['throttleReadBpsDevice', 'rbps'],
    ['throttleWriteBpsDevice', 'wbps'],
    ['throttleReadIOPSDevice', 'riops'],
    ['throttleWriteIOPSDevice', 'wiops'],
  ] as const;
  for (const [key, name] of throttles) {
    (b[key] ?? []).forEach((t, i) => {
      const field = `${f(key)}[${i}]`;
      const rate = int(t.rate, `${field}.rate`, 0);
      w.write(
        'io.max',
        `${int(t.major, `${field}.major`, 0)}:${int(t.minor, `${field}.minor`, 0)} ${name}=${rate === 0 ? 'max' : rate}`,
        field,
      );
    });
  }
}
