// The network library's records as the unit tests build them: one network on
// 10.9.0.0/29 behind bridge br1 and one container endpoint on it, each with
// only the fields a test cares about given.

import type { EndpointRecord, NetworkRecord } from '../../src/daemon/network/state.js';

export function networkRecord(over: Partial<NetworkRecord> = {}): NetworkRecord {
  return {
    id: 'n1',
    name: 'n1',
    driver: 'bridge',
    bridge: 'br1',
    subnet: '10.9.0.0/29',
    gateway: '10.9.0.1',
    internal: false,
    masquerade: true,
    mtu: 1500,
    labels: {},
    options: {},
    created: '',
    predefined: false,
    ...over,
  };
}

export function endpointRecord(over: Partial<EndpointRecord> = {}): EndpointRecord {
  return {
    id: 'e',
    containerId: 'c',
    networkId: 'n1',
    ifname: 'eth0',
    hostVeth: 'v',
    ip: '10.9.0.2',
    mac: '',
    gatewayRoute: true,
    aliases: [],
    ports: [],
    ...over,
  };
}
