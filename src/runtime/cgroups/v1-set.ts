// Writes OCI linux.resources into cgroup v1 files, controller by controller,
// in the orders the kernel needs (runc libcontainer/cgroups/fs semantics).
// A setting for a controller this host lacks is an 'unavailable' error naming
// the setting; nothing is silently dropped except memory.kernel, which the
// kernel deprecated and runc ignores with a warning too.

import { posix } from 'node:path';
import { errnoOf } from '../../common/errors.js';
import type { LinuxBlockIO, LinuxCPU, LinuxMemory, LinuxResources } from '../spec/types.js';
import { checkPageSize, checkUnifiedKey, isInt, rdmaLine, readOptional, writeField } from './common.js';
import { cgroupError } from './errors.js';
import type { ManagerContext } from './types.js';

export interface V1Dirs {
  /** The v1 directory of a controller, or an 'unavailable' error naming `field`. */
  dir(controller: string, field: string): string;
  hasController(controller: string): boolean;
  /**
   * Hybrid only: the container's unified directory with `controller` (a v2
   * controller no v1 hierarchy has bound, like hugetlb on our machines)
   * enabled down to it; 'unavailable' naming `field` when it is not offered.
   */
  unifiedFor(controller: string, field: string): string;
}

const R = 'linux.resources';

function int(v: unknown, field: string, min = -1): number {
  if (!isInt(v) || v < min)
    throw cgroupError('invalid-argument', `${JSON.stringify(v)} is not an integer >= ${min}`, field);
  return v;
}

/** Set (not undefined and not 0): runc treats 0 as "leave unchanged" for these fields. */
const given = (v: number | undefined): v is number => v !== undefined && v !== 0;

export function setV1Resources(m: V1Dirs, ctx: ManagerContext, r: LinuxResources): void {
  if (r.cpu) {
    setCpuset(m, ctx, r.cpu);
    setCpu(m, ctx, r.cpu);
  }
  if (r.memory) setMemory(m, ctx, r.memory);
  if (r.pids) {
    const field = `${R}.pids.limit`;
    const limit = int(r.pids.limit, field, Number.MIN_SAFE_INTEGER);
    writeField(ctx.fs, m.dir('pids', field), 'pids.max', limit > 0 ? String(limit) : 'max', field);
  }
  if (r.blockIO) setBlkio(m, ctx, r.blockIO);
  (r.hugepageLimits ?? []).forEach((h, i) => {
    const field = `${R}.hugepageLimits[${i}]`;
    checkPageSize(h.pageSize, `${field}.pageSize`);
    const limit = String(int(h.limit, `${field}.limit`, 0));
    if (m.hasController('hugetlb'))
      writeField(ctx.fs, m.dir('hugetlb', field), `hugetlb.${h.pageSize}.limit_in_bytes`, limit, field);
    else writeField(ctx.fs, m.unifiedFor('hugetlb', field), `hugetlb.${h.pageSize}.max`, limit, field);
  });
  if (r.network?.classID !== undefined) {
    const field = `${R}.network.classID`;
    writeField(ctx.fs, m.dir('net_cls', field), 'net_cls.classid', String(int(r.network.classID, field, 0)), field);
  }
  (r.network?.priorities ?? []).forEach((p, i) => {
    const field = `${R}.network.priorities[${i}]`;
    if (!/^[^\s/]+$/.test(p.name))
      throw cgroupError('invalid-argument', `${JSON.stringify(p.name)} is not an interface name`, `${field}.name`);
    writeField(
      ctx.fs,
      m.dir('net_prio', field),
      'net_prio.ifpriomap',
      `${p.name} ${int(p.priority, `${field}.priority`, 0)}`,
      field,
    );
  });
  for (const [dev, lim] of Object.entries(r.rdma ?? {})) {
    const field = `${R}.rdma["${dev}"]`;
    const line = rdmaLine(dev, lim, field);
    writeField(
      ctx.fs,
      m.hasController('rdma') ? m.dir('rdma', field) : m.unifiedFor('rdma', field),
      'rdma.max',
      line,
      field,
    );
  }
  // cgroup v2 files: on a hybrid host, written in the unified directory when
  // that hierarchy offers their controller; on pure v1 there is nowhere to write them.
  for (const [key, value] of Object.entries(r.unified ?? {})) {
    const field = `${R}.unified["${key}"]`;
    checkUnifiedKey(key, value, field);
    if (ctx.layout.mode !== 'hybrid') {
      throw cgroupError(
        'unavailable',
        `cgroup v2 files need a cgroup v2 hierarchy; this host has only cgroup v1`,
        field,
      );
    }
    const controller = key.split('.')[0]!;
    writeField(
      ctx.fs,
      controller === 'cgroup' ? m.unifiedFor('', field) : m.unifiedFor(controller, field),
      key,
      value,
      field,
    );
  }
}

