// The HostConfig of a container's inspect as dockerd answers it: every field
// of the structure, the ones the create left out at their zero values
// ("not set"), so that clients reading HostConfig['Memory'] or
// HostConfig.PidsLimit (docker-py scripts, testcontainers) find them. Only
// fields whose unset value means the same in berthd are here; the IPC mode
// and /dev/shm size are the defaults berthd applies (spec.ts). The rest
// (Runtime, CgroupnsMode, MaskedPaths, ReadonlyPaths) dockerd fills from
// its own settings at create, and berthd leaves them out rather than guess.

const ZERO: Readonly<Record<string, unknown>> = {
  Binds: null,
  ContainerIDFile: '',
  LogConfig: { Type: 'json-file', Config: {} },
  NetworkMode: 'default',
  PortBindings: {},
  RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
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

/** The stored HostConfig over dockerd's zero values; a stored null, absent or default-meaning field shows the zero value. */
export function hostConfigView(stored: object): Record<string, unknown> {
  const out: Record<string, unknown> = { ...ZERO };
  for (const [k, v] of Object.entries(stored)) {
    if (v === undefined || (v === null && k in ZERO) || (k in UNSET_AS_DEFAULT && v === UNSET_AS_DEFAULT[k])) continue;
    out[k] = v;
  }
  return out;
}
