// A network as GET /networks/{id} shows it (dockerd's JSON).

import { parseCidr } from './ipv4.js';
import type { EndpointRecord, NetworkRecord } from './state.js';

export interface DockerNetwork {
  Name: string;
  Id: string;
  Created: string;
  Scope: 'local';
  Driver: string;
  EnableIPv6: boolean;
  IPAM: {
    Driver: 'default';
    Options: Record<string, string> | null;
    Config: { Subnet: string; Gateway: string; IPRange?: string }[];
  };
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigFrom: { Network: string };
  ConfigOnly: boolean;
  Containers: Record<
    string,
    { Name: string; EndpointID: string; MacAddress: string; IPv4Address: string; IPv6Address: string }
  >;
  Options: Record<string, string>;
  Labels: Record<string, string>;
}

/** `names` maps a container id to its name (berthd knows names; this library does not). */
export function dockerView(
  n: NetworkRecord,
  endpoints: EndpointRecord[],
  names: (id: string) => string = (id) => id,
): DockerNetwork {
  const containers: DockerNetwork['Containers'] = {};
  const bits = n.driver === 'bridge' ? parseCidr(n.subnet).bits : 0;
  for (const e of endpoints) {
    containers[e.containerId] = {
      Name: names(e.containerId),
      EndpointID: e.id,
      MacAddress: e.mac,
      IPv4Address: `${e.ip}/${bits}`,
      IPv6Address: '',
    };
  }
  const config =
    n.driver === 'bridge'
      ? [{ Subnet: n.subnet, Gateway: n.gateway, ...(n.ipRange ? { IPRange: n.ipRange } : {}) }]
      : [];
  return {
    Name: n.name,
    Id: n.id,
    Created: n.created,
    Scope: 'local',
    Driver: n.driver,
    EnableIPv6: false,
    IPAM: { Driver: 'default', Options: n.predefined ? null : {}, Config: config },
    Internal: n.internal,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: containers,
    Options: n.options,
    Labels: n.labels,
  };
}

export interface DockerEndpointSettings {
  IPAMConfig: { IPv4Address: string } | null;
  Links: null;
  Aliases: string[] | null;
  NetworkID: string;
  EndpointID: string;
  Gateway: string;
  IPAddress: string;
  IPPrefixLen: number;
  IPv6Gateway: string;
  GlobalIPv6Address: string;
  GlobalIPv6PrefixLen: number;
  MacAddress: string;
  DriverOpts: null;
}

export interface DockerNetworkSettings {
  Bridge: string;
  SandboxID: string;
  SandboxKey: string;
  HairpinMode: boolean;
  /** "80/tcp" → the host bindings, as `docker port` and `docker ps` read them. */
  Ports: Record<string, { HostIp: string; HostPort: string }[] | null>;
  Gateway: string;
  IPAddress: string;
  IPPrefixLen: number;
  MacAddress: string;
  Networks: Record<string, DockerEndpointSettings>;
}

/**
 * A container's NetworkSettings (GET /containers/{id}/json) from its
 * endpoints. The top-level address fields are the default bridge's, as in
 * dockerd; `exposed` ports without a binding appear with null.
 */
export function containerSettings(
  endpoints: EndpointRecord[],
  networks: NetworkRecord[],
  sandbox: { id: string; netnsPath: string } | null,
  exposed: string[] = [],
  requested: Record<string, string> = {},
): DockerNetworkSettings {
  const byId = new Map(networks.map((n) => [n.id, n]));
  const out: DockerNetworkSettings = {
    Bridge: '',
    SandboxID: sandbox?.id ?? '',
    SandboxKey: sandbox?.netnsPath ?? '',
    HairpinMode: false,
    Ports: {},
    Gateway: '',
    IPAddress: '',
    IPPrefixLen: 0,
    MacAddress: '',
    Networks: {},
  };
  for (const p of exposed) out.Ports[p] = null;
  for (const e of endpoints) {
    const n = byId.get(e.networkId);
    if (!n) continue;
    const bits = parseCidr(n.subnet).bits;
    const gw = e.gatewayRoute ? n.gateway : '';
    out.Networks[n.name] = {
      IPAMConfig: requested[n.name] ? { IPv4Address: requested[n.name] as string } : null,
      Links: null,
      Aliases: e.aliases.length ? e.aliases : null,
      NetworkID: n.id,
      EndpointID: e.id,
      Gateway: n.gateway,
      IPAddress: e.ip,
      IPPrefixLen: bits,
      IPv6Gateway: '',
      GlobalIPv6Address: '',
      GlobalIPv6PrefixLen: 0,
      MacAddress: e.mac,
      DriverOpts: null,
    };
    if (n.name === 'bridge')
      Object.assign(out, { Gateway: gw || n.gateway, IPAddress: e.ip, IPPrefixLen: bits, MacAddress: e.mac });
    for (const p of e.ports) {
      const key = `${p.containerPort}/${p.proto}`;
      (out.Ports[key] ??= []).push({ HostIp: p.hostIp, HostPort: String(p.hostPort) });
    }
  }
  return out;
}
