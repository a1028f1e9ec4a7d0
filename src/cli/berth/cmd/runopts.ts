// The flags of `run` and `create`, and their translation into the Engine
// API's create body (Config, HostConfig, NetworkingConfig). Malformed
// values are refused here with docker's messages, before any request.

import { readFileSync } from 'node:fs';
import type { Flags } from '../flags.js';
export { runFlags } from './runflags.js';
import { CliError } from '../errors.js';
import { FlagError } from '../flags.js';

/** go-units RAMInBytes: "512m", "1g", "100000" (binary multiples). */
export function ramInBytes(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?$/i.exec(s.trim());
  if (!m) throw new CliError(`invalid size: '${s}'`, 125);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 }[m[2]!.toLowerCase()]!;
  return Math.floor(Number(m[1]) * mult);
}

/** Go's time.ParseDuration for the forms people type (1s, 500ms, 1m30s), in nanoseconds. */
export function parseDuration(s: string, flag: string): number {
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let m: RegExpExecArray | null;
  let consumed = 0;
  const unit: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  while ((m = re.exec(s))) {
    total += Number(m[1]) * unit[m[2]!]!;
    consumed = re.lastIndex;
  }
  if (consumed !== s.length || s === '')
    throw new FlagError(`invalid argument "${s}" for "--${flag}" flag: time: invalid duration "${s}"`);
  return Math.round(total);
}

interface PortBinding {
  HostIp: string;
  HostPort: string;
}

function expandRange(s: string, what: string): [number, number] {
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  if (!m) throw new CliError(`invalid ${what}: ${s}`, 125);
  const a = Number(m[1]);
  const b = m[2] ? Number(m[2]) : a;
  if (a > 65535 || b > 65535 || b < a) throw new CliError(`invalid ${what}: ${s}`, 125);
  return [a, b];
}

/** -p [ip:][hostPort:]containerPort[/proto] into exposed ports and bindings. */
export function parsePublish(
  specs: string[],
  exposed: Record<string, object>,
  bindings: Record<string, PortBinding[]>,
): void {
  for (const spec of specs) {
    let rest = spec;
    let proto = 'tcp';
    const slash = rest.lastIndexOf('/');
    if (slash >= 0) {
      proto = rest.slice(slash + 1).toLowerCase();
      rest = rest.slice(0, slash);
      if (!['tcp', 'udp', 'sctp'].includes(proto)) throw new CliError(`invalid proto: ${proto}`, 125);
    }
    let ip = '';
    let hostPort = '';
    let containerPort: string;
    const v6 = /^\[([^\]]+)\]:(.*)$/.exec(rest);
    if (v6) {
      ip = v6[1]!;
      const parts = v6[2]!.split(':');
      if (parts.length !== 2) throw new CliError(`invalid port format for --publish: ${spec}`, 125);
      [hostPort, containerPort] = parts as [string, string];
    } else {
      const parts = rest.split(':');
      if (parts.length === 1) containerPort = parts[0]!;
      else if (parts.length === 2) [hostPort, containerPort] = parts as [string, string];
      else if (parts.length === 3) [ip, hostPort, containerPort] = parts as [string, string, string];
      else throw new CliError(`invalid port format for --publish: ${spec}`, 125);
    }
    if (containerPort === '') throw new CliError(`no port specified: ${spec}<empty>`, 125);
    const [c0, c1] = expandRange(containerPort, 'containerPort');
    let h0 = 0;
    let h1 = 0;
    if (hostPort) [h0, h1] = expandRange(hostPort, 'hostPort');
    if (hostPort && h1 - h0 !== c1 - c0 && h0 !== h1)
      throw new CliError(
        `invalid ranges specified for container and host Ports: ${containerPort} and ${hostPort}`,
        125,
      );
    for (let p = c0; p <= c1; p++) {
      const key = `${p}/${proto}`;
      exposed[key] = {};
      const hp = !hostPort ? '' : h0 === h1 && c0 !== c1 ? `${h0}` : String(h0 + (p - c0));
      (bindings[key] ??= []).push({ HostIp: ip, HostPort: hp });
    }
  }
}

