// The HostConfig and Config of a container's inspect as dockerd marshals
// them. HostConfig: every field
// of the structure, the ones the create left out at their zero values
// ("not set"), so that clients reading HostConfig['Memory'] or
// HostConfig.PidsLimit (docker-py scripts, testcontainers) find them. Only
// fields whose unset value means the same in berthd are here; the IPC mode
// and /dev/shm size are the defaults berthd applies (spec.ts). Runtime,
// CgroupnsMode, MaskedPaths and ReadonlyPaths, which dockerd fills from its
// settings at create, show what berthd's spec applies when the create left
// them out (spec.ts: the same defaults).

import { READONLY_PROC_PATHS } from '../../runtime/spec/defaults.js';
import { cgroupnsMode, MASKED } from './spec.js';

const ZERO: Readonly<Record<string, unknown>> = {
  Binds: null,
  ContainerIDFile: '',
  LogConfig: { Type: 'json-file', Config: {} },
  NetworkMode: 'default',
  PortBindings: {},
  // dockerd keeps a create's policy as given: none is Name "" (the CLI sends "no")
  RestartPolicy: { Name: '', MaximumRetryCount: 0 },
  AutoRemove: false,
  VolumeDriver: '',
  VolumesFrom: null,
  ConsoleSize: [0, 0],
  CapAdd: null,
  CapDrop: null,
  Cgroup: '',
  Dns: null,
  DnsOptions: null,
  DnsSearch: null,
  ExtraHosts: null,
  GroupAdd: null,
  IpcMode: 'private',
  Links: null,
  OomScoreAdj: 0,
  PidMode: '',
  Privileged: false,
  PublishAllPorts: false,
  ReadonlyRootfs: false,
  SecurityOpt: null,
  UTSMode: '',
  UsernsMode: '',
  ShmSize: 64 * 1024 * 1024,
  Isolation: '',
  CpuShares: 0,
  Memory: 0,
  NanoCpus: 0,
  CgroupParent: '',
  BlkioWeight: 0,
  BlkioWeightDevice: null,
  BlkioDeviceReadBps: null,
  BlkioDeviceWriteBps: null,
  BlkioDeviceReadIOps: null,
  BlkioDeviceWriteIOps: null,
  CpuPeriod: 0,
  CpuQuota: 0,
  CpuRealtimePeriod: 0,
  CpuRealtimeRuntime: 0,
  CpusetCpus: '',
  CpusetMems: '',
  Devices: null,
  DeviceCgroupRules: null,
  DeviceRequests: null,
  MemoryReservation: 0,
  MemorySwap: 0,
  MemorySwappiness: null,
  OomKillDisable: false,
  PidsLimit: null,
  Ulimits: null,
  CpuCount: 0,
  CpuPercent: 0,
  IOMaximumIOps: 0,
  IOMaximumBandwidth: 0,
};

/** Values berthd reads as "the default" (spec.ts: `h.IpcMode || 'private'`, `h.ShmSize || 64 MiB`). */
const UNSET_AS_DEFAULT: Readonly<Record<string, unknown>> = { IpcMode: '', ShmSize: 0 };

/** Healthcheck durations and retries dockerd leaves out when unset (omitempty): a client's null is not echoed. */
const HEALTH_OMITEMPTY = ['Interval', 'Timeout', 'StartPeriod', 'StartInterval', 'Retries'];

/**
 * Config as dockerd marshals it: Domainname and OnBuild always there,
 * NetworkDisabled only when true, a Healthcheck without unset durations.
 */
export function configView(stored: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { Domainname: '', OnBuild: null, ...stored };
  if (!out.NetworkDisabled) delete out.NetworkDisabled;
  const hc = out.Healthcheck;
  if (hc && typeof hc === 'object') {
    const h: Record<string, unknown> = { ...(hc as Record<string, unknown>) };
    for (const k of HEALTH_OMITEMPTY) if (h[k] === null || h[k] === 0) delete h[k];
    out.Healthcheck = h;
  }
  return out;
}

/** The name the Docker API gives berthd's default containerd runtime: dockerd's "runc" is io.containerd.runc.v2. */
export function dockerRuntimeName(containerdRuntime: string): string {
  return containerdRuntime === 'io.containerd.runc.v2' ? 'runc' : containerdRuntime;
}

/** What the daemon applies to a container whose create left a setting out. */
export interface HostDefaults {
  /** The docker-side name of the default runtime (/info's DefaultRuntime). */
  runtime: string;
  cgroupV2: boolean;
}

/** The stored HostConfig over dockerd's zero values; a stored null, absent or default-meaning field shows the zero value. */
export function hostConfigView(stored: object, d: HostDefaults): Record<string, unknown> {
  const out: Record<string, unknown> = { ...ZERO };
  for (const [k, v] of Object.entries(stored)) {
    if (v === undefined || (v === null && k in ZERO) || (k in UNSET_AS_DEFAULT && v === UNSET_AS_DEFAULT[k])) continue;
    out[k] = v;
  }
  // dockerd lists the links it resolved: none is null, not []
  if (Array.isArray(out.Links) && out.Links.length === 0) out.Links = null;
  // dockerd's create turns "unlimited" (the CLI's 0 and -1) into null
  if (typeof out.PidsLimit === 'number' && out.PidsLimit <= 0) out.PidsLimit = null;
  if (out.MemorySwappiness === -1) out.MemorySwappiness = null;
  out.Runtime = out.Runtime || d.runtime;
  out.CgroupnsMode = cgroupnsMode(out.CgroupnsMode as string | undefined, d.cgroupV2);
  const privileged = out.Privileged === true;
  out.MaskedPaths = privileged ? null : (out.MaskedPaths ?? [...MASKED]);
  out.ReadonlyPaths = privileged ? null : (out.ReadonlyPaths ?? [...READONLY_PROC_PATHS]);
  return out;
}
