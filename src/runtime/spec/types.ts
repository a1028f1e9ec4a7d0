// The OCI runtime specification (config.json and the state document), Linux
// parts, as of runtime-spec v1.2. These types describe a config *after*
// validate.ts has accepted it: enumerations are narrowed to the values we
// recognise, relative mount destinations are already resolved against "/",
// and fields the spec defines for other platforms are left out (unknown
// properties in the JSON are ignored, not carried).
//
// 64-bit integers (memory limits, seccomp argument values) are JavaScript
// numbers: JSON.parse cannot give more than 53 bits anyway, and values above
// 2^53 are rejected by the validator instead of silently rounded.

/** The whole config.json. */
export interface Spec {
  /** SemVer of the runtime-spec the config was written for; we accept 1.x. */
  ociVersion: string;
  /** The container's root filesystem. Required on Linux. */
  root?: Root;
  /** Additional mounts, performed in order after the root is set up. */
  mounts?: Mount[];
  /** The container's main process. Required by `start`; optional for `create`-only tooling. */
  process?: Process;
  hostname?: string;
  domainname?: string;
  hooks?: Hooks;
  annotations?: Record<string, string>;
  linux?: Linux;
}

export interface Root {
  /** Path to the root filesystem, absolute or relative to the bundle. */
  path: string;
  readonly?: boolean;
}

export interface Mount {
  /** Absolute path inside the container (relative ones are resolved against "/"). */
  destination: string;
  /** Filesystem type for mount(2): "proc", "tmpfs", "bind", ... */
  type?: string;
  /** Device name, directory (for binds) or a dummy such as "proc". */
  source?: string;
  /** mount(8)-style options: "ro", "nosuid", "rbind", "rprivate", "mode=755", ... */
  options?: string[];
  /** Idmapped mount mappings (require the "idmap"/"ridmap" options or a user ns). */
  uidMappings?: LinuxIDMapping[];
  gidMappings?: LinuxIDMapping[];
}

// ---------------------------------------------------------------- process

export interface Process {
  /** Allocate a pseudo-terminal and make it the process's stdio. */
  terminal?: boolean;
  consoleSize?: Box;
  user: User;
  /** argv; args[0] is looked up in PATH of `env` when it has no slash. Required for start. */
  args?: string[];
  /** Windows only in the spec; kept because it is a string and harmless. */
  commandLine?: string;
  /** "KEY=value" strings. */
  env?: string[];
  /** Absolute working directory inside the container. */
  cwd: string;
  capabilities?: LinuxCapabilities;
  rlimits?: POSIXRlimit[];
  noNewPrivileges?: boolean;
  apparmorProfile?: string;
  oomScoreAdj?: number;
  scheduler?: Scheduler;
  selinuxLabel?: string;
  ioPriority?: LinuxIOPriority;
  execCPUAffinity?: CPUAffinity;
}

export interface Box {
  height: number;
  width: number;
}

export interface User {
  uid: number;
  gid: number;
  umask?: number;
  additionalGids?: number[];
}

/** The capability names we know, CAP_CHOWN (0) to CAP_CHECKPOINT_RESTORE (40). */
export type Capability =
  | 'CAP_CHOWN'
  | 'CAP_DAC_OVERRIDE'
  | 'CAP_DAC_READ_SEARCH'
  | 'CAP_FOWNER'
  | 'CAP_FSETID'
  | 'CAP_KILL'
  | 'CAP_SETGID'
  | 'CAP_SETUID'
  | 'CAP_SETPCAP'
  | 'CAP_LINUX_IMMUTABLE'
  | 'CAP_NET_BIND_SERVICE'
  | 'CAP_NET_BROADCAST'
  | 'CAP_NET_ADMIN'
  | 'CAP_NET_RAW'
  | 'CAP_IPC_LOCK'
  | 'CAP_IPC_OWNER'
  | 'CAP_SYS_MODULE'
  | 'CAP_SYS_RAWIO'
  | 'CAP_SYS_CHROOT'
  | 'CAP_SYS_PTRACE'
  | 'CAP_SYS_PACCT'
  | 'CAP_SYS_ADMIN'
  | 'CAP_SYS_BOOT'
  | 'CAP_SYS_NICE'
  | 'CAP_SYS_RESOURCE'
  | 'CAP_SYS_TIME'
  | 'CAP_SYS_TTY_CONFIG'
  | 'CAP_MKNOD'
  | 'CAP_LEASE'
  | 'CAP_AUDIT_WRITE'
  | 'CAP_AUDIT_CONTROL'
  | 'CAP_SETFCAP'
  | 'CAP_MAC_OVERRIDE'
  | 'CAP_MAC_ADMIN'
  | 'CAP_SYSLOG'
  | 'CAP_WAKE_ALARM'
  | 'CAP_BLOCK_SUSPEND'
  | 'CAP_AUDIT_READ'
  | 'CAP_PERFMON'
  | 'CAP_BPF'
  | 'CAP_CHECKPOINT_RESTORE';

