// dockerd's checks of a create body that berthd otherwise left to the start
// (or to the runtime's own words) or did not make at all: values a kernel or
// dockerd refuses are refused at create, with dockerd's words, so that no
// container is made that can never start (verifyContainerSettings and
// verifyPlatformContainerSettings in moby). Checked with the real docker CLI
// against dockerd 20.10 (scripts/docker-differential.ts).

import { readFileSync } from 'node:fs';
import { availableParallelism, constants } from 'node:os';
import { badRequest, notFound } from '../http/errors.js';
import type { CreateBody } from './body.js';

type HostConfig = NonNullable<CreateBody['HostConfig']>;

const MIN_MEMORY = 6 * 1024 * 1024;
/** Runtimes berthd runs a container with (the names /info lists). */
const RUNTIMES = ['runc', 'io.containerd.runc.v2'];

/** A cpuset list ("0-3,7") as the numbers it names; undefined when it is not one. */
function parseList(s: string): number[] | undefined {
  const out: number[] = [];
  for (const part of s.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) return undefined;
    const [a, b] = [Number(m[1]), Number(m[2] ?? m[1])];
    if (b < a) return undefined;
    for (let i = a; i <= b; i++) out.push(i);
  }
  return out;
}

function online(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '0';
  }
}

function cpuset(value: string | undefined, what: 'cpus' | 'mems'): void {
  if (!value) return;
  const want = parseList(value);
  if (!want) throw badRequest(`Invalid value ${value} for cpuset ${what}: invalid format: ${value}`, `Cpuset${what}`);
  const avail = online(what === 'cpus' ? '/sys/devices/system/cpu/online' : '/sys/devices/system/node/online');
  const have = new Set(parseList(avail) ?? []);
  if (want.some((n) => !have.has(n)))
    throw badRequest(
      what === 'cpus'
        ? `Requested CPUs are not available - requested ${value}, available: ${avail}`
        : `Requested memory nodes are not available - requested ${value}, available: ${avail}`,
      `Cpuset${what}`,
    );
}

function resources(h: HostConfig): void {
  const memory = h.Memory ?? 0;
  if (memory > 0 && memory < MIN_MEMORY) throw badRequest('Minimum memory limit allowed is 6MB', 'Memory');
  const swap = h.MemorySwap ?? 0;
  if (memory > 0 && swap > 0 && swap < memory)
    throw badRequest('Minimum memoryswap limit should be larger than memory limit, see usage', 'MemorySwap');
  if (memory === 0 && swap > 0)
    throw badRequest('You should always set the Memory limit when using Memoryswap limit, see usage', 'MemorySwap');
  const swappiness = h.MemorySwappiness;
  if (typeof swappiness === 'number' && swappiness !== -1 && (swappiness < 0 || swappiness > 100))
    throw badRequest(`Invalid value: ${swappiness}, valid memory swappiness range is 0-100`, 'MemorySwappiness');
  // accepted (a deprecated limit berthd does not apply, as dockerd on cgroup v2) but held to dockerd's minimum
  const kernel = (h.KernelMemory as number | undefined) ?? 0;
  if (kernel > 0 && kernel < MIN_MEMORY) throw badRequest('Minimum kernel memory limit allowed is 6MB', 'KernelMemory');
  const reservation = h.MemoryReservation ?? 0;
  if (reservation > 0 && reservation < MIN_MEMORY)
    throw badRequest('Minimum memory reservation allowed is 6MB', 'MemoryReservation');
  if (memory > 0 && reservation > 0 && memory < reservation)
    throw badRequest(
      'Minimum memory limit can not be less than memory reservation limit, see usage',
      'MemoryReservation',
    );
  const ncpu = availableParallelism();
  const nano = h.NanoCpus ?? 0;
  if (nano < 0 || nano > ncpu * 1e9)
    throw badRequest(`Range of CPUs is from 0.01 to ${ncpu}.00, as there are only ${ncpu} CPUs available`, 'NanoCpus');
  const period = h.CpuPeriod ?? 0;
  if (period !== 0 && (period < 1000 || period > 1000000))
    throw badRequest(
      'CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)',
      'CpuPeriod',
    );
  const quota = h.CpuQuota ?? 0;
  if (quota > 0 && quota < 1000) throw badRequest('CPU cfs quota can not be less than 1ms (i.e. 1000)', 'CpuQuota');
  cpuset(h.CpusetCpus, 'cpus');
  cpuset(h.CpusetMems, 'mems');
  const weight = h.BlkioWeight ?? 0;
  if (weight > 0 && (weight < 10 || weight > 1000))
    throw badRequest('Range of blkio weight is from 10 to 1000', 'BlkioWeight');
}

