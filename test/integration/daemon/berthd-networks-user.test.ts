// berthd's user-defined bridge networks through the real docker CLI,
// docker-py and dockerode, on a real containerd: create with subnet and
// gateway, inspect, ls with filters, --ip, several networks at create,
// isolation between networks, connect/disconnect of running and stopped
// containers, rm, prune, events, dockerd's errors and statuses; and
// berthd's network flags (--bip, --bridge, --iptables, --ip-forward, a
// default pool clear of the routes). berthd runs in a network namespace of
// the test's (./netfixture.ts); packets go only to the containers and to
// 127.0.0.1 there.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { startContainerd, which, type Containerd } from '../../helpers/daemons.js';
import { startBerthd, BERTHD_BIN, DOCKER_20, DOCKER_28, type Berthd, pastEvents } from '../../helpers/berthd.js';
import { existsSync } from 'node:fs';
import { NetFixture, netSkip } from './netfixture.js';

const skip = netSkip || (!which('containerd') ? 'containerd is not installed' : false);
const fx = new NetFixture();
let ctrd: Containerd;
let b: Berthd;
let IMG = '';

before(async () => {
  if (skip) return;
  ctrd = await startContainerd({ prefix: 'berthd-netu-ctrd-' });
  await fx.start(ctrd.sock, `berthd-netu-${process.pid}`);
  b = fx.b;
  IMG = fx.img;
});