/** --mount type=bind,source=/a,target=/b,readonly */
export function parseMount(spec: string): Record<string, unknown> {
  const m: Record<string, unknown> = { Type: 'volume' };
  const bind: Record<string, unknown> = {};
  const vol: Record<string, unknown> = {};
  const tmpfs: Record<string, unknown> = {};
  const bad = (msg: string) => new FlagError(`invalid argument "${spec}" for "--mount" flag: ${msg}`);
  for (const field of spec.split(',')) {
    const eq = field.indexOf('=');
    const key = (eq >= 0 ? field.slice(0, eq) : field).toLowerCase();
    const val = eq >= 0 ? field.slice(eq + 1) : undefined;
    const truthy = () => {
      if (val === undefined || ['1', 'true'].includes(val.toLowerCase())) return true;
      if (['0', 'false'].includes(val.toLowerCase())) return false;
      throw bad(`invalid value for ${key}: ${val}`);
    };
    if (val === undefined && !['readonly', 'ro', 'volume-nocopy', 'bind-nonrecursive'].includes(key))
      throw bad(`invalid field '${field}' must be a key=value pair`);
    switch (key) {
      case 'type':
        if (!['bind', 'volume', 'tmpfs', 'npipe', 'cluster', 'image'].includes(val!))
          throw bad(`invalid mount type: ${val}`);
        m.Type = val;
        break;
      case 'source':
      case 'src':
        m.Source = val;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        m.Target = val;
        break;
      case 'readonly':
      case 'ro':
        m.ReadOnly = truthy();
        break;
      case 'consistency':
        m.Consistency = val;
        break;
      case 'bind-propagation':
        bind.Propagation = val;
        break;
      case 'volume-driver':
        vol.DriverConfig = { Name: val };
        break;
      case 'volume-nocopy':
        vol.NoCopy = truthy();
        break;
      case 'volume-label': {
        const [k, ...v] = val!.split('=');
        vol.Labels = { ...(vol.Labels ?? {}), [k!]: v.join('=') };
        break;
      }
      case 'tmpfs-size':
        tmpfs.SizeBytes = ramInBytes(val!);
        break;
      case 'tmpfs-mode':
        tmpfs.Mode = parseInt(val!, 8);
        break;
      default:
        throw bad(`unexpected key '${key}' in '${field}'`);
    }
  }
  if (!m.Target) throw bad('target is required');
  if (m.Type === 'bind' && Object.keys(bind).length) m.BindOptions = bind;
  if (m.Type === 'volume' && Object.keys(vol).length) m.VolumeOptions = vol;
  if (m.Type === 'tmpfs' && Object.keys(tmpfs).length) m.TmpfsOptions = tmpfs;
  return m;
}

export function readEnvFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new CliError(
      `open ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`,
      125,
    );
  }
  return text
    .split('\n')
    .map((l) => l.replace(/^\s+/, ''))
    .filter((l) => l && !l.startsWith('#'));
}

function envValues(list: string[]): string[] {
  const out: string[] = [];
  for (const e of list) {
    if (e.includes('=')) out.push(e);
    else if (process.env[e] !== undefined) out.push(`${e}=${process.env[e]}`);
  }
  return out;
}

export interface CreateBody {
  body: Record<string, unknown>;
  name?: string;
  platform?: string;
}