/** A known capability, or a well-formed name of one newer than Berth (ignored with a warning, as runc does). */
export type CapabilityName = Capability | `CAP_${string}`;

/** The five capability sets; a missing set means an empty one. */
export interface LinuxCapabilities {
  bounding?: CapabilityName[];
  effective?: CapabilityName[];
  inheritable?: CapabilityName[];
  permitted?: CapabilityName[];
  ambient?: CapabilityName[];
}

export type RlimitType =
  | 'RLIMIT_AS'
  | 'RLIMIT_CORE'
  | 'RLIMIT_CPU'
  | 'RLIMIT_DATA'
  | 'RLIMIT_FSIZE'
  | 'RLIMIT_LOCKS'
  | 'RLIMIT_MEMLOCK'
  | 'RLIMIT_MSGQUEUE'
  | 'RLIMIT_NICE'
  | 'RLIMIT_NOFILE'
  | 'RLIMIT_NPROC'
  | 'RLIMIT_RSS'
  | 'RLIMIT_RTPRIO'
  | 'RLIMIT_RTTIME'
  | 'RLIMIT_SIGPENDING'
  | 'RLIMIT_STACK';

export interface POSIXRlimit {
  type: RlimitType;
  hard: number;
  soft: number;
}

export type SchedulerPolicy =
  'SCHED_OTHER' | 'SCHED_FIFO' | 'SCHED_RR' | 'SCHED_BATCH' | 'SCHED_ISO' | 'SCHED_IDLE' | 'SCHED_DEADLINE';

export type SchedulerFlag =
  | 'SCHED_FLAG_RESET_ON_FORK'
  | 'SCHED_FLAG_RECLAIM'
  | 'SCHED_FLAG_DL_OVERRUN'
  | 'SCHED_FLAG_KEEP_POLICY'
  | 'SCHED_FLAG_KEEP_PARAMS'
  | 'SCHED_FLAG_UTIL_CLAMP_MIN'
  | 'SCHED_FLAG_UTIL_CLAMP_MAX';

/** sched_setattr(2) parameters; runtime/deadline/period are nanoseconds. */
export interface Scheduler {
  policy: SchedulerPolicy;
  nice?: number;
  priority?: number;
  flags?: SchedulerFlag[];
  runtime?: number;
  deadline?: number;
  period?: number;
}

export type IOPriorityClass = 'IOPRIO_CLASS_RT' | 'IOPRIO_CLASS_BE' | 'IOPRIO_CLASS_IDLE';

export interface LinuxIOPriority {
  class: IOPriorityClass;
  /** 0 (highest) to 7 (lowest). */
  priority: number;
}

/** CPU lists in cpuset syntax ("0-3,7") for the runtime's exec phase. */
export interface CPUAffinity {
  /** Affinity while the runtime joins the container (before cgroup placement). */
  initial?: string;
  /** Affinity once the process is in the container's cgroup. */
  final?: string;
}

// ---------------------------------------------------------------- hooks

export interface Hook {
  /** Absolute path on the host (runtime namespace). */
  path: string;
  /** argv, including argv[0]. */
  args?: string[];
  env?: string[];
  /** Seconds; must be > 0 when set. */
  timeout?: number;
}

export interface Hooks {
  /** Deprecated in favour of createRuntime; run in the runtime namespace after create. */
  prestart?: Hook[];
  createRuntime?: Hook[];
  createContainer?: Hook[];
  startContainer?: Hook[];
  poststart?: Hook[];
  poststop?: Hook[];
}

// ---------------------------------------------------------------- linux

export type NamespaceType = 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup' | 'time';

export interface LinuxNamespace {
  type: NamespaceType;
  /** Join this namespace (a /proc/<pid>/ns/<x> file or a bind mount of one) instead of creating one. */
  path?: string;
}

export interface LinuxIDMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export interface LinuxTimeOffset {
  secs?: number;
  nanosecs?: number;
}

export type DeviceType = 'c' | 'b' | 'u' | 'p';

