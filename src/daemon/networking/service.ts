// Containers on networks: berthd's side of the network library (../network/).
// At create the network mode, the endpoints asked for (--network, --ip,
// NetworkingConfig) and the published ports are checked; at start, once the
// task exists and before its process runs, the container's namespace
// (/proc/PID/ns/net of the created task) is attached to its networks, ports
// are published on the first one, and /etc/hosts gets the container's
// address; at exit everything goes (interfaces, rules, ports, leases). The
// library's state is the truth of what is attached; the container record
// keeps what the user asked for (NetworkEndpoints), so a restart attaches the
// same networks again.

import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { z } from 'zod';
import { BerthError, messageOf } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import type { DaemonConfig } from '../config.js';
import { emptyEndpoint, type ContainerRecord, type WantedEndpoint } from '../containers/record.js';
import type { HostConfig } from '../containers/body.js';
import { badRequest } from '../http/errors.js';
import {
  containerSettings,
  fromPortBindings,
  hostsFile,
  Networks,
  parseMode,
  type NetworkMode,
  type NetworkRecord,
  resolvConf,
  type PortRequest,
} from '../network/index.js';
import { contains, parseCidr, parseIp } from '../network/ipv4.js';
import { defaultBridgeOf } from './bip.js';

const EndpointSchema = z.looseObject({
  IPAMConfig: z.looseObject({ IPv4Address: z.string().optional() }).nullish(),
  Aliases: z.array(z.string()).nullish(),
});
export const NetworkingSchema = z
  .looseObject({ EndpointsConfig: z.record(z.string(), EndpointSchema.nullish()).nullish() })
  .nullish();
export type EndpointConfig = z.infer<typeof EndpointSchema>;

export interface CreatePlan {
  endpoints: Record<string, WantedEndpoint>;
  warnings: string[];
}

export class ContainerNetworking {
  private constructor(
    readonly nets: Networks,
    private readonly log: Logger,
    /** berthd's own network namespace: what `--network host` joins, as dockerd's host mode is dockerd's network. */
    readonly hostNetns: string,
  ) {}

  static async open(cfg: DaemonConfig, dataDir: string, log: Logger): Promise<ContainerNetworking> {
    const nets = await Networks.open({
      dataDir,
      defaultBridge: defaultBridgeOf(cfg),
      addressPools: cfg.defaultAddressPools,
      iptables: cfg.iptables,
      ipForward: cfg.ipForward,
      log: (level, msg, fields) =>
        level === 'debug' ? log.debug(msg, fields) : level === 'info' ? log.info(msg, fields) : log.warn(msg, fields),
    });
    // Always berthd's own: the same as no network namespace when berthd runs in the host's, and right
    // when it runs in another (whether pid 1's namespace differs cannot always be read: EACCES).
    return new ContainerNetworking(nets, log, `/proc/${process.pid}/ns/net`);
  }

  /** The mode a container runs in: "default" is the default bridge, or loopback only when it is off (--bridge none). */
  modeOf(r: ContainerRecord): NetworkMode {
    const m = r.HostConfig.NetworkMode || 'default';
    if ((m === 'default' || m === '') && !this.hasDefaultBridge()) return { kind: 'none' };
    return parseMode(m);
  }

  private hasDefaultBridge(): boolean {
    return this.nets.list().some((n) => n.name === 'bridge' && n.driver === 'bridge');
  }