after(async () => {
  await fx.stop();
  await ctrd?.stop();
});
test(
  'user-defined networks: create with subnet and gateway, inspect, ls filters, --ip, isolation, connect/disconnect, rm, prune',
  { skip },
  async () => {
    const t0 = Math.floor(Date.now() / 1000) - 1;
    const id = b
      .ok(['network', 'create', '--subnet', '10.124.0.0/24', '--gateway', '10.124.0.254', '--label', 'team=net', 'n1'])
      .trim();
    assert.match(id, /^[a-f0-9]{64}$/);
    const n = JSON.parse(b.ok(['network', 'inspect', 'n1']))[0];
    assert.equal(n.Driver, 'bridge');
    assert.deepEqual(n.IPAM.Config, [{ Subnet: '10.124.0.0/24', Gateway: '10.124.0.254' }]);
    assert.deepEqual(n.Labels, { team: 'net' });
    assert.match(fx.inNs('ip', ['-o', '-4', 'addr']).stdout, /inet 10\.124\.0\.254\/24/);
    const names = (args: string[]) =>
      b
        .ok(['network', 'ls', '--format', '{{.Name}}', ...args])
        .trim()
        .split('\n')
        .sort();
    assert.deepEqual(names([]), ['bridge', 'host', 'n1', 'none']);
    assert.deepEqual(names(['-f', 'label=team=net']), ['n1']);
    assert.deepEqual(names(['-f', 'type=custom']), ['n1']);
    assert.deepEqual(names(['-f', 'driver=null']), ['none']);
    assert.deepEqual(names(['-f', `id=${id.slice(0, 10)}`]), ['n1']);

    b.ok(['run', '-d', '--name', 'a1', '--network', 'n1', '--ip', '10.124.0.50', IMG, 'sleep', '300']);
    b.ok(['run', '-d', '--name', 'a2', '--network', 'n1', IMG, 'sleep', '300']);
    b.ok(['run', '-d', '--name', 'a3', IMG, 'sleep', '300']);
    assert.match(fx.inCtr('a1', 'ip', ['-o', '-4', 'addr', 'show', 'eth0']), /inet 10\.124\.0\.50\/24/);
    assert.match(fx.inCtr('a1', 'ip', ['route']), /default via 10\.124\.0\.254 dev eth0/);
    const a1 = JSON.parse(b.ok(['inspect', 'a1']))[0].NetworkSettings;
    assert.equal(a1.Networks.n1.IPAddress, '10.124.0.50');
    assert.deepEqual(a1.Networks.n1.IPAMConfig, { IPv4Address: '10.124.0.50' });
    assert.equal(a1.Networks.n1.Gateway, '10.124.0.254');
    assert.equal(a1.IPAddress, '', 'top-level fields are the default bridge');
    const a2ip = b.ok(['inspect', '-f', '{{.NetworkSettings.Networks.n1.IPAddress}}', 'a2']).trim();
    assert.match(a2ip, /^10\.124\.0\.\d+$/);
    assert.notEqual(a2ip, '10.124.0.50');
    const vethsBefore = fx.veths().sort();
    const rulesBefore = fx.rules();
    const taken = b.docker(['run', '-d', '--name', 'a4', '--network', 'n1', '--ip', '10.124.0.50', IMG, 'sleep', '1']);
    assert.notEqual(taken.status, 0);
    assert.match(taken.stderr, /Address already in use/);
    // Nothing of the failed start stays: no veth, no rule, no lease.
    assert.deepEqual(fx.veths().sort(), vethsBefore);
    assert.equal(fx.rules(), rulesBefore);
    assert.equal(Object.keys(JSON.parse(b.ok(['network', 'inspect', 'n1']))[0].Containers).length, 2, 'a1 and a2');
    b.ok(['rm', 'a4']);
    const outside = b.docker(['run', '--rm', '--network', 'n1', '--ip', '10.124.1.5', IMG, 'true']);
    assert.match(outside.stderr, /no configured subnet or ip-range contain the IP address 10\.124\.1\.5/);
    // Two networks at create (API 1.44): eth0 on the first with the default route, eth1 on the second.
    b.ok(['network', 'create', '--subnet', '10.124.9.0/24', 'n1b']);
    b.ok(['run', '-d', '--name', 'two', '--network', 'n1', '--network', 'n1b', IMG, 'sleep', '300']);
    assert.match(fx.inCtr('two', 'ip', ['-o', '-4', 'addr', 'show', 'eth0']), /inet 10\.124\.0\.\d+\/24/);
    assert.match(fx.inCtr('two', 'ip', ['-o', '-4', 'addr', 'show', 'eth1']), /inet 10\.124\.9\.\d+\/24/);
    assert.match(fx.inCtr('two', 'ip', ['route']), /default via 10\.124\.0\.254 dev eth0/);
    // Connected while stopped: attached at the next start, and kept across restarts.
    b.ok(['stop', '-t', '1', 'two']);
    b.ok(['network', 'disconnect', 'n1b', 'two']);
    b.ok(['network', 'connect', 'bridge', 'two']);
    b.ok(['start', 'two']);
    assert.deepEqual(Object.keys(JSON.parse(b.ok(['inspect', 'two']))[0].NetworkSettings.Networks).sort(), [
      'bridge',
      'n1',
    ]);
    assert.match(fx.inCtr('two', 'ip', ['-o', '-4', 'addr', 'show', 'eth1']), /inet 172\.17\.0\.\d+\/16/);
    assert.doesNotMatch(fx.inCtr('two', 'ip', ['-o', '-4', 'addr']), /10\.124\.9\./);
    b.ok(['rm', '-f', 'two']);
    b.ok(['network', 'rm', 'n1b']);
    // Same network: reachable. From the default bridge: isolated.
    assert.ok(fx.ping('a2', '10.124.0.50'));
    assert.ok(!fx.ping('a3', '10.124.0.50'));
    // connect a running container: eth1 with the asked address; disconnect: gone.
    b.ok(['network', 'connect', '--ip', '10.124.0.60', 'n1', 'a3']);
    assert.match(fx.inCtr('a3', 'ip', ['-o', '-4', 'addr', 'show', 'eth1']), /inet 10\.124\.0\.60\/24/);
    assert.match(fx.inCtr('a3', 'ip', ['route']), /default via 172\.17\.0\.1 dev eth0/);
    assert.ok(fx.ping('a3', '10.124.0.50'));
    assert.deepEqual(b.ok(['ps', '--format', '{{.Names}}', '-f', 'network=n1']).trim().split('\n').sort(), [
      'a1',
      'a2',
      'a3',
    ]);
    const members = JSON.parse(b.ok(['network', 'inspect', 'n1']))[0].Containers;
    assert.deepEqual(
      Object.values(members)
        .map((c) => (c as { Name: string }).Name)
        .sort(),
      ['a1', 'a2', 'a3'],
    );
    const again = b.docker(['network', 'connect', 'n1', 'a3']);
    assert.match(again.stderr, /endpoint with name a3 already exists in network n1/);
    b.ok(['network', 'disconnect', 'n1', 'a3']);
    assert.doesNotMatch(fx.inCtr('a3', 'ip', ['-o', 'link']), /eth1/);
    assert.ok(!fx.ping('a3', '10.124.0.50'));

    // dockerd's refusals, with its statuses.
    const overlap = b.docker(['network', 'create', '--subnet', '10.124.0.0/25', 'n2']);
    assert.match(overlap.stderr, /Pool overlaps with other one on this address space/);
    assert.equal(
      (await fx.status('POST', '/networks/create', { Name: 'n2', IPAM: { Config: [{ Subnet: '10.124.0.0/16' }] } }))
        .status,
      403,
    );
    const dup = await fx.status('POST', '/networks/create', { Name: 'n1' });
    assert.deepEqual(dup, { status: 409, message: 'network with name n1 already exists' });
    const busy = await fx.status('DELETE', '/networks/n1');
    assert.equal(busy.status, 403);
    assert.match(busy.message!, /^error while removing network: network n1 id [a-f0-9]{64} has active endpoints$/);
    assert.deepEqual(await fx.status('DELETE', '/networks/bridge'), {
      status: 403,
      message: 'bridge is a pre-defined network and cannot be removed',
    });
    assert.deepEqual(await fx.status('GET', '/networks/nope'), { status: 404, message: 'network nope not found' });
    assert.match(b.docker(['run', '--rm', '--network', 'nope', IMG, 'true']).stderr, /network nope not found/);
    assert.match(
      b.docker(['run', '--rm', '--ip', '172.17.0.99', IMG, 'true']).stderr,
      /user specified IP address is supported on user defined networks only/,
    );
    assert.equal((await fx.status('POST', '/networks/create', { Name: 'n9', Driver: 'overlay' })).status, 404);
    assert.equal((await fx.status('POST', '/networks/create', { Name: 'n9', Internal: 'yes' })).status, 400);

    b.ok(['rm', '-f', 'a1', 'a2', 'a3']);
    const bridgeOf = fx.inNs('ip', ['-o', '-4', 'addr']).stdout.match(/^\d+: (\S+)\s+inet 10\.124\.0\.254/m)?.[1];
    assert.ok(bridgeOf);
    b.ok(['network', 'rm', 'n1']);
    assert.ok(!fx.links().includes(bridgeOf), 'the bridge went with its network');
    assert.doesNotMatch(fx.rules(), /10\.124\./);
    assert.deepEqual(fx.veths(), []);

    const ev = pastEvents(b, t0, ['type=network'], '{{.Action}} {{.Actor.Attributes.name}}');
    for (const want of ['create n1', 'connect n1', 'disconnect n1', 'destroy n1'])
      assert.ok(ev.split('\n').includes(want), `event "${want}" in:\n${ev}`);
    b.ok(['network', 'create', '--label', 'drop=1', 'p1']);
    b.ok(['network', 'create', 'p2']);
    // Debian's docker 20.10 CLI (API 1.41) too.
    if (existsSync(DOCKER_20)) {
      b.ok(['network', 'create', '--subnet', '10.133.0.0/24', 'old20'], { cli: DOCKER_20 });
      assert.match(
        b.ok(['run', '--rm', '--network', 'old20', IMG, 'ip', '-o', '-4', 'addr', 'show', 'eth0'], { cli: DOCKER_20 }),
        /inet 10\.133\.0\.2\/24/,
      );
      b.ok(['network', 'rm', 'old20'], { cli: DOCKER_20 });
    }
    assert.deepEqual(names(['-f', 'dangling=true']), ['p1', 'p2']);
    assert.match(b.ok(['network', 'prune', '-f', '--filter', 'label=drop=1']), /Deleted Networks:\np1\n/);
    assert.deepEqual(names(['-f', 'type=custom']), ['p2']);
    assert.match(b.ok(['network', 'prune', '-f']), /p2/);
    assert.deepEqual(b.ok(['network', 'ls', '-q', '-f', 'type=custom']).trim(), '');
  },
);

