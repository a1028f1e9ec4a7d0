// User-defined bridge networks against the kernel: subnet, gateway and
// ip-range honoured, dockerd's errors (overlap, duplicate name, removal with
// containers), isolation between two networks, --internal without a way out,
// connect and disconnect of a running namespace (eth1 added and removed),
// a requested address, and removal leaving no bridge or rule.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Networks } from '../../../src/daemon/network/index.js';
import { Fixture, freeSubnet, isRoot, sh } from './fixture.js';

const skip = !isRoot() ? 'needs root (bridges, veths, iptables)' : false;

function addrs(ns: string, dev: string): string[] {
  const j = JSON.parse(sh('ip', ['-n', ns, '-j', '-4', 'addr', 'show', 'dev', dev])) as {
    addr_info: { local: string; prefixlen: number }[];
  }[];
  return (j[0]?.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`);
}

describe('user-defined bridge networks', { skip }, () => {
  const fx = new Fixture();
  let nets: Networks | undefined;
  const A = freeSubnet();
  const B = freeSubnet();
  const I = freeSubnet();

  before(async () => {
    nets = await Networks.open({
      dataDir: fx.dir,
      defaultBridge: null,
      chainPrefix: fx.chainPrefix,
      ifPrefix: fx.ifPrefix,
    });
  });
  after(async () => {
    await nets?.shutdownAll().catch(() => undefined);
    fx.cleanup();
  });

  it('creates networks with their own bridges and refuses what dockerd refuses', async () => {
    const n = nets!;
    const a = await n.create({
      name: `a-${fx.id}`,
      subnet: A.subnet,
      gateway: `${A.prefix}.254`,
      ipRange: `${A.prefix}.128/25`,
      labels: { team: 'x' },
    });
    assert.equal(a.gateway, `${A.prefix}.254`);
    assert.ok(a.bridge.startsWith(`${fx.ifPrefix}b`));
    const br = JSON.parse(sh('ip', ['-j', '-4', 'addr', 'show', 'dev', a.bridge])) as {
      addr_info: { local: string }[];
    }[];
    assert.deepEqual(
      br[0]?.addr_info.map((x) => x.local),
      [`${A.prefix}.254`],
    );
    await n.create({ name: `b-${fx.id}`, subnet: B.subnet });
    await n.create({ name: `i-${fx.id}`, subnet: I.subnet, internal: true });

    await assert.rejects(
      n.create({ name: `dup-${fx.id}`, subnet: `${A.prefix}.0/25` }),
      /Pool overlaps with other one on this address space/,
    );
    await assert.rejects(
      n.create({ name: `a-${fx.id}`, subnet: freeSubnet().subnet }),
      new RegExp(`network with name a-${fx.id} already exists`),
    );
    await assert.rejects(n.create({ name: `bad-${fx.id}`, subnet: '10.1.2.3/24' }), /host bits are set/);
    await assert.rejects(n.create({ name: `drv-${fx.id}`, driver: 'overlay' }), /plugin "overlay" not found/);
    await assert.rejects(n.remove('bridge'), /not found/);
    await assert.rejects(n.remove('host'), /host is a pre-defined network and cannot be removed/);
    // Nothing of the refused ones exists: only the three bridges.
    assert.equal(fx.leftLinks().length, 3);
    assert.equal(n.find(a.id.slice(0, 12)).name, `a-${fx.id}`);
  });

  it('isolates networks, honours ip-range and a requested address, connects and disconnects a running namespace', async () => {
    const n = nets!;
    const c1 = fx.netns();
    const c2 = fx.netns();
    const c3 = fx.netns();
    const e1 = await n.attach({ containerId: `c1-${fx.id}`, netnsPath: c1.path, network: `a-${fx.id}` });
    assert.equal(e1.ip, `${A.prefix}.128`, 'first address of the ip-range');
    const e2 = await n.attach({
      containerId: `c2-${fx.id}`,
      netnsPath: c2.path,
      network: `a-${fx.id}`,
      ipv4: `${A.prefix}.10`,
    });
    assert.equal(e2.ip, `${A.prefix}.10`);
    await assert.rejects(
      n.attach({
        containerId: `cx-${fx.id}`,
        netnsPath: fx.netns().path,
        network: `a-${fx.id}`,
        ipv4: `${A.prefix}.10`,
      }),
      /Address already in use/,
    );
    const e3 = await n.attach({ containerId: `c3-${fx.id}`, netnsPath: c3.path, network: `b-${fx.id}` });
    assert.deepEqual(addrs(c3.name, 'eth0'), [`${e3.ip}/24`]);

    await fx.server(c1.name, 'tcp', '0.0.0.0', 80);
    await fx.server(c3.name, 'tcp', '0.0.0.0', 80);
    // Same network: reachable, with the peer's own address (no NAT inside a network).
    assert.equal(fx.client(c2.name, 'tcp', e1.ip, 80, 'same'), `${e2.ip}|same`);
    // Another network: dropped by the isolation chains.
    assert.equal(fx.client(c2.name, 'tcp', e3.ip, 80, 'cross'), null);

    // Connect c2 (running) to b: eth1 with b's address, the default route stays on eth0.
    const e2b = await n.attach({ containerId: `c2-${fx.id}`, netnsPath: c2.path, network: `b-${fx.id}` });
    assert.equal(e2b.ifname, 'eth1');
    assert.deepEqual(addrs(c2.name, 'eth1'), [`${e2b.ip}/24`]);
    const defaults = sh('ip', ['-n', c2.name, 'route', 'show', 'default']).trim().split('\n');
    assert.deepEqual(defaults, [`default via ${A.prefix}.254 dev eth0`]);
    assert.equal(fx.client(c2.name, 'tcp', e3.ip, 80, 'joined'), `${e2b.ip}|joined`);

    await assert.rejects(
      n.remove(`b-${fx.id}`),
      /error while removing network: network b-\w+ id [0-9a-f]{64} has active endpoints/,
    );

    await n.detach(`c2-${fx.id}`, `b-${fx.id}`);
    assert.doesNotMatch(sh('ip', ['-n', c2.name, 'link']), /eth1/);
    assert.ok(!fx.leftLinks().includes(e2b.hostVeth));
    assert.equal(fx.client(c2.name, 'tcp', e3.ip, 80, 'left'), null);
    await assert.rejects(n.detach(`c2-${fx.id}`, `b-${fx.id}`), /is not connected to network/);
  });

  it('--internal: no default route and nothing forwarded out of the subnet', async () => {
    const n = nets!;
    const ci = fx.netns();
    const ei = await n.attach({ containerId: `ci-${fx.id}`, netnsPath: ci.path, network: `i-${fx.id}` });
    assert.equal(sh('ip', ['-n', ci.name, 'route', 'show', 'default']).trim(), '');
    // Even with a route added by hand, the firewall drops what leaves the subnet.
    const cb = fx.netns();
    const eb = await n.attach({ containerId: `cb-${fx.id}`, netnsPath: cb.path, network: `b-${fx.id}` });
    await fx.server(cb.name, 'tcp', '0.0.0.0', 81);
    sh('ip', ['-n', ci.name, 'route', 'add', 'default', 'via', `${I.prefix}.1`]);
    assert.equal(fx.client(ci.name, 'tcp', eb.ip, 81, 'escape'), null);
    const ibr = n.find(`i-${fx.id}`).bridge;
    const rules = fx.leftRules();
    assert.ok(
      rules.some((l) => l.includes(`! -d ${I.subnet} -i ${ibr} -j DROP`)),
      rules.join('\n'),
    );
    await n.release(`ci-${fx.id}`);
    await n.release(`cb-${fx.id}`);
    assert.ok(!fx.leftLinks().includes(ei.hostVeth));
  });

  it('prune removes unused networks; remove of an emptied network leaves no bridge or rule', async () => {
    const n = nets!;
    const a = n.find(`a-${fx.id}`);
    // b still has c3: only the internal network is unused.
    assert.deepEqual(await n.prune(), [`i-${fx.id}`]);
    for (const c of ['c1', 'c2', 'c3']) await n.release(`${c}-${fx.id}`);
    assert.deepEqual(await n.prune((x) => x.labels.team === 'x'), [`b-${fx.id}`]);
    await n.remove(a.id);
    assert.deepEqual(fx.leftLinks(), []);
    assert.deepEqual(
      fx.leftRules().filter((l) => l.includes(a.bridge) || l.includes(A.subnet)),
      [],
    );
    assert.deepEqual(
      n
        .list()
        .map((x) => x.name)
        .sort(),
      ['host', 'none'],
    );
  });

  it('parallel attaches never share an address, and a full pool says so', async () => {
    const n = nets!;
    const s = freeSubnet();
    const small = await n.create({ name: `p-${fx.id}`, subnet: `${s.prefix}.16/28` });
    // A /28: .16 network, .17 gateway, .31 broadcast, 13 addresses for containers.
    const spaces = Array.from({ length: 13 }, () => fx.netns());
    const eps = await Promise.all(
      spaces.map((ns, i) => n.attach({ containerId: `p${i}-${fx.id}`, netnsPath: ns.path, network: small.id })),
    );
    const ips = eps.map((e) => e.ip);
    assert.equal(new Set(ips).size, 13);
    for (const [i, ns] of spaces.entries()) {
      assert.match(
        sh('ip', ['-n', ns.name, '-4', '-o', 'addr', 'show', 'dev', 'eth0']),
        new RegExp(`inet ${eps[i]!.ip.replace(/\./g, '\\.')}/28`),
      );
    }
    await assert.rejects(
      n.attach({ containerId: `full-${fx.id}`, netnsPath: fx.netns().path, network: small.id }),
      /no available IPv4 addresses on network p-/,
    );
    for (let i = 0; i < 13; i++) await n.release(`p${i}-${fx.id}`);
    await n.remove(small.id);
    assert.deepEqual(fx.leftLinks(), []);
  });
});
