// berthd's settings: flags, then /etc/berth/daemon.json, in dockerd's spirit:
// the same names where dockerd has them (hosts, data-root, exec-root,
// log-level, live-restore, insecure-registries, group, pidfile), an unknown
// key in the file or a setting given both as a flag and in the file is an
// error naming it, and the socket is root-only unless a group is named.

import { readFileSync } from 'node:fs';
import { BerthError, errnoOf, messageOf } from '../common/errors.js';
import type { Level } from '../common/log.js';
import { defaultBridgeOf } from './networking/bip.js';
import { checkAddressPool, type AddressPool } from './network/index.js';
import { logSettings } from './containers/logdriver.js';

export interface DaemonConfig {
  hosts: string[];
  containerd: string;
  containerdNamespace: string;
  dataRoot: string;
  execRoot: string;
  logLevel: Level;
  liveRestore: boolean;
  snapshotter: string;
  runtime: string;
  insecureRegistries?: string[];
  group?: string;
  pidfile?: string;
  /** The default bridge's interface name (dockerd's --bridge/-b); 'none' turns the default bridge off. */
  bridge?: string;
  /** The default bridge's gateway address and prefix (dockerd's --bip, e.g. 10.50.0.1/24). */
  bip?: string;
  /** Berth's iptables chains and rules (NAT, published ports, isolation); off: none are made. */
  iptables: boolean;
  /** Turn on net.ipv4.ip_forward at start, as dockerd does. */
  ipForward: boolean;
  /** Where networks without --subnet take theirs (dockerd's default-address-pools); Docker's pools when absent. */
  defaultAddressPools?: AddressPool[];
  /** A container's log driver and options when its LogConfig names none (dockerd's log-driver, log-opts). */
  logDriver: string;
  logOpts: Record<string, string>;
  configFile: string;
}

export const DEFAULTS: DaemonConfig = {
  hosts: ['unix:///run/berth/berthd.sock'],
  containerd: '/run/containerd/containerd.sock',
  // Not "moby": a dockerd on the same containerd keeps its containers apart from ours.
  containerdNamespace: 'berthd',
  dataRoot: '/var/lib/berthd',
  execRoot: '/run/berthd',
  logLevel: 'info',
  liveRestore: true,
  snapshotter: 'overlayfs',
  runtime: 'io.containerd.runc.v2',
  iptables: true,
  ipForward: true,
  logDriver: 'json-file',
  logOpts: {},
  configFile: '/etc/berth/daemon.json',
};

type Key = Exclude<keyof DaemonConfig, 'configFile'>;

/** daemon.json key → setting, and whether it is a list. */
const FILE_KEYS: Record<string, { key: Key; kind: 'string' | 'bool' | 'list' | 'pools' | 'map' }> = {
  hosts: { key: 'hosts', kind: 'list' },
  containerd: { key: 'containerd', kind: 'string' },
  'containerd-namespace': { key: 'containerdNamespace', kind: 'string' },
  'data-root': { key: 'dataRoot', kind: 'string' },
  'exec-root': { key: 'execRoot', kind: 'string' },
  'log-level': { key: 'logLevel', kind: 'string' },
  'live-restore': { key: 'liveRestore', kind: 'bool' },
  snapshotter: { key: 'snapshotter', kind: 'string' },
  'default-runtime': { key: 'runtime', kind: 'string' },
  'insecure-registries': { key: 'insecureRegistries', kind: 'list' },
  group: { key: 'group', kind: 'string' },
  pidfile: { key: 'pidfile', kind: 'string' },
  bridge: { key: 'bridge', kind: 'string' },
  bip: { key: 'bip', kind: 'string' },
  iptables: { key: 'iptables', kind: 'bool' },
  'ip-forward': { key: 'ipForward', kind: 'bool' },
  'default-address-pools': { key: 'defaultAddressPools', kind: 'pools' },
  'log-driver': { key: 'logDriver', kind: 'string' },
  'log-opts': { key: 'logOpts', kind: 'map' },
};

/** Flag → daemon.json key (the flag names are the file's keys, plus short forms). */
const FLAG_ALIASES: Record<string, string> = {
  '-H': 'hosts',
  '--host': 'hosts',
  '-G': 'group',
  '--insecure-registry': 'insecure-registries',
  '--runtime': 'default-runtime',
  '-l': 'log-level',
  '-p': 'pidfile',
  '-b': 'bridge',
  '--log-opt': 'log-opts',
};

const LEVELS: Record<string, Level> = {
  debug: 'debug',
  info: 'info',
  warn: 'warning',
  warning: 'warning',
  error: 'error',
  fatal: 'fatal',
};

