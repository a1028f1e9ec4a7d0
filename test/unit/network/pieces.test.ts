// The network library's pure parts: -p parsing, the IPAM's choices, the
// rules rendered for a state, resolv.conf filtering, network modes.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  containerSettings,
  dockerView,
  fromPortBindings,
  parsePublish,
  parseMode,
  resolvConf,
  hostsFile,
} from '../../../src/daemon/network/index.js';
import { allocate, checkOverlap, makePool, pickSubnet } from '../../../src/daemon/network/ipam.js';
import { chainNames, render } from '../../../src/daemon/network/firewall.js';
import { macFor, parseCidr, parseIp } from '../../../src/daemon/network/ipv4.js';
import { endpointRecord, networkRecord } from '../../helpers/network-records.js';

describe('ports', () => {
  it('parses docker run -p forms', () => {
    assert.deepEqual(parsePublish('127.0.0.1:8080:80'), [
      { proto: 'tcp', containerPort: 80, hostIp: '127.0.0.1', hostPorts: [8080, 8080] },
    ]);
    assert.deepEqual(parsePublish('53/udp'), [{ proto: 'udp', containerPort: 53, hostIp: '', hostPorts: [0, 0] }]);
    assert.deepEqual(
      parsePublish('8000-8001:80-81').map((r) => [r.hostPorts[0], r.containerPort]),
      [
        [8000, 80],
        [8001, 81],
      ],
    );
    assert.deepEqual(parsePublish('9000-9010:80'), [
      { proto: 'tcp', containerPort: 80, hostIp: '', hostPorts: [9000, 9010] },
    ]);
    assert.throws(() => parsePublish('8000-8002:80-81'), /ranges differ in size/);
    assert.throws(() => parsePublish('70000:80'), /ports are 1-65535/);
    assert.throws(() => parsePublish('80/sctp'), /protocol "sctp"/);
    assert.throws(() => parsePublish('300.1.1.1:80:80'), /host IP/);
  });
  it('reads the API PortBindings and -P over ExposedPorts', () => {
    const r = fromPortBindings(
      { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }], '53/udp': [{ HostPort: '' }] },
      true,
      ['80/tcp', '443/tcp'],
    );
    assert.deepEqual(
      r.map((x) => `${x.hostIp}:${x.hostPorts.join('-')}->${x.containerPort}/${x.proto}`),
      ['127.0.0.1:8080-8080->80/tcp', ':0-0->53/udp', ':0-0->443/tcp'],
    );
  });
});

describe('ipam', () => {
  it('validates pools as dockerd does', () => {
    assert.deepEqual(makePool({ subnet: '10.9.0.0/24' }), { subnet: '10.9.0.0/24', gateway: '10.9.0.1' });
    assert.throws(() => makePool({ subnet: '10.9.0.0/24', gateway: '10.8.0.1' }), /no matching subnet for gateway/);
    assert.throws(() => makePool({ subnet: '10.9.0.0/24', ipRange: '10.9.1.0/25' }), /no matching subnet for range/);
    assert.throws(
      () => checkOverlap('10.9.0.128/25', [networkRecord({ subnet: '10.9.0.0/24' })]),
      /Pool overlaps with other one on this address space/,
    );
  });
  it('hands out each address once, round the range, and refuses a taken request', () => {
    const n = networkRecord();
    const used = new Set<string>();
    const got: string[] = [];
    for (let i = 0; i < 5; i++) {
      const ip = allocate(n, used);
      used.add(ip);
      got.push(ip);
      n.nextIp = ip;
    }
    // /29: .0 network, .1 gateway, .7 broadcast; .2-.6 for containers.
    assert.deepEqual(got.sort(), ['10.9.0.2', '10.9.0.3', '10.9.0.4', '10.9.0.5', '10.9.0.6']);
    assert.throws(() => allocate(n, used), /no available IPv4 addresses/);
    assert.throws(() => allocate(n, used, '10.9.0.3'), /Address already in use/);
    assert.throws(() => allocate(n, new Set(), '10.9.1.3'), /outside the subnet/);
    used.delete('10.9.0.3');
    assert.equal(allocate(n, used), '10.9.0.3');
  });
  it('picks a default pool clear of host routes and networks', () => {
    assert.equal(
      pickSubnet([networkRecord({ subnet: '172.17.0.0/16' })], [parseCidr('172.18.0.0/16'), { base: 0, bits: 0 }]),
      '172.19.0.0/16',
    );
  });
  it("derives Docker's MAC from the address", () => {
    assert.equal(macFor(parseIp('172.17.0.2')), '02:42:ac:11:00:02');
  });
});

