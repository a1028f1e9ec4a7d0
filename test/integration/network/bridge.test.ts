// The default bridge network against the kernel: the bridge addressed before
// anything attaches, a namespace's eth0 (address, Docker's MAC, default
// route, lo up), published TCP and UDP ports answering on the host's
// 127.0.0.1, -P picking from the ephemeral range, outbound NAT seen by a
// server in a namespace of the test's own, a taken port refused with
// nothing left behind, and every rule and veth gone at the end.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Networks, parsePublish } from '../../../src/daemon/network/index.js';
import { canBind } from '../../../src/daemon/network/ports.js';
import { Fixture, freeSubnet, isRoot, sh, tryRun } from './fixture.js';

const skip = !isRoot() ? 'needs root (bridges, veths, iptables)' : false;

async function freePort(): Promise<number> {
  for (;;) {
    const p = 20000 + Math.floor(Math.random() * 10000);
    if ((await canBind('tcp', '0.0.0.0', p)) && (await canBind('udp', '0.0.0.0', p))) return p;
  }
}

describe('default bridge network', { skip }, () => {
  const fx = new Fixture();
  const def = freeSubnet();
  const bridge = `${fx.ifPrefix}0`;
  let nets: Networks | undefined;

  before(async () => {
    nets = await Networks.open({
      dataDir: fx.dir,
      defaultBridge: { name: bridge, subnet: def.subnet },
      chainPrefix: fx.chainPrefix,
      ifPrefix: fx.ifPrefix,
    });
  });
  after(async () => {
    await nets?.shutdownAll().catch(() => undefined);
    fx.cleanup();
  });

  it('makes the bridge with its gateway address and route_localnet', () => {
    const a = JSON.parse(sh('ip', ['-j', '-4', 'addr', 'show', 'dev', bridge])) as {
      addr_info: { local: string; prefixlen: number }[];
    }[];
    assert.deepEqual(
      a[0]?.addr_info.map((x) => `${x.local}/${x.prefixlen}`),
      [`${def.prefix}.1/24`],
    );
    assert.equal(readFileSync(`/proc/sys/net/ipv4/conf/${bridge}/route_localnet`, 'utf8').trim(), '1');
    const list = nets!
      .list()
      .map((n) => `${n.name}:${n.driver}`)
      .sort();
    assert.deepEqual(list, ['bridge:bridge', 'host:host', 'none:null']);
  });

  it('attaches a namespace, publishes TCP and UDP on 127.0.0.1, -P picks an ephemeral port, and NATs outbound', async () => {
    const n = nets!;
    const c1 = fx.netns();
    await fx.server(c1.name, 'tcp', '0.0.0.0', 80);
    await fx.server(c1.name, 'udp', '0.0.0.0', 53);
    const tp = await freePort();
    const up = await freePort();
    const ep = await n.attach({
      containerId: `c1-${fx.id}`,
      netnsPath: c1.path,
      network: 'bridge',
      ports: [...parsePublish(`127.0.0.1:${tp}:80`), ...parsePublish(`127.0.0.1:${up}:53/udp`), ...parsePublish('80')],
    });
    assert.equal(ep.ifname, 'eth0');
    assert.equal(ep.ip, `${def.prefix}.2`);
    const [o1, o2, o3, o4] = ep.ip.split('.').map((x) => Number(x).toString(16).padStart(2, '0'));
    assert.equal(ep.mac, `02:42:${o1}:${o2}:${o3}:${o4}`);

    const links = JSON.parse(sh('ip', ['-n', c1.name, '-j', 'addr', 'show'])) as {
      ifname: string;
      address: string;
      operstate: string;
      flags: string[];
      addr_info: { family: string; local: string; prefixlen: number }[];
    }[];
    const eth0 = links.find((l) => l.ifname === 'eth0');
    assert.ok(eth0, 'eth0 exists in the namespace');
    assert.equal(eth0.address, ep.mac);
    assert.deepEqual(
      eth0.addr_info.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`),
      [`${ep.ip}/24`],
    );
    assert.ok(links.find((l) => l.ifname === 'lo')?.flags.includes('UP'), 'lo is up');
    assert.match(
      sh('ip', ['-n', c1.name, 'route', 'show', 'default']),
      new RegExp(`default via ${def.prefix}\\.1 dev eth0`),
    );
    // The host end is a port of the bridge.
    assert.match(sh('ip', ['link', 'show', 'dev', ep.hostVeth]), new RegExp(`master ${bridge}`));

    assert.equal(fx.client(null, 'tcp', '127.0.0.1', tp, 'tcp-hello')?.split('|')[1], 'tcp-hello');
    assert.equal(fx.client(null, 'udp', '127.0.0.1', up, 'udp-hello')?.split('|')[1], 'udp-hello');
    const picked = ep.ports.find((p) => p.containerPort === 80 && p.hostPort !== tp);
    assert.ok(picked, '-P style request got a port');
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    assert.ok(
      picked.hostPort >= (lo as number) && picked.hostPort <= (hi as number),
      `picked ${picked.hostPort} in the ephemeral range`,
    );
    assert.equal(picked.hostIp, '0.0.0.0');
    assert.equal(fx.client(null, 'tcp', '127.0.0.1', picked.hostPort, 'any')?.split('|')[1], 'any');
    // Hairpin: the container reaches its own published port through the host's
    // address on the bridge, and comes back masqueraded as that address.
    assert.equal(fx.client(c1.name, 'tcp', `${def.prefix}.1`, picked.hostPort, 'hairpin'), `${def.prefix}.1|hairpin`);

    // Outbound NAT: a server in a namespace of the test's own, reached through a
    // veth from the host; it must see the host's address, not the container's.
    const out = fx.netns();
    const ext = freeSubnet();
    const hostEnd = `o${fx.id}x`;
    fx.ownLink(hostEnd);
    sh('ip', ['link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', 'ext0', 'netns', out.path]);
    sh('ip', ['addr', 'add', `${ext.prefix}.1/24`, 'dev', hostEnd]);
    sh('ip', ['link', 'set', hostEnd, 'up']);
    sh('ip', ['-n', out.name, 'addr', 'add', `${ext.prefix}.2/24`, 'dev', 'ext0']);
    sh('ip', ['-n', out.name, 'link', 'set', 'ext0', 'up']);
    await fx.server(out.name, 'tcp', `${ext.prefix}.2`, 7000);
    assert.equal(fx.client(c1.name, 'tcp', `${ext.prefix}.2`, 7000, 'out'), `${ext.prefix}.1|out`);

    // A taken port: dockerd's message, and nothing of the second container stays.
    const c2 = fx.netns();
    const before = fx.leftLinks().sort();
    await assert.rejects(
      n.attach({ containerId: `c2-${fx.id}`, netnsPath: c2.path, network: 'bridge', ports: parsePublish(`${tp}:80`) }),
      (e: Error) => e.message.includes(`Bind for 0.0.0.0:${tp} failed: port is already allocated`),
    );
    assert.deepEqual(fx.leftLinks().sort(), before);
    assert.deepEqual(n.endpointsOfContainer(`c2-${fx.id}`), []);
    assert.doesNotMatch(sh('ip', ['-n', c2.name, 'link']), /eth0/);

    // Removal takes the veth and every rule of the container.
    const rulesWith = fx.leftRules().filter((l) => l.includes(ep.ip));
    assert.ok(rulesWith.length >= 3, `DNAT/accept/hairpin rules exist: ${rulesWith.join('\n')}`);
    // The UDP exchange left a conntrack entry; the release forgets it.
    const udpFlows = () => tryRun('conntrack', ['-L', '-p', 'udp', '--reply-src', ep.ip]).stdout.trim();
    assert.equal(
      tryRun('conntrack', ['--version']).status,
      0,
      'conntrack (Debian package conntrack, scripts/setup.sh) is needed',
    );
    assert.match(udpFlows(), new RegExp(`dport=${up}`));
    await n.release(`c1-${fx.id}`);
    assert.equal(udpFlows(), '');
    assert.deepEqual(
      fx.leftRules().filter((l) => l.includes(ep.ip)),
      [],
    );
    assert.ok(!fx.leftLinks().includes(ep.hostVeth), 'host veth removed');
    assert.doesNotMatch(sh('ip', ['-n', c1.name, 'link']), /eth0/);
    assert.equal(fx.client(null, 'tcp', '127.0.0.1', tp, 'gone'), null);
  });

  it("a container cannot reach the host's loopback services through the bridge's route_localnet", async () => {
    const n = nets!;
    const c = fx.netns();
    await n.attach({ containerId: `atk-${fx.id}`, netnsPath: c.path, network: 'bridge' });
    const port = await freePort();
    await fx.server(null, 'tcp', '127.0.0.1', port);
    // The container routes 127.0.0.1 to the host, as a hostile one could.
    const inside = (args: string[]) => sh('ip', ['netns', 'exec', c.name, ...args]);
    const hostile = () => {
      inside(['ip', 'addr', 'flush', 'dev', 'lo']);
      inside(['sysctl', '-qw', 'net.ipv4.conf.all.route_localnet=1', 'net.ipv4.conf.eth0.route_localnet=1']);
      inside(['ip', 'route', 'add', '127.0.0.1/32', 'via', `${def.prefix}.1`, 'dev', 'eth0']);
    };
    hostile();
    assert.equal(fx.client(c.name, 'tcp', '127.0.0.1', port, 'atk'), null);
    // The control: without Berth's INPUT rule the same packets get through ...
    sh('iptables', ['-w', '-F', `${fx.chainPrefix}-INPUT`]);
    assert.match(fx.client(c.name, 'tcp', '127.0.0.1', port, 'atk') ?? '', /\|atk$/);
    // ... and the next change re-renders the rules whole.
    await n.release(`atk-${fx.id}`);
    await n.attach({ containerId: `atk-${fx.id}`, netnsPath: c.path, network: 'bridge' });
    hostile();
    assert.match(sh('ip', ['-n', c.name, 'route', 'show', '127.0.0.1']), /via/);
    assert.equal(fx.client(c.name, 'tcp', '127.0.0.1', port, 'atk'), null);
    await n.release(`atk-${fx.id}`);
  });

  it('none: only lo, up; container:<id> gives the namespace to join', async () => {
    const n = nets!;
    const c = fx.netns();
    await n.isolate(`none-${fx.id}`, c.path);
    const links = JSON.parse(sh('ip', ['-n', c.name, '-j', 'link', 'show'])) as { ifname: string; flags: string[] }[];
    assert.deepEqual(
      links.map((l) => l.ifname),
      ['lo'],
    );
    assert.ok(links[0]?.flags.includes('UP'));
    assert.equal(n.joinPath(`none-${fx.id}`), c.path);
    const d = fx.netns();
    await n.attach({ containerId: `web-${fx.id}`, netnsPath: d.path, network: 'bridge' });
    assert.equal(n.joinPath(`web-${fx.id}`), d.path);
    assert.throws(() => n.joinPath('nosuch'), /cannot join network of container nosuch/);
    await n.release(`none-${fx.id}`);
    await n.release(`web-${fx.id}`);
    assert.throws(() => n.joinPath(`web-${fx.id}`), /cannot join/);
  });

  it('takes everything down: no bridge, veth or rule of this instance stays', async () => {
    await nets!.shutdownAll();
    assert.deepEqual(fx.leftLinks(), []);
    assert.deepEqual(fx.leftRules(), []);
  });
});