export const USAGE = `Usage: berthd [OPTIONS]

The Docker Engine API on containerd's API.

  -H, --host ADDR              listen on unix:///PATH or tcp://127.0.0.1:PORT (repeatable; default unix:///run/berth/berthd.sock)
      --containerd ADDR        containerd's (or berth-engine's) socket (default /run/containerd/containerd.sock)
      --containerd-namespace N containerd namespace of berthd's images and containers (default berthd)
      --data-root DIR          container records and logs (default /var/lib/berthd)
      --exec-root DIR          stdio FIFOs and other run-time files (default /run/berthd)
  -l, --log-level LEVEL        debug, info, warn, error, fatal (default info)
      --live-restore[=BOOL]    keep containers running while berthd is down (default true)
      --snapshotter NAME       containerd snapshotter (default overlayfs)
      --runtime NAME           containerd runtime (default io.containerd.runc.v2)
      --insecure-registry H    registry reached over plain HTTP (repeatable; default 127.0.0.0/8)
  -G, --group NAME             group owning the unix sockets (default root only, mode 0660)
  -p, --pidfile FILE           write berthd's pid there
  -b, --bridge NAME            the default bridge's interface (default berth0); none: no default bridge,
                               containers without --network get loopback only
      --bip CIDR               the default bridge's gateway address and prefix, e.g. 10.50.0.1/24 (default: the
                               first subnet of the address pools no host route or network uses: 172.17.0.1/16
                               when it is free)
      --iptables[=BOOL]        NAT, published ports and isolation through iptables (default true)
      --ip-forward[=BOOL]      turn on net.ipv4.ip_forward at start (default true)
      --default-address-pools base=CIDR,size=N
                               where networks without --subnet take theirs (repeatable; default Docker's pools)
      --log-driver NAME        containers' default log driver: json-file, local, none (default json-file)
      --log-opt K=V            its default options, e.g. max-size=10m (repeatable)
      --config-file FILE       daemon.json (default /etc/berth/daemon.json; missing is fine)
  -v, --version                print the version and exit
`;

function bad(msg: string, field?: string): BerthError {
  return new BerthError('berthd', 'invalid-argument', msg, { field });
}

function setValue(cfg: DaemonConfig, fileKey: string, raw: unknown, where: string): void {
  const spec = FILE_KEYS[fileKey];
  if (!spec) throw bad(`${where}: unknown setting "${fileKey}"`, fileKey);
  const target = cfg as unknown as Record<string, unknown>;
  if (spec.kind === 'pools') {
    target[spec.key] = parsePools(raw, `${where}: "${fileKey}"`);
  } else if (spec.kind === 'map') {
    // {"k": "v"} in the file; repeated --log-opt k=v flags
    const pair = (x: unknown): unknown[] =>
      typeof x === 'string' && x.includes('=') ? [x.slice(0, x.indexOf('=')), x.slice(x.indexOf('=') + 1)] : [x];
    const entries: unknown[][] = Array.isArray(raw)
      ? (raw as unknown[]).map(pair)
      : raw && typeof raw === 'object'
        ? Object.entries(raw)
        : [[raw]];
    if (!entries.every((e) => e.length === 2 && typeof e[1] === 'string'))
      throw bad(`${where}: "${fileKey}" must be a map of strings (key=value)`, fileKey);
    target[spec.key] = Object.fromEntries(entries);
  } else if (spec.kind === 'list') {
    const list = Array.isArray(raw) ? raw : [raw];
    if (!list.every((x) => typeof x === 'string'))
      throw bad(`${where}: "${fileKey}" must be a list of strings`, fileKey);
    target[spec.key] = list;
  } else if (spec.kind === 'bool') {
    if (typeof raw === 'boolean') target[spec.key] = raw;
    else if (raw === 'true' || raw === 'false') target[spec.key] = raw === 'true';
    else throw bad(`${where}: "${fileKey}" must be true or false, not ${JSON.stringify(raw)}`, fileKey);
  } else {
    if (typeof raw !== 'string' || raw === '') throw bad(`${where}: "${fileKey}" must be a non-empty string`, fileKey);
    if (spec.key === 'logLevel') {
      const l = LEVELS[raw];
      if (!l) throw bad(`${where}: unknown log level "${raw}" (debug, info, warn, error, fatal)`, fileKey);
      target[spec.key] = l;
    } else target[spec.key] = raw;
  }
}

/** daemon.json's [{"base": "10.10.0.0/16", "size": 24}], or the flag's "base=10.10.0.0/16,size=24" (repeatable). */
function parsePools(raw: unknown, where: string): AddressPool[] {
  const list = Array.isArray(raw) ? (raw as unknown[]) : [raw];
  const pools = list.map((x): AddressPool => {
    let o: Record<string, unknown>;
    if (typeof x === 'string') {
      o = {};
      for (const kv of x.split(',')) {
        const i = kv.indexOf('=');
        const k = kv.slice(0, i).trim();
        const v = kv.slice(i + 1).trim();
        o[k] = k === 'size' ? Number(v) : v;
      }
    } else if (x && typeof x === 'object') o = x as Record<string, unknown>;
    else throw bad(`${where} must be a list of {"base": CIDR, "size": N}`, 'default-address-pools');
    const unknown = Object.keys(o).filter((k) => k !== 'base' && k !== 'size');
    if (unknown.length || typeof o.base !== 'string' || typeof o.size !== 'number')
      throw bad(`${where}: each pool is base=CIDR,size=N, not ${JSON.stringify(x)}`, 'default-address-pools');
    const p = { base: o.base, size: o.size };
    try {
      checkAddressPool(p);
    } catch (e) {
      throw bad(`${where}: ${messageOf(e)}`, 'default-address-pools');
    }
    return p;
  });
  return pools;
}