describe('firewall rules', () => {
  it('renders isolation, NAT, ports and internal networks from the state', () => {
    const c = chainNames('BX');
    const ep = endpointRecord({ ports: [{ proto: 'udp', hostIp: '127.0.0.1', hostPort: 5353, containerPort: 53 }] });
    const r = render(
      c,
      [networkRecord(), networkRecord({ id: 'n2', bridge: 'br2', subnet: '10.8.0.0/24', internal: true })],
      [ep],
    );
    assert.match(r.nat, /-A BX -d 127\.0\.0\.1\/32 -p udp -m udp --dport 5353 -j DNAT --to-destination 10\.9\.0\.2:53/);
    assert.match(r.nat, /-A BX-POSTROUTING -s 10\.9\.0\.0\/29 ! -o br1 -j MASQUERADE/);
    assert.doesNotMatch(r.nat, /-s 10\.8\.0\.0\/24 ! -o br2 -j MASQUERADE/);
    assert.match(r.filter, /-A BX-ISOLATION-2 -o br2 -j DROP/);
    assert.match(r.filter, /-A BX-ISOLATION-1 -i br2 ! -d 10\.8\.0\.0\/24 -j DROP/);
    assert.doesNotMatch(r.filter, /-i br2 ! -o br2 -j ACCEPT/);
    assert.match(r.filter, /-A BX -d 10\.9\.0\.2\/32 -o br1 -p udp -m udp --dport 53 -j ACCEPT/);
  });
});

describe('container files', () => {
  it('drops loopback nameservers from the host resolv.conf, and falls back to public ones', async () => {
    const d = mkdtempSync(join(tmpdir(), 'berth-resolv-'));
    try {
      const p = join(d, 'resolv.conf');
      writeFileSync(p, 'nameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch example.org\noptions edns0\n');
      assert.equal(await resolvConf({ hostResolvConf: p }), 'nameserver 10.0.0.2\nsearch example.org\noptions edns0\n');
      writeFileSync(p, 'nameserver 127.0.0.53\n');
      assert.equal(await resolvConf({ hostResolvConf: p }), 'nameserver 8.8.8.8\nnameserver 8.8.4.4\n');
      assert.equal(
        await resolvConf({ hostResolvConf: p, dns: ['10.1.1.1'], dnsSearch: ['a.b'] }),
        'nameserver 10.1.1.1\nsearch a.b\n',
      );
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
  it('writes the hosts file with the container address and --add-host entries', () => {
    const h = hostsFile({ hostname: 'abc123', ip: '172.17.0.2', extraHosts: ['db:10.0.0.5'] });
    assert.match(h, /^127\.0\.0\.1\tlocalhost$/m);
    assert.match(h, /^10\.0\.0\.5\tdb$/m);
    assert.match(h, /^172\.17\.0\.2\tabc123$/m);
  });
  it('reads network modes', () => {
    assert.deepEqual(parseMode('container:abc'), { kind: 'container', container: 'abc' });
    assert.deepEqual(parseMode(''), { kind: 'network', network: 'bridge' });
    assert.deepEqual(parseMode('mynet'), { kind: 'network', network: 'mynet' });
    assert.throws(() => parseMode('container:'), /needs a container/);
  });
});

describe('dockerd JSON', () => {
  it('shows a network and a container as dockerd does', () => {
    const n = networkRecord({ name: 'bridge', predefined: true });
    const ep = endpointRecord({
      id: 'e1',
      containerId: 'c1',
      mac: '02:42:0a:09:00:02',
      ports: [{ proto: 'tcp', hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80 }],
    });
    const v = dockerView(n, [ep], () => 'web');
    assert.deepEqual(v.Containers.c1, {
      Name: 'web',
      EndpointID: 'e1',
      MacAddress: ep.mac,
      IPv4Address: '10.9.0.2/29',
      IPv6Address: '',
    });
    assert.deepEqual(v.IPAM.Config, [{ Subnet: '10.9.0.0/29', Gateway: '10.9.0.1' }]);
    const c = containerSettings([ep], [n], { id: 'c1', netnsPath: '/proc/1/ns/net' }, ['80/tcp', '443/tcp']);
    assert.deepEqual(c.Ports, { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }], '443/tcp': null });
    assert.equal(c.IPAddress, '10.9.0.2');
    assert.equal(c.Networks.bridge?.Gateway, '10.9.0.1');
  });
});