  /** Checks the create body's networking and returns the endpoints to record; nothing is attached yet. */
  planCreate(h: HostConfig, networking: unknown, exposed: string[]): CreatePlan {
    const warnings: string[] = [];
    const nc = NetworkingSchema.safeParse(networking);
    if (!nc.success) {
      const i = nc.error.issues[0]!;
      throw badRequest(`invalid NetworkingConfig: ${i.path.join('.')}: ${i.message}`, 'NetworkingConfig');
    }
    const asked = nc.data?.EndpointsConfig ?? {};
    const modeName = h.NetworkMode || 'default';
    const mode = parseMode(modeName);
    const ports = this.portRequests(h, exposed);
    if (mode.kind === 'host' && ports.length)
      warnings.push('Published ports are discarded when using host network mode');
    if (mode.kind === 'container' && ports.length)
      throw badRequest('conflicting options: port publishing and the container type network mode', 'PortBindings');
    const endpoints: Record<string, WantedEndpoint> = {};
    if (mode.kind !== 'network') {
      const others = Object.keys(asked).filter((n) => n !== modeName);
      if (others.length)
        throw badRequest(
          `container sharing network namespace with another container or host cannot be connected to any other network`,
          'NetworkingConfig',
        );
      return { endpoints, warnings };
    }
    if ((modeName === 'default' || modeName === '') && !this.hasDefaultBridge()) return { endpoints, warnings };
    const primary = this.nets.find(mode.network);
    if (primary.driver !== 'bridge') throw badRequest(`network ${primary.name} cannot be used as a network mode here`);
    for (const [name, ec] of Object.entries(asked)) {
      const net = name === modeName || name === primary.name ? primary : this.nets.find(name);
      endpoints[net.id] = this.wanted(net, ec ?? {});
    }
    endpoints[primary.id] ??= this.wanted(primary, {});
    return { endpoints, warnings };
  }

  private wanted(net: NetworkRecord, ec: EndpointConfig): WantedEndpoint {
    if (net.driver !== 'bridge')
      throw badRequest(`container cannot be connected to network ${net.name} (driver ${net.driver})`);
    const ip = ec.IPAMConfig?.IPv4Address || undefined;
    if (ip && net.predefined)
      throw badRequest('user specified IP address is supported on user defined networks only', 'IPv4Address');
    if (ip) checkAddress(net, ip);
    const w: WantedEndpoint = { Name: net.name };
    if (ip) w.IPv4Address = ip;
    if (ec.Aliases?.length) w.Aliases = ec.Aliases;
    return w;
  }

  private portRequests(h: HostConfig, exposed: string[]): PortRequest[] {
    const publishAll = (h as { PublishAllPorts?: unknown }).PublishAllPorts === true;
    return fromPortBindings(h.PortBindings ?? undefined, publishAll, exposed);
  }

  /**
   * The task exists (its namespace too) and has not run yet: its networks are
   * attached, the first one with the ports, and /etc/hosts gets the address.
   * On failure nothing stays: no interface, rule, port or lease.
   */
  async attachAll(r: ContainerRecord, pid: number): Promise<void> {
    const mode = this.modeOf(r);
    if (mode.kind !== 'network') return;
    // An earlier run of this container that berthd did not see end (kill -9 at a bad time).
    await this.detachAll(r.Id);
    const netnsPath = `/proc/${pid}/ns/net`;
    const primary = this.nets.find(mode.network);
    // A record without the map (made before networks were wired) is on its mode's network alone.
    const wanted = r.NetworkEndpoints ?? { [primary.id]: { Name: primary.name } };
    // The mode's network first (eth0, the default route, the published ports), unless it was disconnected.
    const resolved = Object.entries(wanted).map(([id, w]) => [this.findRecorded(id, w), w] as const);
    const order = [...resolved.filter(([n]) => n.id === primary.id), ...resolved.filter(([n]) => n.id !== primary.id)];
    const exposed = Object.keys(r.Config.ExposedPorts ?? {});
    let first = '';
    try {
      for (const [i, [net, w]] of order.entries()) {
        const ep = await this.nets.attach({
          containerId: r.Id,
          netnsPath,
          network: net.id,
          ipv4: w.IPv4Address,
          ports: i === 0 ? this.portRequests(r.HostConfig, exposed) : [],
          aliases: w.Aliases,
        });
        first ||= ep.ip;
      }
    } catch (e) {
      await this.nets.release(r.Id).catch(() => undefined);
      throw dockerdWords(r, e);
    }
    await this.writeHosts(r, first);
    await this.writeResolv(r);
  }