test('IPAM under concurrency: parallel docker runs never share an address; --ip-range', { skip }, async () => {
  b.ok(['network', 'create', '--subnet', '10.132.0.0/24', '--ip-range', '10.132.0.128/25', 'ranged']);
  const vethsBefore = fx.veths().length;
  const runs = Array.from(
    { length: 8 },
    (_, i) =>
      new Promise<number | null>((res) => {
        const p = spawn(DOCKER_28, ['run', '-d', '--name', `par${i}`, '--network', 'ranged', IMG, 'sleep', '300'], {
          env: b.env,
          stdio: 'ignore',
        });
        p.on('exit', res);
      }),
  );
  assert.deepEqual(await Promise.all(runs), Array(8).fill(0));
  const ips = Array.from({ length: 8 }, (_, i) =>
    b.ok(['inspect', '-f', '{{.NetworkSettings.Networks.ranged.IPAddress}}', `par${i}`]).trim(),
  );
  assert.equal(new Set(ips).size, 8, `distinct: ${ips.join(' ')}`);
  for (const ip of ips) {
    const last = Number(ip.split('.')[3]);
    assert.ok(ip.startsWith('10.132.0.') && last >= 128 && last < 255, `${ip} in the range`);
  }
  // The kernel agrees: each container has its own address on its eth0.
  for (let i = 0; i < 8; i++)
    assert.match(
      fx.inCtr(`par${i}`, 'ip', ['-o', '-4', 'addr', 'show', 'eth0']),
      new RegExp(`inet ${ips[i]!.replace(/\./g, '\\.')}/24`),
    );
  assert.equal(fx.veths().length, vethsBefore + 8);
  b.ok(['rm', '-f', ...Array.from({ length: 8 }, (_, i) => `par${i}`)]);
  b.ok(['network', 'rm', 'ranged']);
  assert.equal(fx.veths().length, vethsBefore);
});