/** The checks of `docker create`; `exists` tells whether a container reference names one. */
export function verifyCreate(body: CreateBody, exists: (ref: string) => boolean): void {
  if (body.WorkingDir && !body.WorkingDir.startsWith('/'))
    throw badRequest(
      `the working directory '${body.WorkingDir}' is invalid, it needs to be an absolute path`,
      'WorkingDir',
    );
  const sig = body.StopSignal?.toUpperCase();
  if (sig && !/^\d+$/.test(sig) && !((sig.startsWith('SIG') ? sig : `SIG${sig}`) in constants.signals))
    throw badRequest(`Invalid signal: ${body.StopSignal}`, 'StopSignal');
  const h = body.HostConfig;
  if (!h) return;
  resources(h);
  const oom = h.OomScoreAdj ?? 0;
  if (oom < -1000 || oom > 1000)
    throw badRequest(`Invalid value ${oom}, range for oom score adj is [-1000, 1000]`, 'OomScoreAdj');
  const isolation = (h.Isolation as string | undefined) ?? '';
  if (isolation && isolation !== 'default')
    throw badRequest(`Invalid isolation: "${isolation}" - linux only supports 'default'`, 'Isolation');
  const cgroupns = h.CgroupnsMode ?? '';
  if (cgroupns && cgroupns !== 'host' && cgroupns !== 'private')
    throw badRequest(`invalid cgroup namespace mode: ${cgroupns}`, 'CgroupnsMode');
  const runtime = h.Runtime ?? '';
  if (runtime && !RUNTIMES.includes(runtime)) throw badRequest(`Unknown runtime specified ${runtime}`, 'Runtime');
  // dockerd reads the other container's security labels at create: it must exist (running is checked at start)
  for (const mode of [h.PidMode, h.IpcMode]) {
    const ref = mode?.startsWith('container:') ? mode.slice('container:'.length) : undefined;
    if (ref !== undefined && !exists(ref)) throw badRequest(`No such container: ${ref}`, 'HostConfig');
  }
  for (const link of (h.Links as string[] | null | undefined) ?? []) {
    const ref = link.split(':')[0]!.replace(/^\//, '');
    if (!exists(ref)) throw badRequest(`could not get container for ${ref}: No such container: ${ref}`, 'Links');
  }
  // no device drivers (nvidia, cdi) are registered: dockerd's words for a request none can serve
  for (const req of (h.DeviceRequests as { Driver?: string; Capabilities?: string[][] | null }[] | null | undefined) ??
    []) {
    const caps = `[${(req.Capabilities ?? []).map((c) => `[${c.join(' ')}]`).join(' ')}]`;
    throw badRequest(
      `could not select device driver "${req.Driver ?? ''}" with capabilities: ${caps}`,
      'DeviceRequests',
    );
  }
  const endpoints = (body.NetworkingConfig?.EndpointsConfig ?? {}) as Record<
    string,
    { IPAMConfig?: { IPv4Address?: string; IPv6Address?: string } | null } | null
  >;
  for (const [net, ep] of Object.entries(endpoints)) {
    const fixed = ep?.IPAMConfig?.IPv4Address || ep?.IPAMConfig?.IPv6Address;
    if (fixed && (['bridge', 'host', 'none', 'default'].includes(net) || net.startsWith('container:')))
      throw badRequest('user specified IP address is supported on user defined networks only', 'IPAMConfig');
  }
  const storage = (h.StorageOpt as Record<string, string> | null | undefined) ?? {};
  if (Object.keys(storage).length)
    throw badRequest("--storage-opt is supported only for overlay over xfs with 'pquota' mount option", 'StorageOpt');
}

/**
 * create?platform=os/arch[/variant]: the image must be for it. dockerd answers a mismatch 404, so that
 * the CLI pulls (the right platform, where the registry has one) and tries again.
 */
export function checkPlatform(
  ref: string,
  platform: string,
  config: { os?: string; architecture?: string; variant?: string },
): void {
  const [os = '', arch = '', variant = ''] = platform.toLowerCase().split('/');
  const have = `${config.os ?? ''}/${config.architecture ?? ''}${config.variant ? `/${config.variant}` : ''}`;
  if (
    (os && os !== config.os) ||
    (arch && arch !== config.architecture) ||
    (variant && config.variant && variant !== config.variant)
  )
    throw notFound(
      `image with reference ${ref} was found but does not match the specified platform: wanted ${platform}, actual: ${have}`,
    );
}
