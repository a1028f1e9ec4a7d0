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