test(
  'flags: a default pool clear of the host routes, --iptables=false, --ip-forward=false, --bip, --bridge NAME, --bridge none, --default-address-pools',
  { skip },
  async () => {
    const extra: Berthd[] = [];
    const more = async (args: string[], prepare?: (ns: { name: string }) => void) => {
      const x = await startBerthd(ctrd.sock, {
        netns: true,
        relayPorts: [fx.regPort],
        // The main berthd's containerd namespace, so its pulled image is there (one instance at a time uses it).
        namespace: b.namespace,
        args,
        prepare,
      });
      extra.push(x);
      return x;
    };
    const nsRun = (x: Berthd, cmd: string, args: string[]) =>
      spawnSync('nsenter', [`--net=${x.netns!.path}`, cmd, ...args], { encoding: 'utf8' }).stdout;
    const stop = async () => {
      while (extra.length) await extra.pop()!.stop();
    };
    try {
      // 172.17.0.0/16 is taken by a route of the namespace: the default bridge takes the next pool.
      const x = await more(['--iptables=false', '--ip-forward=false'], (ns) => {
        // No dummy driver on every kernel: a veth pair of the namespace's own holds the route.
        for (const args of [
          ['link', 'add', 'taken0', 'type', 'veth', 'peer', 'name', 'taken1'],
          ['addr', 'add', '172.17.5.1/16', 'dev', 'taken0'],
          ['link', 'set', 'taken1', 'up'],
          ['link', 'set', 'taken0', 'up'],
        ])
          assert.equal(spawnSync('ip', ['-n', ns.name, ...args]).status, 0, `ip ${args.join(' ')}`);
        // A new namespace may inherit forwarding on: off, to see berthd leave it so (this namespace's sysctl only).
        const off = spawnSync('nsenter', [
          `--net=/run/netns/${ns.name}`,
          'sh',
          '-c',
          'echo 0 > /proc/sys/net/ipv4/ip_forward',
        ]);
        assert.equal(off.status, 0);
      });
      assert.match(nsRun(x, 'ip', ['-o', '-4', 'addr', 'show', 'berth0']), /inet 172\.18\.0\.1\/16/);
      assert.equal(nsRun(x, 'cat', ['/proc/sys/net/ipv4/ip_forward']).trim(), '0');
      assert.doesNotMatch(nsRun(x, 'iptables-save', []), /BERTH/);
      assert.equal(
        x.ok(['info', '--format', '{{.IPv4Forwarding}} {{json .Warnings}}']).trim(),
        'false ["WARNING: IPv4 forwarding is disabled"]',
      );
      assert.match(x.ok(['run', '--rm', IMG, 'ip', '-o', '-4', 'addr', 'show', 'eth0']), /inet 172\.18\.0\.2\/16/);
      await stop();

      const y = await more(['--bip', '10.126.0.1/24', '--bridge', 'berthx0']);
      assert.match(nsRun(y, 'ip', ['-o', '-4', 'addr', 'show', 'berthx0']), /inet 10\.126\.0\.1\/24/);
      const bridge = JSON.parse(y.ok(['network', 'inspect', 'bridge']))[0];
      assert.deepEqual(bridge.IPAM.Config, [{ Subnet: '10.126.0.0/24', Gateway: '10.126.0.1' }]);
      assert.equal(bridge.Options['com.docker.network.bridge.name'], 'berthx0');
      assert.match(y.ok(['run', '--rm', IMG, 'ip', 'route']), /default via 10\.126\.0\.1 dev eth0/);
      // Restarted with another --bip: the default bridge is made anew; a container made before starts on it.
      y.ok(['create', '--name', 'keep', IMG, 'sleep', '300']);
      const p = y.proc();
      const gone = new Promise((res) => p.once('exit', res));
      p.kill('SIGTERM');
      await gone;
      y.args[y.args.indexOf('10.126.0.1/24')] = '10.129.0.1/24';
      await y.start();
      assert.match(nsRun(y, 'ip', ['-o', '-4', 'addr', 'show', 'berthx0']), /inet 10\.129\.0\.1\/24/);
      assert.doesNotMatch(nsRun(y, 'ip', ['-o', '-4', 'addr']), /10\.126\./);
      y.ok(['start', 'keep']);
      assert.equal(y.ok(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'keep']).trim(), '10.129.0.2');
      y.ok(['rm', '-f', 'keep']);
      await stop();

      const z = await more(['--bridge', 'none', '--default-address-pools', 'base=10.140.0.0/16,size=24']);
      assert.deepEqual(z.ok(['network', 'ls', '--format', '{{.Name}}']).trim().split('\n').sort(), ['host', 'none']);
      assert.equal(z.ok(['run', '--rm', IMG, 'ip', '-o', 'link']).trim().split('\n').length, 1, 'loopback only');
      assert.match(z.docker(['run', '--rm', '--network', 'bridge', IMG, 'true']).stderr, /network bridge not found/);
      // Networks without --subnet come from --default-address-pools, one /24 after the other.
      const subnetOf = (n: string) => z.ok(['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Subnet}}', n]).trim();
      z.ok(['network', 'create', 'auto1']);
      z.ok(['network', 'create', 'auto2']);
      assert.deepEqual([subnetOf('auto1'), subnetOf('auto2')], ['10.140.0.0/24', '10.140.1.0/24']);
      assert.match(
        z.ok(['run', '--rm', '--network', 'auto2', IMG, 'ip', 'route']),
        /default via 10\.140\.1\.1 dev eth0/,
      );
      z.ok(['network', 'rm', 'auto1', 'auto2']);
      // In a throwaway network namespace all the same: a berthd that did start would make its bridge there.
      const bad = spawnSync('unshare', ['--net', BERTHD_BIN, '--bip', '10.1.2.0/24', '--config-file', '/nonexistent'], {
        encoding: 'utf8',
      });
      assert.notEqual(bad.status, 0);
      assert.match(bad.stderr + bad.stdout, /bip: 10\.1\.2\.0\/24 is the network's or the broadcast address/);
    } finally {
      await stop();
    }
  },
);