  /** resolv.conf of a container on a bridge: the host's without loopback servers, or --dns/--dns-search/--dns-option. */
  private async writeResolv(r: ContainerRecord): Promise<void> {
    const h = r.HostConfig as HostConfig & { DnsSearch?: string[] | null; DnsOptions?: string[] | null };
    const text = await resolvConf({
      dns: h.Dns ?? undefined,
      dnsSearch: h.DnsSearch ?? undefined,
      dnsOptions: h.DnsOptions ?? undefined,
    });
    const old = await readFile(r.ResolvConfPath, 'utf8').catch(() => '');
    if (old !== text) await writeFile(r.ResolvConfPath, text);
  }

  /** By the id recorded, else by name: the default bridge made anew (--bip changed) has a new id. */
  private findRecorded(id: string, w: WantedEndpoint): NetworkRecord {
    const byName = this.nets.list().find((n) => n.name === w.Name);
    const hit = this.nets.list().find((n) => n.id === id) ?? byName;
    if (!hit || hit.driver !== 'bridge') throw new BerthError('berthd', 'not-found', `network ${w.Name} not found`);
    return hit;
  }

  /** /etc/hosts with the container's own address (rewritten in place: the bind mount follows the inode). */
  async writeHosts(r: ContainerRecord, ip: string | undefined): Promise<void> {
    const hostname = r.Config.Hostname || r.Id.slice(0, 12);
    const text = hostsFile({
      hostname,
      domainname: r.Config.Domainname || undefined,
      ip,
      extraHosts: r.HostConfig.ExtraHosts ?? [],
    });
    const old = await readFile(r.HostsPath, 'utf8').catch(() => '');
    if (old !== text) await writeFile(r.HostsPath, text);
  }

  /** The container stopped or went: its interfaces, rules, ports and leases go (best effort, logged). */
  async detachAll(id: string): Promise<void> {
    // Nothing to release (none, host, container modes): no state write, no firewall reload.
    if (!this.nets.endpointsOfContainer(id).length && !this.nets.sandboxOf(id)) return;
    await this.nets
      .release(id)
      .catch((e: unknown) => this.log.error('network release failed', { container: id, error: messageOf(e) }));
  }

  /** After the restore of containers: what the network state still holds for a container not running goes. */
  async sweep(running: (id: string) => boolean): Promise<void> {
    const ids = new Set(this.nets.list().flatMap((n) => this.nets.endpointsOf(n.id).map((e) => e.containerId)));
    for (const id of ids) {
      if (running(id)) continue;
      this.log.info('network endpoints of a container that does not run released', { container: id });
      await this.detachAll(id);
    }
  }

