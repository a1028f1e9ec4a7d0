// The shape of config.json as zod/mini schemas. Only shape lives here (types,
// integer ranges, closed vocabularies); rules that relate fields to each other
// are in validate.ts. zod/mini rather than classic zod because it tree-shakes:
// the bundled CLI pays ~25 ms for it instead of ~50 ms (see validate.ts).
//
// Every schema carries its own message, phrased to follow a field path:
// "process.args: must be a non-empty array of strings". Objects are not
// strict: unknown properties are dropped, for forward compatibility.

import * as z from 'zod/mini';
import type { CapabilityName } from './types.js';
import type { Process, Spec } from './types.js';
import {
  CAPABILITIES,
  IO_PRIORITY_CLASSES,
  MEMORY_POLICY_FLAGS,
  MEMORY_POLICY_MODES,
  NAMESPACE_TYPES,
  RLIMITS,
  ROOTFS_PROPAGATIONS,
  SCHEDULER_FLAGS,
  SCHEDULER_POLICIES,
  SECCOMP_ACTIONS,
  SECCOMP_ARCHES,
  SECCOMP_FLAGS,
  SECCOMP_OPERATORS,
} from './names.js';

type ErrorFn = (iss: { input?: unknown }) => string;

/** A message for a value of the wrong type, or "is required" when it is missing. */
function expect(what: string): ErrorFn {
  return (iss) => (iss.input === undefined ? 'is required' : `must be ${what}`);
}

// Schemas are immutable, so equal ones are built once and shared: zod's
// constructors are the main start-up cost of this module.
const cache = new Map<string, unknown>();
function memo<T>(key: string, make: () => T): T {
  let v = cache.get(key) as T | undefined;
  if (v === undefined) {
    v = make();
    cache.set(key, v);
  }
  return v;
}

const str = (what = 'a string') => memo(`str:${what}`, () => z.string({ error: expect(what) }));
const bool = () => memo('bool', () => z.boolean({ error: expect('a boolean') }));
const obj = <S extends z.core.$ZodLooseShape>(shape: S) => z.object(shape, { error: expect('an object') });
const optionals = new WeakMap<object, unknown>();
function opt<T extends z.core.SomeType>(inner: T): z.ZodMiniOptional<T> {
  let o = optionals.get(inner) as z.ZodMiniOptional<T> | undefined;
  if (!o) {
    o = z.optional(inner);
    optionals.set(inner, o);
  }
  return o;
}

/** An integer in [min, max]. 64-bit fields allow the full range at double precision. */
function int(min: number, max: number, what?: string) {
  return memo(`int:${min}:${max}:${what}`, () => {
    const msg = what ?? `must be an integer from ${min} to ${max}`;
    return z
      .number({ error: expect(what ? what.replace(/^must be /, '') : 'an integer') })
      .check(z.refine((n) => Number.isInteger(n) && n >= min && n <= max, { error: msg }));
  });
}

const U32_MAX = 0xffff_ffff;
const I32_MIN = -0x8000_0000;
const I32_MAX = 0x7fff_ffff;
// 2^64 and 2^63 as doubles: JSON numbers like 18446744073709551615 (RLIM_INFINITY)
// parse to 2^64 exactly, so the upper bounds are inclusive of that rounding.
const U64_MAX = 2 ** 64;
const I64_MIN = -(2 ** 63);
const I64_MAX = 2 ** 63;

const u16 = () => int(0, 0xffff);
const u32 = () => int(0, U32_MAX);
const i32 = () => int(I32_MIN, I32_MAX);
const u64 = () => int(0, U64_MAX, 'must be a non-negative integer');
const i64 = () => int(I64_MIN, I64_MAX, 'must be an integer');

/** One of a closed list, with "unknown <noun> "x"" for anything else. */
function oneOf<const T extends string>(values: readonly T[], noun: string) {
  return memo(`enum:${noun}`, () =>
    z.enum(values as unknown as [T, ...T[]], {
      error: (iss) =>
        iss.input === undefined
          ? 'is required'
          : typeof iss.input === 'string'
            ? `unknown ${noun} ${JSON.stringify(iss.input)}`
            : 'must be a string',
    }),
  );
}

const strArray = (what = 'an array of strings') =>
  memo(`strs:${what}`, () => z.array(str(what), { error: expect(what) }));
const arr = <T extends z.core.SomeType>(item: T, what: string) => z.array(item, { error: expect(what) });
const strMap = (what = 'an object of strings') =>
  memo(`strmap:${what}`, () => z.record(z.string(), str(what), { error: expect(what) }));