test('docker-py and dockerode: networks, ports, connect', { skip }, async () => {
  const py = spawnSync(
    'python3',
    [
      '-c',
      `
import docker
from docker.types import IPAMConfig, IPAMPool
c = docker.DockerClient(base_url='unix://${b.sock}')
net = c.networks.create('pynet', driver='bridge', ipam=IPAMConfig(pool_configs=[IPAMPool(subnet='10.127.0.0/24', gateway='10.127.0.1')]))
ctr = c.containers.run('${IMG}', ['sleep', '300'], detach=True, name='pyc', network='pynet', ports={'80/tcp': ('127.0.0.1', 8095)})
ctr.reload()
print(ctr.attrs['NetworkSettings']['Networks']['pynet']['IPAddress'])
print(ctr.ports['80/tcp'][0]['HostIp'], ctr.ports['80/tcp'][0]['HostPort'])
net.reload()
print([x.name for x in net.containers])
c.networks.get('bridge').connect(ctr)
ctr.reload()
print(sorted(ctr.attrs['NetworkSettings']['Networks'].keys()))
ctr.remove(force=True)
net.remove()
print(len(c.networks.list(names=['pynet'])))
`,
    ],
    { encoding: 'utf8', timeout: 120000 },
  );
  assert.equal(py.status, 0, py.stderr + b.logTail());
  assert.equal(py.stdout, "10.127.0.2\n127.0.0.1 8095\n['pyc']\n['bridge', 'pynet']\n0\n");

  const Docker = (await import('dockerode')).default;
  const d = new Docker({ socketPath: b.sock });
  const net = await d.createNetwork({ Name: 'jsnet', Internal: true, IPAM: { Config: [{ Subnet: '10.128.0.0/24' }] } });
  const info = await net.inspect();
  assert.equal(info.Internal, true);
  assert.deepEqual(info.IPAM?.Config, [{ Subnet: '10.128.0.0/24', Gateway: '10.128.0.1' }]);
  const c = await d.createContainer({ Image: IMG, Cmd: ['sleep', '300'], HostConfig: { NetworkMode: 'jsnet' } });
  await c.start();
  const ci = await c.inspect();
  assert.equal(ci.NetworkSettings.Networks.jsnet!.IPAddress, '10.128.0.2');
  await assert.rejects(net.remove(), (e: { statusCode?: number }) => e.statusCode === 403);
  await c.remove({ force: true });
  await net.remove();
  await assert.rejects(d.getNetwork('jsnet').inspect(), (e: { statusCode?: number }) => e.statusCode === 404);
});