/** A device node to create in the container's /dev. */
export interface LinuxDevice {
  path: string;
  type: DeviceType;
  major?: number;
  minor?: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

export type RootfsPropagation =
  'private' | 'rprivate' | 'shared' | 'rshared' | 'slave' | 'rslave' | 'unbindable' | 'runbindable';

export interface LinuxPersonality {
  domain: 'LINUX' | 'LINUX32';
  flags?: string[];
}

export interface LinuxIntelRdt {
  closID?: string;
  l3CacheSchema?: string;
  memBwSchema?: string;
  enableCMT?: boolean;
  enableMBM?: boolean;
  /** runtime-spec 1.3: raw resctrl schemata lines. */
  schemata?: string[];
  /** runtime-spec 1.3: replaces enableCMT/enableMBM. */
  enableMonitoring?: boolean;
}

/** runtime-spec 1.3: a host network device moved into the container's network namespace. */
export interface LinuxNetDevice {
  /** Name inside the container; defaults to the host name (the map key). */
  name?: string;
}

export type MemoryPolicyMode =
  | 'MPOL_DEFAULT'
  | 'MPOL_BIND'
  | 'MPOL_INTERLEAVE'
  | 'MPOL_WEIGHTED_INTERLEAVE'
  | 'MPOL_PREFERRED'
  | 'MPOL_PREFERRED_MANY'
  | 'MPOL_LOCAL';

export type MemoryPolicyFlag = 'MPOL_F_NUMA_BALANCING' | 'MPOL_F_RELATIVE_NODES' | 'MPOL_F_STATIC_NODES';

/** runtime-spec 1.3: set_mempolicy(2) for the container process. */
export interface LinuxMemoryPolicy {
  mode: MemoryPolicyMode;
  /** Node list such as "0-1,3". */
  nodes?: string;
  flags?: MemoryPolicyFlag[];
}

export interface Linux {
  namespaces?: LinuxNamespace[];
  uidMappings?: LinuxIDMapping[];
  gidMappings?: LinuxIDMapping[];
  /** Keys "monotonic" and "boottime". */
  timeOffsets?: Partial<Record<'monotonic' | 'boottime', LinuxTimeOffset>>;
  devices?: LinuxDevice[];
  cgroupsPath?: string;
  resources?: LinuxResources;
  intelRdt?: LinuxIntelRdt;
  sysctl?: Record<string, string>;
  seccomp?: LinuxSeccomp;
  rootfsPropagation?: RootfsPropagation;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  mountLabel?: string;
  personality?: LinuxPersonality;
  /** runtime-spec 1.3, keyed by host interface name. */
  netDevices?: Record<string, LinuxNetDevice>;
  /** runtime-spec 1.3. */
  memoryPolicy?: LinuxMemoryPolicy;
}

// ---------------------------------------------------------------- resources

export interface LinuxResources {
  devices?: LinuxDeviceCgroup[];
  memory?: LinuxMemory;
  cpu?: LinuxCPU;
  blockIO?: LinuxBlockIO;
  hugepageLimits?: LinuxHugepageLimit[];
  network?: LinuxNetwork;
  pids?: LinuxPids;
  /** Keyed by RDMA device name. */
  rdma?: Record<string, LinuxRdma>;
  /** cgroup v2 files, "memory.high": "1G"; written verbatim. */
  unified?: Record<string, string>;
}

/** One rule of the device cgroup (allow-list evaluated in order, last match wins). */
export interface LinuxDeviceCgroup {
  allow: boolean;
  /** 'a' (all), 'c' or 'b'; missing means all. */
  type?: 'a' | 'c' | 'b';
  /** Missing means any (-1 / "*"). */
  major?: number;
  minor?: number;
  /** Some of "rwm". */
  access?: string;
}

export interface LinuxMemory {
  /** Bytes; -1 for unlimited. */
  limit?: number;
  reservation?: number;
  /** memory+swap in bytes (v1 semantics); -1 for unlimited. */
  swap?: number;
  /** Deprecated (kernel memory limit); accepted and ignored by runc 1.1+. */
  kernel?: number;
  kernelTCP?: number;
  swappiness?: number;
  disableOOMKiller?: boolean;
  useHierarchy?: boolean;
  checkBeforeUpdate?: boolean;
}

export interface LinuxCPU {
  shares?: number;
  quota?: number;
  burst?: number;
  period?: number;
  realtimeRuntime?: number;
  realtimePeriod?: number;
  cpus?: string;
  mems?: string;
  /** cgroup v2 cpu.idle: 1 marks the cgroup SCHED_IDLE. */
  idle?: number;
}

export interface LinuxWeightDevice {
  major: number;
  minor: number;
  weight?: number;
  leafWeight?: number;
}

export interface LinuxThrottleDevice {
  major: number;
  minor: number;
  rate: number;
}

export interface LinuxBlockIO {
  weight?: number;
  leafWeight?: number;
  weightDevice?: LinuxWeightDevice[];
  throttleReadBpsDevice?: LinuxThrottleDevice[];
  throttleWriteBpsDevice?: LinuxThrottleDevice[];
  throttleReadIOPSDevice?: LinuxThrottleDevice[];
  throttleWriteIOPSDevice?: LinuxThrottleDevice[];
}

export interface LinuxHugepageLimit {
  /** "2MB", "1GB", ... */
  pageSize: string;
  limit: number;
}

export interface LinuxInterfacePriority {
  name: string;
  priority: number;
}

export interface LinuxNetwork {
  classID?: number;
  priorities?: LinuxInterfacePriority[];
}

export interface LinuxPids {
  /** 0 or -1 means unlimited (runc's reading). */
  limit: number;
}

export interface LinuxRdma {
  hcaHandles?: number;
  hcaObjects?: number;
}

// ---------------------------------------------------------------- seccomp

export type SeccompAction =
  | 'SCMP_ACT_KILL'
  | 'SCMP_ACT_KILL_PROCESS'
  | 'SCMP_ACT_KILL_THREAD'
  | 'SCMP_ACT_TRAP'
  | 'SCMP_ACT_ERRNO'
  | 'SCMP_ACT_TRACE'
  | 'SCMP_ACT_ALLOW'
  | 'SCMP_ACT_LOG'
  | 'SCMP_ACT_NOTIFY';

export type SeccompArch =
  | 'SCMP_ARCH_X86'
  | 'SCMP_ARCH_X86_64'
  | 'SCMP_ARCH_X32'
  | 'SCMP_ARCH_ARM'
  | 'SCMP_ARCH_AARCH64'
  | 'SCMP_ARCH_MIPS'
  | 'SCMP_ARCH_MIPS64'
  | 'SCMP_ARCH_MIPS64N32'
  | 'SCMP_ARCH_MIPSEL'
  | 'SCMP_ARCH_MIPSEL64'
  | 'SCMP_ARCH_MIPSEL64N32'
  | 'SCMP_ARCH_PPC'
  | 'SCMP_ARCH_PPC64'
  | 'SCMP_ARCH_PPC64LE'
  | 'SCMP_ARCH_S390'
  | 'SCMP_ARCH_S390X'
  | 'SCMP_ARCH_PARISC'
  | 'SCMP_ARCH_PARISC64'
  | 'SCMP_ARCH_RISCV64'
  // the four below entered the spec after 1.2 (libseccomp 2.6)
  | 'SCMP_ARCH_LOONGARCH64'
  | 'SCMP_ARCH_M68K'
  | 'SCMP_ARCH_SH'
  | 'SCMP_ARCH_SHEB';

export type SeccompFlag =
  // not in the spec; runc accepts it and ignores it, and so do we
  | 'SECCOMP_FILTER_FLAG_TSYNC'
  | 'SECCOMP_FILTER_FLAG_LOG'
  | 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'
  | 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV';

export type SeccompOperator =
  'SCMP_CMP_NE' | 'SCMP_CMP_LT' | 'SCMP_CMP_LE' | 'SCMP_CMP_EQ' | 'SCMP_CMP_GE' | 'SCMP_CMP_GT' | 'SCMP_CMP_MASKED_EQ';

export interface LinuxSeccompArg {
  /** Argument position, 0 to 5. */
  index: number;
  value: number;
  valueTwo?: number;
  op: SeccompOperator;
}

export interface LinuxSyscall {
  names: string[];
  action: SeccompAction;
  /** errno for SCMP_ACT_ERRNO / SCMP_ACT_TRACE; default EPERM. */
  errnoRet?: number;
  args?: LinuxSeccompArg[];
}

export interface LinuxSeccomp {
  defaultAction: SeccompAction;
  defaultErrnoRet?: number;
  architectures?: SeccompArch[];
  flags?: SeccompFlag[];
  /** Unix socket that receives the seccomp notify fd (required with SCMP_ACT_NOTIFY). */
  listenerPath?: string;
  listenerMetadata?: string;
  syscalls?: LinuxSyscall[];
}

// ---------------------------------------------------------------- state

export type ContainerStatus = 'creating' | 'created' | 'running' | 'stopped';

/** What `state` prints and what hooks read on stdin. */
export interface State {
  ociVersion: string;
  id: string;
  status: ContainerStatus;
  /** Host pid of the container process; absent once stopped (and while creating). */
  pid?: number;
  /** Absolute path of the bundle directory. */
  bundle: string;
  annotations?: Record<string, string>;
}
