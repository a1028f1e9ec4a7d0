// POST /containers/{id}/update (`docker update`): new limits and restart
// policy, checked with dockerd's words (a bad value is a 400, a change that
// conflicts with what the container already has is a 409 "Cannot update
// container <id>: ..."), kept in the record for the next start, and applied
// at once to a running task through containerd's Tasks.Update (the runtime
// rewrites the cgroup files). When the runtime refuses, the record keeps its
// old values.

import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { BerthError, messageOf } from '../../common/errors.js';
import { badRequest, conflict, HttpError } from '../http/errors.js';
import type { HostConfig } from './body.js';
import type { ContainerRecord } from './record.js';
import { validRestartPolicy } from './restart.js';
import type { Runtime } from './runtime.js';
import { resources } from './spec.js';
import { BLKIO_WARNING, blkioWeightSupported } from './kernel.js';

const MIN_MEMORY = 6 * 1024 * 1024;

const UpdateBody = z.looseObject({
  Memory: z.number().int().nullish(),
  MemorySwap: z.number().int().nullish(),
  MemoryReservation: z.number().int().nullish(),
  NanoCpus: z.number().int().nullish(),
  CpuShares: z.number().int().nullish(),
  CpuPeriod: z.number().int().nullish(),
  CpuQuota: z.number().int().nullish(),
  CpusetCpus: z.string().nullish(),
  CpusetMems: z.string().nullish(),
  PidsLimit: z.number().int().nullish(),
  BlkioWeight: z.number().int().nullish(),
  CpuRealtimePeriod: z.number().int().nullish(),
  CpuRealtimeRuntime: z.number().int().nullish(),
  RestartPolicy: z
    .looseObject({ Name: z.string().optional(), MaximumRetryCount: z.number().int().optional() })
    .nullish(),
});
type Update = z.infer<typeof UpdateBody>;

/** "0-2,4" → [0,1,2,4], or undefined when it does not parse. */
function cpuList(s: string): number[] | undefined {
  const out: number[] = [];
  for (const part of s.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) return undefined;
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) return undefined;
    for (let i = a; i <= b; i++) out.push(i);
  }
  return out;
}

/** dockerd's verifyPlatformContainerResources for an update: 400s, and the warnings it answers with. */
function verify(u: Update): string[] {
  const warnings: string[] = [];
  const bad = (msg: string, field: string) => badRequest(msg, field);
  if (u.Memory && u.Memory < MIN_MEMORY) throw bad('Minimum memory limit allowed is 6MB', 'Memory');
  if (u.Memory && u.Memory > 0 && u.MemorySwap && u.MemorySwap > 0 && u.MemorySwap < u.Memory)
    throw bad('Minimum memoryswap limit should be larger than memory limit, see usage', 'MemorySwap');
  if (u.MemoryReservation && u.MemoryReservation < MIN_MEMORY)
    throw bad('Minimum memory reservation allowed is 6MB', 'MemoryReservation');
  if (u.Memory && u.Memory > 0 && u.MemoryReservation && u.MemoryReservation > u.Memory)
    throw bad('Minimum memory limit can not be less than memory reservation limit, see usage', 'MemoryReservation');
  if (u.NanoCpus && u.NanoCpus > 0 && u.CpuPeriod && u.CpuPeriod > 0)
    throw bad('Conflicting options: Nano CPUs and CPU Period cannot both be set', 'NanoCpus');
  if (u.NanoCpus && u.NanoCpus > 0 && u.CpuQuota && u.CpuQuota > 0)
    throw bad('Conflicting options: Nano CPUs and CPU Quota cannot both be set', 'NanoCpus');
  const n = availableParallelism();
  if (u.NanoCpus && (u.NanoCpus < 0 || u.NanoCpus > n * 1e9))
    throw bad(`Range of CPUs is from 0.01 to ${n}.00, as there are only ${n} CPUs available`, 'NanoCpus');
  if (u.CpuPeriod && (u.CpuPeriod < 1000 || u.CpuPeriod > 1_000_000))
    throw bad('CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)', 'CpuPeriod');
  if (u.CpuQuota && u.CpuQuota > 0 && u.CpuQuota < 1000)
    throw bad('CPU cfs quota can not be less than 1ms (i.e. 1000)', 'CpuQuota');
  if (u.CpusetCpus) {
    const cpus = cpuList(u.CpusetCpus);
    if (!cpus) throw bad(`Invalid value ${u.CpusetCpus} for cpuset cpus`, 'CpusetCpus');
    if (cpus.some((c) => c >= n))
      throw bad(`Requested CPUs are not available - requested ${u.CpusetCpus}, available: 0-${n - 1}`, 'CpusetCpus');
  }
  if (u.CpusetMems && !cpuList(u.CpusetMems)) throw bad(`Invalid value ${u.CpusetMems} for cpuset mems`, 'CpusetMems');
  if (u.BlkioWeight && u.BlkioWeight > 0) {
    if (!blkioWeightSupported()) {
      warnings.push(BLKIO_WARNING);
      u.BlkioWeight = 0;
    } else if (u.BlkioWeight < 10 || u.BlkioWeight > 1000)
      throw bad('Range of blkio weight is from 10 to 1000', 'BlkioWeight');
  }
  // Real-time CPU time needs its budget handed down the cgroup tree first (dockerd's --cpu-rt-runtime): not done.
  for (const f of ['CpuRealtimePeriod', 'CpuRealtimeRuntime'] as const)
    if (u[f]) throw badRequest(`${f}: berthd does not apply real-time CPU limits yet`, f);
  const policyErr = validRestartPolicy(u.RestartPolicy);
  if (policyErr) throw bad(policyErr, 'RestartPolicy');
  return warnings;
}