function setCpuset(m: V1Dirs, ctx: ManagerContext, c: LinuxCPU): void {
  for (const key of ['cpus', 'mems'] as const) {
    const v = c[key];
    if (v === undefined || v === '') continue;
    const field = `${R}.cpu.${key}`;
    if (!/^[0-9,\-\s]+$/.test(v))
      throw cgroupError('invalid-argument', `${JSON.stringify(v)} is not a list like "0-3,5"`, field);
    writeField(ctx.fs, m.dir('cpuset', field), `cpuset.${key}`, v, field);
  }
}

function setCpu(m: V1Dirs, ctx: ManagerContext, c: LinuxCPU): void {
  const f = (k: string): string => `${R}.cpu.${k}`;
  const dir = (k: string): string => m.dir('cpu', f(k));
  if (given(c.shares))
    writeField(ctx.fs, dir('shares'), 'cpu.shares', String(int(c.shares, f('shares'), 2)), f('shares'));
  const period = given(c.period) ? String(int(c.period, f('period'), 1)) : undefined;
  const quota = given(c.quota) ? String(int(c.quota, f('quota'))) : undefined;
  if (period !== undefined) {
    try {
      ctx.fs.writeFile(posix.join(dir('period'), 'cpu.cfs_period_us'), period);
    } catch (e) {
      // A shorter period can be refused while the old quota exceeds it: set the
      // quota first, then the period (runc does the same dance).
      if (errnoOf(e) !== 'EINVAL' || quota === undefined)
        writeField(ctx.fs, dir('period'), 'cpu.cfs_period_us', period, f('period'));
      writeField(ctx.fs, dir('quota'), 'cpu.cfs_quota_us', quota!, f('quota'));
      writeField(ctx.fs, dir('period'), 'cpu.cfs_period_us', period, f('period'));
    }
  }
  if (quota !== undefined) writeField(ctx.fs, dir('quota'), 'cpu.cfs_quota_us', quota, f('quota'));
  if (c.burst !== undefined)
    writeField(ctx.fs, dir('burst'), 'cpu.cfs_burst_us', String(int(c.burst, f('burst'), 0)), f('burst'));
  if (given(c.realtimePeriod)) {
    writeField(
      ctx.fs,
      dir('realtimePeriod'),
      'cpu.rt_period_us',
      String(int(c.realtimePeriod, f('realtimePeriod'), 1)),
      f('realtimePeriod'),
    );
  }
  if (given(c.realtimeRuntime)) {
    writeField(
      ctx.fs,
      dir('realtimeRuntime'),
      'cpu.rt_runtime_us',
      String(int(c.realtimeRuntime, f('realtimeRuntime'))),
      f('realtimeRuntime'),
    );
  }
  if (c.idle !== undefined) writeField(ctx.fs, dir('idle'), 'cpu.idle', String(int(c.idle, f('idle'), 0)), f('idle'));
}

function setMemory(m: V1Dirs, ctx: ManagerContext, mem: LinuxMemory): void {
  const f = (k: string): string => `${R}.memory.${k}`;
  const dir = (k: string): string => m.dir('memory', f(k));
  if (mem.kernel !== undefined && mem.kernel !== 0) {
    ctx.warn(`${f('kernel')} is deprecated by the kernel and ignored (as runc does)`);
  }
  const limit = given(mem.limit) ? int(mem.limit, f('limit')) : undefined;
  let swap = given(mem.swap) ? int(mem.swap, f('swap')) : undefined;
  if (limit !== undefined || swap !== undefined) {
    const d = dir(swap !== undefined ? 'swap' : 'limit');
    const hasMemsw = ctx.fs.exists(posix.join(d, 'memory.memsw.limit_in_bytes'));
    if (swap !== undefined && !hasMemsw) {
      throw cgroupError(
        'unavailable',
        'this host has no memory.memsw.limit_in_bytes (swap accounting off: boot with swapaccount=1)',
        f('swap'),
      );
    }
    // Unlimited memory without a swap setting means unlimited memory+swap too.
    if (limit === -1 && swap === undefined && hasMemsw) swap = -1;
    if (swap !== undefined && swap !== -1 && limit !== undefined && limit !== -1 && swap < limit) {
      throw cgroupError(
        'invalid-argument',
        `memory+swap (${swap}) must be at least the memory limit (${limit})`,
        f('swap'),
      );
    }
    const writeLimit = (): void => {
      if (limit !== undefined) writeField(ctx.fs, d, 'memory.limit_in_bytes', String(limit), f('limit'));
    };
    const writeSwap = (): void => {
      if (swap !== undefined) writeField(ctx.fs, d, 'memory.memsw.limit_in_bytes', String(swap), f('swap'));
    };
    // The kernel keeps limit <= memsw at every step: raise memsw first when it grows.
    const current = Number((readOptional(ctx.fs, d, 'memory.limit_in_bytes') ?? '0').trim());
    if (limit !== undefined && swap !== undefined && (swap === -1 || current < swap)) {
      writeSwap();
      writeLimit();
    } else {
      writeLimit();
      writeSwap();
    }
  }
  if (given(mem.reservation)) {
    writeField(
      ctx.fs,
      dir('reservation'),
      'memory.soft_limit_in_bytes',
      String(int(mem.reservation, f('reservation'))),
      f('reservation'),
    );
  }
  if (given(mem.kernelTCP)) {
    writeField(
      ctx.fs,
      dir('kernelTCP'),
      'memory.kmem.tcp.limit_in_bytes',
      String(int(mem.kernelTCP, f('kernelTCP'))),
      f('kernelTCP'),
    );
  }
  if (mem.swappiness !== undefined && mem.swappiness !== -1) {
    if (!isInt(mem.swappiness) || mem.swappiness < 0 || mem.swappiness > 100) {
      throw cgroupError('invalid-argument', `${mem.swappiness} is out of range (0-100)`, f('swappiness'));
    }
    writeField(ctx.fs, dir('swappiness'), 'memory.swappiness', String(mem.swappiness), f('swappiness'));
  }
  if (mem.disableOOMKiller === true)
    writeField(ctx.fs, dir('disableOOMKiller'), 'memory.oom_control', '1', f('disableOOMKiller'));
  if (mem.useHierarchy !== undefined) {
    writeField(ctx.fs, dir('useHierarchy'), 'memory.use_hierarchy', mem.useHierarchy ? '1' : '0', f('useHierarchy'));
  }
}