// Building the schemas costs a few milliseconds, so it happens on the first
// parse, not at import: CLI verbs that never read config.json never pay it.
function build() {
  // ---------------------------------------------------------------- pieces

  const idMapping = obj({ containerID: u32(), hostID: u32(), size: u32() });
  const idMappings = () => arr(idMapping, 'an array of id mappings');

  const root = obj({ path: str(), readonly: opt(bool()) });

  const mount = obj({
    destination: str(),
    type: opt(str()),
    source: opt(str()),
    options: opt(strArray()),
    uidMappings: opt(idMappings()),
    gidMappings: opt(idMappings()),
  });

  // Like runc, a well-formed capability name this runtime does not know (one
  // newer than it, or than the kernel) is accepted and then ignored with a
  // warning (plan/compile.ts), so configs written for newer systems still run.
  const capName = () =>
    memo(
      'capname',
      () =>
        z.string({ error: expect('a capability name') }).check(
          z.refine((c) => (CAPABILITIES as readonly string[]).includes(c) || /^CAP_[A-Z0-9_]+$/.test(c), {
            error: (iss) => `unknown capability ${JSON.stringify(iss.input)}`,
          }),
        ) as unknown as z.ZodMiniType<CapabilityName>,
    );
  const capSet = () => opt(arr(capName(), 'an array of capability names'));

  const proc = obj({
    terminal: opt(bool()),
    consoleSize: opt(obj({ height: u32(), width: u32() })),
    user: obj({ uid: u32(), gid: u32(), umask: opt(u32()), additionalGids: opt(arr(u32(), 'an array of gids')) }),
    args: opt(strArray('a non-empty array of strings')),
    commandLine: opt(str()),
    env: opt(strArray('an array of "KEY=value" strings')),
    cwd: str('an absolute path'),
    capabilities: opt(
      obj({ bounding: capSet(), effective: capSet(), inheritable: capSet(), permitted: capSet(), ambient: capSet() }),
    ),
    rlimits: opt(arr(obj({ type: oneOf(RLIMITS, 'rlimit'), hard: u64(), soft: u64() }), 'an array of rlimits')),
    noNewPrivileges: opt(bool()),
    apparmorProfile: opt(str()),
    oomScoreAdj: opt(int(-1000, 1000)),
    scheduler: opt(
      obj({
        policy: oneOf(SCHEDULER_POLICIES, 'scheduler policy'),
        nice: opt(i32()),
        priority: opt(i32()),
        flags: opt(arr(oneOf(SCHEDULER_FLAGS, 'scheduler flag'), 'an array of scheduler flags')),
        runtime: opt(u64()),
        deadline: opt(u64()),
        period: opt(u64()),
      }),
    ),
    selinuxLabel: opt(str()),
    ioPriority: opt(obj({ class: oneOf(IO_PRIORITY_CLASSES, 'I/O priority class'), priority: int(0, 7) })),
    execCPUAffinity: opt(obj({ initial: opt(str()), final: opt(str()) })),
  });

  const hook = obj({
    path: str('an absolute path'),
    args: opt(strArray()),
    env: opt(strArray()),
    timeout: opt(int(1, I32_MAX, 'must be a positive integer (seconds)')),
  });
  const hookList = () => opt(arr(hook, 'an array of hooks'));
  const hooks = obj({
    prestart: hookList(),
    createRuntime: hookList(),
    createContainer: hookList(),
    startContainer: hookList(),
    poststart: hookList(),
    poststop: hookList(),
  });

  // ---------------------------------------------------------------- resources

  const throttle = obj({ major: i64(), minor: i64(), rate: u64() });
  const throttleList = () => opt(arr(throttle, 'an array of throttle devices'));

  const resources = obj({
    devices: opt(
      arr(
        obj({
          allow: bool(),
          type: opt(oneOf(['a', 'c', 'b'], 'device cgroup type')),
          major: opt(i64()),
          minor: opt(i64()),
          access: opt(str()),
        }),
        'an array of device rules',
      ),
    ),
    memory: opt(
      obj({
        limit: opt(i64()),
        reservation: opt(i64()),
        swap: opt(i64()),
        kernel: opt(i64()),
        kernelTCP: opt(i64()),
        swappiness: opt(u64()),
        disableOOMKiller: opt(bool()),
        useHierarchy: opt(bool()),
        checkBeforeUpdate: opt(bool()),
      }),
    ),
    cpu: opt(
      obj({
        shares: opt(u64()),
        quota: opt(i64()),
        burst: opt(u64()),
        period: opt(u64()),
        realtimeRuntime: opt(i64()),
        realtimePeriod: opt(u64()),
        cpus: opt(str()),
        mems: opt(str()),
        idle: opt(i64()),
      }),
    ),
    blockIO: opt(
      obj({
        weight: opt(u16()),
        leafWeight: opt(u16()),
        weightDevice: opt(
          arr(
            obj({ major: i64(), minor: i64(), weight: opt(u16()), leafWeight: opt(u16()) }),
            'an array of weight devices',
          ),
        ),
        throttleReadBpsDevice: throttleList(),
        throttleWriteBpsDevice: throttleList(),
        throttleReadIOPSDevice: throttleList(),
        throttleWriteIOPSDevice: throttleList(),
      }),
    ),
    hugepageLimits: opt(arr(obj({ pageSize: str(), limit: u64() }), 'an array of hugepage limits')),
    network: opt(
      obj({
        classID: opt(u32()),
        priorities: opt(arr(obj({ name: str(), priority: u32() }), 'an array of interface priorities')),
      }),
    ),
    pids: opt(obj({ limit: i64() })),
    rdma: opt(
      z.record(z.string(), obj({ hcaHandles: opt(u32()), hcaObjects: opt(u32()) }), { error: expect('an object') }),
    ),
    unified: opt(strMap()),
  });

  // ---------------------------------------------------------------- seccomp

  const seccomp = obj({
    defaultAction: oneOf(SECCOMP_ACTIONS, 'seccomp action'),
    defaultErrnoRet: opt(u32()),
    architectures: opt(arr(oneOf(SECCOMP_ARCHES, 'seccomp architecture'), 'an array of architectures')),
    flags: opt(arr(oneOf(SECCOMP_FLAGS, 'seccomp flag'), 'an array of seccomp flags')),
    listenerPath: opt(str()),
    listenerMetadata: opt(str()),
    syscalls: opt(
      arr(
        obj({
          names: z.array(str('a non-empty array of syscall names'), {
            error: expect('a non-empty array of syscall names'),
          }),
          action: oneOf(SECCOMP_ACTIONS, 'seccomp action'),
          errnoRet: opt(u32()),
          args: opt(
            arr(
              obj({
                index: int(0, 5),
                value: u64(),
                valueTwo: opt(u64()),
                op: oneOf(SECCOMP_OPERATORS, 'seccomp operator'),
              }),
              'an array of argument conditions',
            ),
          ),
        }),
        'an array of syscall rules',
      ),
    ),
  });

  // ---------------------------------------------------------------- linux

  const linux = obj({
    namespaces: opt(
      arr(obj({ type: oneOf(NAMESPACE_TYPES, 'namespace'), path: opt(str()) }), 'an array of namespaces'),
    ),
    uidMappings: opt(idMappings()),
    gidMappings: opt(idMappings()),
    timeOffsets: opt(
      z.record(z.string(), obj({ secs: opt(i64()), nanosecs: opt(u32()) }), {
        error: expect('an object of time offsets'),
      }),
    ),
    devices: opt(
      arr(
        obj({
          path: str('an absolute path'),
          type: oneOf(['c', 'b', 'u', 'p'], 'device type'),
          major: opt(i64()),
          minor: opt(i64()),
          fileMode: opt(int(0, 0o7777)),
          uid: opt(u32()),
          gid: opt(u32()),
        }),
        'an array of devices',
      ),
    ),
    cgroupsPath: opt(str()),
    resources: opt(resources),
    intelRdt: opt(
      obj({
        closID: opt(str()),
        l3CacheSchema: opt(str()),
        memBwSchema: opt(str()),
        enableCMT: opt(bool()),
        enableMBM: opt(bool()),
        schemata: opt(strArray()),
        enableMonitoring: opt(bool()),
      }),
    ),
    sysctl: opt(strMap()),
    seccomp: opt(seccomp),
    rootfsPropagation: opt(oneOf(ROOTFS_PROPAGATIONS, 'rootfs propagation')),
    maskedPaths: opt(strArray('an array of absolute paths')),
    readonlyPaths: opt(strArray('an array of absolute paths')),
    mountLabel: opt(str()),
    personality: opt(obj({ domain: oneOf(['LINUX', 'LINUX32'], 'personality domain'), flags: opt(strArray()) })),
    netDevices: opt(z.record(z.string(), obj({ name: opt(str()) }), { error: expect('an object') })),
    memoryPolicy: opt(
      obj({
        mode: oneOf(MEMORY_POLICY_MODES, 'memory policy mode'),
        nodes: opt(str()),
        flags: opt(arr(oneOf(MEMORY_POLICY_FLAGS, 'memory policy flag'), 'an array of memory policy flags')),
      }),
    ),
  });

  const spec = z.object(
    {
      ociVersion: str(),
      root: opt(root),
      mounts: opt(arr(mount, 'an array of mounts')),
      process: opt(proc),
      hostname: opt(str()),
      domainname: opt(str()),
      hooks: opt(hooks),
      annotations: opt(strMap()),
      linux: opt(linux),
    },
    { error: () => 'must be a JSON object' },
  );
  return { spec, process: proc };
}

type Built = ReturnType<typeof build>;
let built: Built | undefined;

/** The config.json schema (built once, on first use). */
export function specSchema(): Built['spec'] {
  built ??= build();
  return built.spec;
}

/** The schema of one process object (config.json's "process", or `exec --process` files). */
export function processSchema(): Built['process'] {
  built ??= build();
  return built.process;
}

// The schema's output must stay assignable to the hand-written Spec type: if
// one drifts from the other, this line stops compiling.
export type SchemaOutput = z.infer<Built['spec']>;
const _drift: (s: SchemaOutput) => Spec = (s) => s;
const _driftProcess: (p: z.infer<Built['process']>) => Process = (p) => p;
void _drift;
void _driftProcess;