/** container.UpdateContainer: the update merged over the record, or the conflict dockerd names. */
function merge(h: HostConfig, u: Update): HostConfig {
  const out: HostConfig = { ...h };
  if (u.NanoCpus && u.NanoCpus > 0 && (h.CpuPeriod ?? 0) > 0)
    throw conflict('Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set');
  if (u.NanoCpus && u.NanoCpus > 0 && (h.CpuQuota ?? 0) > 0)
    throw conflict('Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set');
  if (u.CpuPeriod && u.CpuPeriod > 0 && (h.NanoCpus ?? 0) > 0)
    throw conflict('Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set');
  if (u.CpuQuota && u.CpuQuota > 0 && (h.NanoCpus ?? 0) > 0)
    throw conflict('Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set');
  if (u.BlkioWeight) out.BlkioWeight = u.BlkioWeight;
  if (u.CpuShares) out.CpuShares = u.CpuShares;
  if (u.NanoCpus) out.NanoCpus = u.NanoCpus;
  if (u.CpuPeriod) out.CpuPeriod = u.CpuPeriod;
  if (u.CpuQuota) out.CpuQuota = u.CpuQuota;
  if (u.CpusetCpus) out.CpusetCpus = u.CpusetCpus;
  if (u.CpusetMems) out.CpusetMems = u.CpusetMems;
  if (u.Memory) {
    // A new limit above the swap limit already set would leave memory+swap below memory.
    if (u.Memory > (h.MemorySwap ?? 0) && !u.MemorySwap)
      throw conflict(
        'Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time',
      );
    out.Memory = u.Memory;
  }
  if (u.MemorySwap) out.MemorySwap = u.MemorySwap;
  if (u.MemoryReservation) out.MemoryReservation = u.MemoryReservation;
  if (u.PidsLimit !== undefined && u.PidsLimit !== null) out.PidsLimit = u.PidsLimit > 0 ? u.PidsLimit : -1;
  if (u.RestartPolicy?.Name) {
    if (u.RestartPolicy.Name !== 'no' && h.AutoRemove)
      throw conflict('Restart policy cannot be updated because AutoRemove is enabled for the container');
    out.RestartPolicy = { Name: u.RestartPolicy.Name, MaximumRetryCount: u.RestartPolicy.MaximumRetryCount ?? 0 };
  }
  return out;
}

function prefixed(id: string, e: unknown): Error {
  const msg = `Cannot update container ${id}: ${messageOf(e)}`;
  if (e instanceof HttpError) return new HttpError(e.status, msg);
  if (e instanceof BerthError && e.code === 'already-exists') return conflict(msg);
  return new HttpError(500, msg);
}

export async function updateContainer(
  rt: Runtime,
  r: ContainerRecord,
  raw: unknown,
): Promise<{ Warnings: string[] | null }> {
  const p = UpdateBody.safeParse(raw ?? {});
  if (!p.success) {
    const issue = p.error.issues[0]!;
    const field = issue.path.join('.') || 'body';
    throw badRequest(`invalid update config: ${field}: ${issue.message}`, field);
  }
  const u = p.data;
  const warnings = verify(u);
  if (r.State.Status === 'removing' || r.State.Status === 'dead')
    throw prefixed(r.Id, new Error('container is marked for removal and cannot be "update"'));
  let next: HostConfig;
  try {
    next = merge(r.HostConfig, u);
  } catch (e) {
    throw prefixed(r.Id, e);
  }
  const before = r.HostConfig;
  r.HostConfig = next;
  try {
    // Paused counts as running; a restarting container gets the new limits at its next start.
    if (r.State.Status === 'running' || r.State.Status === 'paused') {
      const res = resources(r);
      // PidsLimit -1 (unlimited) must reach the runtime, which the start-time spec leaves out.
      if (next.PidsLimit === -1) res.pids = { limit: -1 };
      await rt.m.s.client.tasks.update(r.Id, res);
    }
    await rt.m.save(r);
  } catch (e) {
    r.HostConfig = before;
    throw prefixed(r.Id, e);
  }
  rt.m.s.events.emit('container', 'update', r.Id, { image: r.ImageRef, name: r.Name.slice(1) });
  rt.m.s.log.info('container updated', { container: r.Id, fields: Object.keys(u).join(',') });
  // dockerd's nil slice: null when there is nothing to say.
  return { Warnings: warnings.length ? warnings : null };
}