  /** NetworkSettings of GET /containers/{id}/json. */
  settings(r: ContainerRecord, running: boolean): Record<string, unknown> {
    const exposed = Object.keys(r.Config.ExposedPorts ?? {});
    const eps = running ? this.nets.endpointsOfContainer(r.Id) : [];
    const sb = running ? this.nets.sandboxOf(r.Id) : undefined;
    const requested: Record<string, string> = {};
    for (const w of Object.values(r.NetworkEndpoints ?? {})) if (w.IPv4Address) requested[w.Name] = w.IPv4Address;
    const s = containerSettings(
      eps,
      this.nets.list(),
      sb ? { id: sandboxId(r.Id), netnsPath: sb.netnsPath } : null,
      running ? exposed : [],
      requested,
    );
    const networks: Record<string, unknown> = { ...s.Networks };
    // Networks the container is on but not attached now (stopped, or modes without endpoints): dockerd lists them empty.
    for (const [id, w] of Object.entries(r.NetworkEndpoints ?? {})) {
      const name = this.nets.list().find((n) => n.id === id)?.name ?? w.Name;
      networks[name] ??= emptyEndpoint(id, w);
    }
    const mode = this.modeOf(r);
    if (mode.kind === 'none' || mode.kind === 'host') {
      const n = this.nets.list().find((x) => x.name === mode.kind);
      networks[mode.kind] = emptyEndpoint(n?.id ?? '', { Name: mode.kind });
    }
    let primary: NetworkRecord | undefined;
    try {
      primary = mode.kind === 'network' ? this.nets.find(mode.network) : undefined;
    } catch {
      primary = undefined; // the network went while the container was stopped: start will say so
    }
    return {
      ...s,
      Bridge: '',
      LinkLocalIPv6Address: '',
      LinkLocalIPv6PrefixLen: 0,
      SecondaryIPAddresses: null,
      SecondaryIPv6Addresses: null,
      GlobalIPv6Address: '',
      GlobalIPv6PrefixLen: 0,
      IPv6Gateway: '',
      // The top-level fields are the default bridge's in dockerd; a container on a user network has them empty.
      ...(primary?.name === 'bridge' ? {} : { Gateway: '', IPAddress: '', IPPrefixLen: 0, MacAddress: '' }),
      Networks: networks,
    };
  }

  /** Ports and NetworkSettings of GET /containers/json. */
  summary(r: ContainerRecord, running: boolean): Record<string, unknown> {
    const s = this.settings(r, running);
    const ports: { IP?: string; PrivatePort: number; PublicPort?: number; Type: string }[] = [];
    const eps = running ? this.nets.endpointsOfContainer(r.Id) : [];
    const published = new Set<string>();
    for (const e of eps) {
      for (const p of e.ports) {
        published.add(`${p.containerPort}/${p.proto}`);
        ports.push({ IP: p.hostIp, PrivatePort: p.containerPort, PublicPort: p.hostPort, Type: p.proto });
      }
    }
    for (const k of Object.keys(r.Config.ExposedPorts ?? {})) {
      const [port, proto] = k.split('/');
      if (!published.has(`${port}/${proto ?? 'tcp'}`)) ports.push({ PrivatePort: Number(port), Type: proto ?? 'tcp' });
    }
    return { Ports: ports, NetworkSettings: { Networks: s.Networks } };
  }
}

/** An asked-for address must be an IPv4 address of the network's subnet (or its --ip-range): checked at create, as dockerd does. */
export function checkAddress(net: NetworkRecord, ip: string): void {
  let n: number;
  try {
    n = parseIp(ip, 'IPv4Address');
  } catch {
    throw badRequest(`invalid endpoint settings:\ninvalid IPv4 address: ${ip}`, 'IPv4Address');
  }
  const pools = [net.subnet, ...(net.ipRange ? [net.ipRange] : [])].map((c) => parseCidr(c));
  if (!pools.some((c) => contains(c, n)))
    throw badRequest(
      `invalid endpoint settings:\nno configured subnet or ip-range contain the IP address ${ip}`,
      'IPv4Address',
    );
}

/** A stable id of the container's network namespace (dockerd's SandboxID is a 64-hex id of its own). */
function sandboxId(containerId: string): string {
  return createHash('sha256').update(`sandbox:${containerId}`).digest('hex');
}

/** dockerd's wording for a failed attach at start: a port conflict is "driver failed programming external connectivity". */
function dockerdWords(r: ContainerRecord, e: unknown): BerthError {
  const msg = messageOf(e);
  const bind = /Bind for \S+ failed: port is already allocated/.exec(msg);
  if (bind)
    return new BerthError(
      'berthd',
      'internal',
      `failed to set up container networking: driver failed programming external connectivity on endpoint ${r.Name.slice(1)} (${r.Id.slice(0, 12)}): ${bind[0]}`,
      { cause: e },
    );
  if (e instanceof BerthError) return e;
  return new BerthError('berthd', 'internal', msg, { cause: e });
}