function setBlkio(m: V1Dirs, ctx: ManagerContext, b: LinuxBlockIO): void {
  const f = (k: string): string => `${R}.blockIO.${k}`;
  const weightRange = (v: unknown, field: string): number => {
    if (!isInt(v) || v < 10 || v > 1000)
      throw cgroupError('invalid-argument', `${JSON.stringify(v)} is out of range (10-1000)`, field);
    return v;
  };
  // CFQ's blkio.weight is gone from current kernels; BFQ's blkio.bfq.weight takes the same range.
  const weightFile = (d: string, field: string, device: boolean): string => {
    const names = device ? ['blkio.weight_device', 'blkio.bfq.weight_device'] : ['blkio.weight', 'blkio.bfq.weight'];
    const found = names.find((n) => ctx.fs.exists(posix.join(d, n)));
    if (!found)
      throw cgroupError(
        'unavailable',
        `this host has neither ${names.join(' nor ')} (no CFQ or BFQ I/O scheduler)`,
        field,
      );
    return found;
  };
  if (given(b.weight)) {
    const d = m.dir('blkio', f('weight'));
    writeField(ctx.fs, d, weightFile(d, f('weight'), false), String(weightRange(b.weight, f('weight'))), f('weight'));
  }
  if (given(b.leafWeight)) {
    writeField(
      ctx.fs,
      m.dir('blkio', f('leafWeight')),
      'blkio.leaf_weight',
      String(weightRange(b.leafWeight, f('leafWeight'))),
      f('leafWeight'),
    );
  }
  (b.weightDevice ?? []).forEach((w, i) => {
    const field = `${f('weightDevice')}[${i}]`;
    const d = m.dir('blkio', field);
    const dev = `${int(w.major, `${field}.major`, 0)}:${int(w.minor, `${field}.minor`, 0)}`;
    if (w.weight !== undefined) {
      writeField(
        ctx.fs,
        d,
        weightFile(d, `${field}.weight`, true),
        `${dev} ${weightRange(w.weight, `${field}.weight`)}`,
        `${field}.weight`,
      );
    }
    if (w.leafWeight !== undefined) {
      writeField(
        ctx.fs,
        d,
        'blkio.leaf_weight_device',
        `${dev} ${weightRange(w.leafWeight, `${field}.leafWeight`)}`,
        `${field}.leafWeight`,
      );
    }
  });
  const throttles = [
    ['throttleReadBpsDevice', 'blkio.throttle.read_bps_device'],
    ['throttleWriteBpsDevice', 'blkio.throttle.write_bps_device'],
    ['throttleReadIOPSDevice', 'blkio.throttle.read_iops_device'],
    ['throttleWriteIOPSDevice', 'blkio.throttle.write_iops_device'],
  ] as const;
  for (const [key, file] of throttles) {
    (b[key] ?? []).forEach((t, i) => {
      const field = `${f(key)}[${i}]`;
      const line = `${int(t.major, `${field}.major`, 0)}:${int(t.minor, `${field}.minor`, 0)} ${int(t.rate, `${field}.rate`, 0)}`;
      writeField(ctx.fs, m.dir('blkio', field), file, line, field);
    });
  }
}