export function buildCreate(f: Flags, image: string, cmd: string[]): CreateBody {
  const exposed: Record<string, object> = {};
  const bindings: Record<string, PortBinding[]> = {};
  parsePublish(f.list('publish'), exposed, bindings);
  for (const e of f.list('expose')) {
    const [port, proto = 'tcp'] = e.split('/');
    const [a, b] = expandRange(port!, 'range for expose');
    for (let p = a; p <= b; p++) exposed[`${p}/${proto}`] = {};
  }
  const volumes: Record<string, object> = {};
  const binds: string[] = [];
  for (const v of f.list('volume')) {
    const parts = v.split(':');
    if (v === '' || parts.some((p, i) => p === '' && i < parts.length - 1) || parts.length > 3)
      throw new CliError(`invalid spec: ${v}: empty section between colons`, 125);
    if (parts.length === 1) {
      if (!v.startsWith('/'))
        throw new CliError(
          `invalid volume specification: '${v}': invalid mount config for type "volume": invalid mount path: '${v}' mount path must be absolute`,
          125,
        );
      volumes[v] = {};
    } else {
      if (!parts[1]!.startsWith('/'))
        throw new CliError(
          `invalid volume specification: '${v}': invalid mount config for type "${parts[0]!.startsWith('/') ? 'bind' : 'volume'}": invalid mount path: '${parts[1]}' mount path must be absolute`,
          125,
        );
      binds.push(v);
    }
  }
  const tmpfs: Record<string, string> = {};
  for (const t of f.list('tmpfs')) {
    const i = t.indexOf(':');
    tmpfs[i >= 0 ? t.slice(0, i) : t] = i >= 0 ? t.slice(i + 1) : '';
  }
  const env = [...f.list('env-file').flatMap(readEnvFile), ...f.list('env')];
  const labels: Record<string, string> = {};
  for (const l of [...f.list('label-file').flatMap(readEnvFile), ...f.list('label')]) {
    const i = l.indexOf('=');
    labels[i >= 0 ? l.slice(0, i) : l] = i >= 0 ? l.slice(i + 1) : '';
  }
  const logOpts: Record<string, string> = {};
  for (const o of f.list('log-opt')) {
    const i = o.indexOf('=');
    if (i < 0) throw new CliError(`invalid key/value pair format in logging opts: ${o}`, 125);
    logOpts[o.slice(0, i)] = o.slice(i + 1);
  }
  let restart: Record<string, unknown> = { Name: 'no', MaximumRetryCount: 0 };
  if (f.string('restart')) {
    const [name, count] = f.string('restart').split(':');
    if (count !== undefined && !/^\d+$/.test(count))
      throw new CliError(`invalid restart policy format: maximum retry count must be an integer`, 125);
    restart = { Name: name, MaximumRetryCount: count ? Number(count) : 0 };
  }
  const ulimits = f.list('ulimit').map((u) => {
    const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(u);
    if (!m) throw new FlagError(`invalid argument "${u}" for "--ulimit" flag: invalid ulimit argument: ${u}`);
    return { Name: m[1], Soft: Number(m[2]), Hard: Number(m[3] ?? m[2]) };
  });
  let nanoCpus = 0;
  if (f.string('cpus')) {
    const c = Number(f.string('cpus'));
    if (!Number.isFinite(c))
      throw new FlagError(
        `invalid argument "${f.string('cpus')}" for "--cpus" flag: failed to parse ${f.string('cpus')} as a rational number`,
      );
    nanoCpus = Math.round(c * 1e9);
  }
  const extraHosts = f.list('add-host').map((h) => {
    const m = /^([^:=]+)[:=](.+)$/.exec(h);
    if (!m) throw new FlagError(`invalid argument "${h}" for "--add-host" flag: bad format for add-host: "${h}"`);
    return `${m[1]}:${m[2]}`;
  });
  const mounts = f.list('mount').map(parseMount);
  const tty = f.bool('tty');
  const interactive = f.bool('interactive');
  const attach = f.list('attach').map((a) => a.toLowerCase());
  const detached = f.bool('detach');
  let healthcheck: Record<string, unknown> | undefined;
  if (f.bool('no-healthcheck')) healthcheck = { Test: ['NONE'] };
  else if (
    [
      'health-cmd',
      'health-interval',
      'health-timeout',
      'health-retries',
      'health-start-period',
      'health-start-interval',
    ].some((n) => f.has(n))
  ) {
    healthcheck = {
      Test: f.has('health-cmd') ? ['CMD-SHELL', f.string('health-cmd')] : undefined,
      Interval: f.has('health-interval') ? parseDuration(f.string('health-interval'), 'health-interval') : 0,
      Timeout: f.has('health-timeout') ? parseDuration(f.string('health-timeout'), 'health-timeout') : 0,
      StartPeriod: f.has('health-start-period')
        ? parseDuration(f.string('health-start-period'), 'health-start-period')
        : 0,
      StartInterval: f.has('health-start-interval')
        ? parseDuration(f.string('health-start-interval'), 'health-start-interval')
        : 0,
      Retries: f.int('health-retries'),
    };
  }
  const devices = f.list('device').map((d) => {
    const [src, dst = src, perms = 'rwm'] = d.split(':');
    return { PathOnHost: src, PathInContainer: dst, CgroupPermissions: perms };
  });
  const sysctls: Record<string, string> = {};
  for (const s of f.list('sysctl')) {
    const i = s.indexOf('=');
    if (i < 0) throw new FlagError(`invalid argument "${s}" for "--sysctl" flag: ${s} is not a valid sysctl value`);
    sysctls[s.slice(0, i)] = s.slice(i + 1);
  }
  const config: Record<string, unknown> = {
    Hostname: f.string('hostname'),
    User: f.string('user'),
    AttachStdin: !detached && (interactive || attach.includes('stdin')),
    AttachStdout: !detached && (attach.length === 0 || attach.includes('stdout')),
    AttachStderr: !detached && (attach.length === 0 || attach.includes('stderr')),
    ExposedPorts: Object.keys(exposed).length ? exposed : undefined,
    Tty: tty,
    OpenStdin: interactive,
    StdinOnce: interactive && !detached,
    Env: envValues(env),
    Cmd: cmd.length ? cmd : null,
    Image: image,
    Volumes: Object.keys(volumes).length ? volumes : undefined,
    WorkingDir: f.string('workdir'),
    Entrypoint: f.has('entrypoint') ? (f.string('entrypoint') === '' ? [''] : [f.string('entrypoint')]) : undefined,
    Labels: labels,
    StopSignal: f.string('stop-signal') || undefined,
    StopTimeout: f.has('stop-timeout') ? f.int('stop-timeout') : undefined,
    Healthcheck: healthcheck,
  };
  const hostConfig: Record<string, unknown> = {
    Binds: binds.length ? binds : undefined,
    ContainerIDFile: f.string('cidfile'),
    LogConfig: { Type: f.string('log-driver'), Config: logOpts },
    NetworkMode: f.string('network') || 'default',
    PortBindings: bindings,
    RestartPolicy: restart,
    AutoRemove: f.bool('rm'),
    VolumesFrom: f.list('volumes-from').length ? f.list('volumes-from') : undefined,
    CapAdd: f.list('cap-add').length ? f.list('cap-add') : undefined,
    CapDrop: f.list('cap-drop').length ? f.list('cap-drop') : undefined,
    Dns: f.list('dns'),
    DnsOptions: f.list('dns-option'),
    DnsSearch: f.list('dns-search'),
    ExtraHosts: extraHosts.length ? extraHosts : undefined,
    GroupAdd: f.list('group-add').length ? f.list('group-add') : undefined,
    IpcMode: f.string('ipc'),
    PidMode: f.string('pid'),
    Privileged: f.bool('privileged'),
    PublishAllPorts: f.bool('publish-all'),
    ReadonlyRootfs: f.bool('read-only'),
    SecurityOpt: f.list('security-opt').length ? f.list('security-opt') : undefined,
    Tmpfs: Object.keys(tmpfs).length ? tmpfs : undefined,
    UTSMode: f.string('uts'),
    UsernsMode: f.string('userns'),
    ShmSize: f.has('shm-size') ? ramInBytes(f.string('shm-size')) : 0,
    Sysctls: Object.keys(sysctls).length ? sysctls : undefined,
    Runtime: f.string('runtime') || undefined,
    Init: f.has('init') ? f.bool('init') : undefined,
    CgroupParent: f.string('cgroup-parent'),
    CpuShares: f.int('cpu-shares'),
    Memory: f.has('memory') ? ramInBytes(f.string('memory')) : 0,
    MemorySwap: f.has('memory-swap')
      ? f.string('memory-swap') === '-1'
        ? -1
        : ramInBytes(f.string('memory-swap'))
      : 0,
    NanoCpus: nanoCpus,
    CpusetCpus: f.string('cpuset-cpus'),
    Devices: devices,
    OomKillDisable: f.has('oom-kill-disable') ? f.bool('oom-kill-disable') : undefined,
    PidsLimit: f.has('pids-limit') ? f.int('pids-limit') : undefined,
    Ulimits: ulimits.length ? ulimits : undefined,
    Mounts: mounts.length ? mounts : undefined,
  };
  const throttle = (name: string, rate: (v: string) => number) =>
    f.list(name).map((d) => {
      const i = d.lastIndexOf(':');
      if (i <= 0) throw new FlagError(`invalid argument "${d}" for "--${name}" flag: bad format: ${d}`);
      return { Path: d.slice(0, i), Rate: rate(d.slice(i + 1)) };
    });
  const iops = (v: string) => {
    if (!/^\d+$/.test(v)) throw new FlagError(`invalid argument "${v}" for IOPS: invalid rate for device`);
    return Number(v);
  };
  Object.assign(hostConfig, {
    BlkioWeight: f.int('blkio-weight'),
    BlkioWeightDevice: f.list('blkio-weight-device').map((d) => {
      const i = d.lastIndexOf(':');
      return { Path: d.slice(0, i), Weight: Number(d.slice(i + 1)) };
    }),
    BlkioDeviceReadBps: throttle('device-read-bps', ramInBytes),
    BlkioDeviceWriteBps: throttle('device-write-bps', ramInBytes),
    BlkioDeviceReadIOps: throttle('device-read-iops', iops),
    BlkioDeviceWriteIOps: throttle('device-write-iops', iops),
    CgroupnsMode: f.string('cgroupns') || undefined,
    CpuPeriod: f.int('cpu-period'),
    CpuQuota: f.int('cpu-quota'),
    CpuRealtimePeriod: f.int('cpu-rt-period'),
    CpuRealtimeRuntime: f.int('cpu-rt-runtime'),
    CpusetMems: f.string('cpuset-mems'),
    DeviceCgroupRules: f.list('device-cgroup-rule').length ? f.list('device-cgroup-rule') : undefined,
    Isolation: f.string('isolation') || undefined,
    KernelMemory: f.has('kernel-memory') ? ramInBytes(f.string('kernel-memory')) : 0,
    Links: f.list('link').length ? f.list('link') : undefined,
    MemoryReservation: f.has('memory-reservation') ? ramInBytes(f.string('memory-reservation')) : 0,
    MemorySwappiness:
      f.has('memory-swappiness') && f.int('memory-swappiness') !== -1 ? f.int('memory-swappiness') : undefined,
    OomScoreAdj: f.int('oom-score-adj'),
    StorageOpt: f.list('storage-opt').length
      ? Object.fromEntries(
          f.list('storage-opt').map((o): [string, string] => [o.split('=')[0]!, o.split('=').slice(1).join('=')]),
        )
      : undefined,
    VolumeDriver: f.string('volume-driver'),
  });
  if (f.string('gpus')) {
    const g = f.string('gpus');
    const count = g === 'all' ? -1 : /^\d+$/.test(g) ? Number(g) : undefined;
    if (count === undefined) throw new FlagError(`invalid argument "${g}" for "--gpus" flag: invalid count: ${g}`);
    hostConfig.DeviceRequests = [{ Driver: '', Count: count, DeviceIDs: null, Capabilities: [['gpu']], Options: {} }];
  }
  config.Domainname = f.string('domainname');
  if (f.string('mac-address')) config.MacAddress = f.string('mac-address');
  if (f.bool('use-api-socket')) {
    // The daemon's socket inside the container, where docker puts it.
    const sock = (process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock').replace(/^unix:\/\//, '');
    hostConfig.Mounts = [
      ...((hostConfig.Mounts as object[]) ?? []),
      { Type: 'bind', Source: sock, Target: '/var/run/docker.sock' },
    ];
  }
  const network = f.string('network') || 'default';
  const endpoints: Record<string, unknown> = {};
  if (f.string('ip') || f.string('ip6') || f.list('link-local-ip').length || f.list('network-alias').length) {
    if (network === 'default' && !f.list('network-alias').length)
      throw new CliError('--ip, --ip6 and --link-local-ip need a user-defined network (--network)', 125);
    endpoints[network] = {
      IPAMConfig: {
        IPv4Address: f.string('ip') || undefined,
        IPv6Address: f.string('ip6') || undefined,
        LinkLocalIPs: f.list('link-local-ip').length ? f.list('link-local-ip') : undefined,
      },
      Aliases: f.list('network-alias').length ? f.list('network-alias') : undefined,
    };
  }
  if (f.bool('rm') && restart.Name !== 'no') throw new CliError('Conflicting options: --restart and --rm', 125);
  return {
    body: { ...config, HostConfig: hostConfig, NetworkingConfig: { EndpointsConfig: endpoints } },
    name: f.string('name') || undefined,
    platform: f.string('platform') || undefined,
  };
}