export type ParsedArgs = { action: 'run'; config: DaemonConfig } | { action: 'help' | 'version' };

export function parseArgs(argv: string[]): ParsedArgs {
  const cfg: DaemonConfig = { ...DEFAULTS, hosts: [] };
  const fromFlags = new Set<string>();
  const lists: Record<string, string[]> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h' || arg === '--help') return { action: 'help' };
    if (arg === '-v' || arg === '--version') return { action: 'version' };
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    if (flag === '--config-file') {
      cfg.configFile = eq > 0 ? arg.slice(eq + 1) : (argv[++i] ?? '');
      continue;
    }
    const key = FLAG_ALIASES[flag] ?? (flag.startsWith('--') ? flag.slice(2) : undefined);
    const spec = key ? FILE_KEYS[key] : undefined;
    if (!key || !spec) throw bad(`unknown flag: ${flag}`, flag);
    let value: string;
    if (eq > 0) value = arg.slice(eq + 1);
    else if (spec.kind === 'bool') value = 'true';
    else {
      const v = argv[++i];
      if (v === undefined) throw bad(`flag needs an argument: ${flag}`, flag);
      value = v;
    }
    fromFlags.add(key);
    if (spec.kind === 'list' || spec.kind === 'pools' || spec.kind === 'map') (lists[key] ??= []).push(value);
    else setValue(cfg, key, value, `flag ${flag}`);
  }
  for (const [k, v] of Object.entries(lists)) setValue(cfg, k, v, `flag --${k}`);
  applyFile(cfg, fromFlags);
  // dockerd keeps loopback insecure whatever else is listed (a registry on localhost).
  if (cfg.insecureRegistries && !cfg.insecureRegistries.includes('127.0.0.0/8'))
    cfg.insecureRegistries = ['127.0.0.0/8', ...cfg.insecureRegistries];
  try {
    logSettings(cfg.logDriver, cfg.logOpts);
  } catch (e) {
    throw bad(`log-driver, log-opts: ${messageOf(e)}`, 'log-opts');
  }
  if (cfg.hosts.length === 0) cfg.hosts = [...DEFAULTS.hosts];
  for (const h of cfg.hosts) checkHost(h);
  defaultBridgeOf(cfg); // a bad --bridge or --bip stops berthd here, before it touches anything
  return { action: 'run', config: cfg };
}

function applyFile(cfg: DaemonConfig, fromFlags: Set<string>): void {
  let text: string;
  try {
    text = readFileSync(cfg.configFile, 'utf8');
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return;
    throw bad(`config file ${cfg.configFile}: ${messageOf(e)}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw bad(`config file ${cfg.configFile}: invalid JSON: ${messageOf(e)}`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc))
    throw bad(`config file ${cfg.configFile}: not a JSON object`);
  const both = Object.keys(doc).filter((k) => fromFlags.has(k));
  if (both.length) {
    throw bad(
      `the following directives are specified both as a flag and in the configuration file: ${both.join(', ')} (in ${cfg.configFile})`,
    );
  }
  for (const [k, v] of Object.entries(doc)) setValue(cfg, k, v, `config file ${cfg.configFile}`);
}

export interface Listen {
  kind: 'unix' | 'tcp';
  path?: string;
  host?: string;
  port?: number;
}

export function checkHost(h: string): Listen {
  if (h.startsWith('unix://')) {
    const path = h.slice('unix://'.length);
    if (!path.startsWith('/')) throw bad(`host ${h}: the socket path must be absolute`, 'hosts');
    return { kind: 'unix', path };
  }
  if (h.startsWith('/')) return { kind: 'unix', path: h };
  const m = /^tcp:\/\/([^:]+):(\d+)$/.exec(h);
  if (m) {
    // No TLS yet: a TCP socket is an unauthenticated root shell, so only loopback.
    if (m[1] !== '127.0.0.1' && m[1] !== 'localhost')
      throw bad(`host ${h}: TCP is only served on 127.0.0.1 (berthd has no TLS yet)`, 'hosts');
    return { kind: 'tcp', host: '127.0.0.1', port: Number(m[2]) };
  }
  throw bad(`host ${h}: expected unix:///PATH or tcp://127.0.0.1:PORT`, 'hosts');
}
