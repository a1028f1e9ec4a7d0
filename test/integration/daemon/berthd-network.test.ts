// berthd's networks through the real docker CLI, on a real containerd:
// the default bridge (addresses, routes, /etc/hosts, published TCP and UDP
// ports, -P, ranges, port conflicts), user-defined and --internal networks,
// connect/disconnect, outbound NAT, dockerd's errors, and live-restore
// (SIGTERM and kill -9) with containers on bridges. berthd runs in a network
// namespace the helper made: its bridges, iptables rules and ip_forward live
// there and die with it; packets go only to 127.0.0.1 inside that namespace,
// to the containers, and to a server in a second namespace this test made
// ("ext", standing for the outside world). The host's links, rules and
// ip_forward are compared before and after.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { startContainerd, which, type Containerd } from '../../helpers/daemons.js';
import { startRegistry, registryMissing, type RegistryInstance } from '../../helpers/registry.js';
import { seedImage } from '../../helpers/seed-registry.js';
import { startBerthd, rawRequest, BERTHD_BIN, DOCKER_28, type Berthd } from '../../helpers/berthd.js';
import { waitUntil } from '../../helpers/wait.js';
import { hostNetSnapshot } from '../../helpers/hostnet.js';

const skip =
  process.getuid?.() !== 0
    ? 'needs root'
    : registryMissing ||
      (!which('containerd') ? 'containerd is not installed' : false) ||
      (!existsSync(DOCKER_28) ? `no docker CLI at ${DOCKER_28}` : false) ||
      (!which('iptables') ? 'iptables is not installed' : false) ||
      (!which('skopeo') ? 'skopeo is not installed' : false);

let ctrd: Containerd;
let reg: RegistryInstance;
let b: Berthd;
let IMG = '';
let hostBefore = '';
const EXT_NS = `berthd-ext-${process.pid}`;
let extServer: ChildProcess | undefined;

/** A command inside berthd's network namespace. */
function inNs(cmd: string, args: string[]) {
  return spawnSync('nsenter', [`--net=${b.netns!.path}`, cmd, ...args], { encoding: 'utf8', timeout: 20000 });
}
const curl = (url: string) => inNs('curl', ['-s', '--max-time', '5', url]);
/** iptables-save of berthd's namespace, without its comment lines and counters. */
function rules(): string {
  return inNs('iptables-save', [])
    .stdout.split('\n')
    .filter((l) => !l.startsWith('#'))
    .map((l) => l.replace(/\[\d+:\d+\]/g, ''))
    .join('\n');
}
function links(): string[] {
  return inNs('ip', ['-o', 'link', 'show'])
    .stdout.split('\n')
    .map((l) => l.split(':')[1]?.trim().split('@')[0] ?? '')
    .filter(Boolean);
}
const veths = () => links().filter((l) => l.startsWith('bthv'));
const pidOf = (c: string) => Number(b.ok(['inspect', '-f', '{{.State.Pid}}', c]).trim());
/** A command in the container's network namespace, with the host's tools (what the kernel shows). */
const inCtr = (c: string, cmd: string, args: string[]) =>
  spawnSync('nsenter', ['-t', String(pidOf(c)), '-n', cmd, ...args], { encoding: 'utf8' }).stdout;
const WEB = (text: string) => [
  'sh',
  '-c',
  `mkdir -p /www && echo ${text} > /www/index.html && exec httpd -f -p 80 -h /www`,
];

before(async () => {
  if (skip) return;
  hostBefore = hostNetSnapshot();
  ctrd = await startContainerd({ prefix: 'berthd-net-ctrd-' });
  reg = await startRegistry();
  seedImage(reg.host, 'berth/busybox:latest');
  IMG = `${reg.host}/berth/busybox:latest`;
  b = await startBerthd(ctrd.sock, { netns: true, relayPorts: [reg.port], namespace: `berthd-net-${process.pid}` });
  b.ok(['pull', '-q', IMG]);
});

after(async () => {
  if (extServer?.pid) extServer.kill('SIGKILL');
  spawnSync('ip', ['netns', 'del', EXT_NS]);
  await b?.stop();
  await reg?.stop();
  await ctrd?.stop();
  if (!skip) assert.equal(hostNetSnapshot(), hostBefore, "the host's links, iptables rules or ip_forward changed");
});

test(
  'default bridge: address before any container, eth0, route, hosts, MAC, inspect, docker port, HTTP on 127.0.0.1',
  { skip },
  async () => {
    // The bridge has its address as soon as berthd serves, before any container exists.
    assert.match(inNs('ip', ['-o', '-4', 'addr', 'show', 'berth0']).stdout, /inet 172\.17\.0\.1\/16/);
    assert.equal(inNs('cat', ['/proc/sys/net/ipv4/ip_forward']).stdout.trim(), '1');
    const id = b.ok(['run', '-d', '--name', 'web', '-p', '127.0.0.1:8080:80', IMG, ...WEB('hello-web')]).trim();
    const st = JSON.parse(b.ok(['inspect', id]))[0].NetworkSettings;
    assert.equal(st.IPAddress, '172.17.0.2');
    assert.equal(st.Gateway, '172.17.0.1');
    assert.equal(st.IPPrefixLen, 16);
    assert.equal(st.MacAddress, '02:42:ac:11:00:02');
    assert.deepEqual(st.Ports['80/tcp'], [{ HostIp: '127.0.0.1', HostPort: '8080' }]);
    assert.equal(st.Networks.bridge.IPAddress, '172.17.0.2');
    assert.ok(st.Networks.bridge.NetworkID.length === 64);
    assert.equal(b.ok(['port', 'web']).trim(), '80/tcp -> 127.0.0.1:8080');
    assert.match(b.ok(['ps', '--format', '{{.Ports}}', '-f', 'name=web']), /127\.0\.0\.1:8080->80\/tcp/);
    // What the kernel shows inside the container.
    assert.match(inCtr('web', 'ip', ['-o', '-4', 'addr', 'show', 'eth0']), /inet 172\.17\.0\.2\/16/);
    assert.match(inCtr('web', 'ip', ['route']), /default via 172\.17\.0\.1 dev eth0/);
    assert.match(inCtr('web', 'ip', ['link', 'show', 'eth0']), /link\/ether 02:42:ac:11:00:02/);
    assert.match(b.ok(['exec', 'web', 'cat', '/etc/hosts']), new RegExp(`172\\.17\\.0\\.2\\t${id.slice(0, 12)}\\n`));
    // A real HTTP round trip to the published port, from 127.0.0.1 of berthd's namespace.
    await waitUntil('httpd to answer', () => curl('http://127.0.0.1:8080/').stdout === 'hello-web\n', 10000, 100);
    assert.match(rules(), /-A BERTH -d 127\.0\.0\.1\/32 .*--dport 8080 -j DNAT --to-destination 172\.17\.0\.2:80/);
    // --dns and --dns-search written into the container's resolv.conf (nothing is resolved here).
    assert.equal(
      b.ok(['run', '--rm', '--dns', '10.0.0.53', '--dns-search', 'example.test', IMG, 'cat', '/etc/resolv.conf']),
      'nameserver 10.0.0.53\nsearch example.test\n',
    );
    // The container reaches its gateway, and the gateway the container.
    assert.match(inCtr('web', '/bin/busybox', ['ping', '-c1', '-W2', '172.17.0.1']), /1 packets received/);
    assert.match(inNs('/bin/busybox', ['ping', '-c1', '-W2', '172.17.0.2']).stdout, /1 packets received/);
  },
);

test('a port already taken: dockerd words, and nothing left behind', { skip }, () => {
  const vBefore = veths().sort();
  const rBefore = rules();
  const r = b.docker(['run', '-d', '--name', 'web2', '-p', '127.0.0.1:8080:80', IMG, 'sleep', '60']);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /Bind for 127\.0\.0\.1:8080 failed: port is already allocated/);
  assert.match(r.stderr, /driver failed programming external connectivity on endpoint web2/);
  assert.deepEqual(veths().sort(), vBefore, 'no veth left');
  assert.equal(rules(), rBefore, 'no rule left');
  const net = JSON.parse(b.ok(['network', 'inspect', 'bridge']))[0];
  assert.equal(Object.keys(net.Containers).length, 1, 'no lease left');
  b.ok(['rm', 'web2']);
  // The old container goes: its rules, veth and port with it; the port is free again.
  b.ok(['rm', '-f', 'web']);
  assert.doesNotMatch(rules(), /172\.17\.0\.2/);
  assert.equal(veths().length, vBefore.length - 1);
  assert.notEqual(curl('http://127.0.0.1:8080/').status, 0);
  b.ok(['run', '-d', '--name', 'web3', '-p', '127.0.0.1:8080:80', IMG, ...WEB('again')]);
  b.ok(['rm', '-f', 'web3']);
});

test('UDP round trip, port ranges, -P over EXPOSE, all addresses', { skip }, async () => {
  b.ok(['run', '-d', '--name', 'udp', '-p', '127.0.0.1:9000-9001:7000-7001/udp', IMG, 'sleep', '120']);
  assert.equal(
    b.ok(['port', 'udp']).trim().split('\n').sort().join('\n'),
    '7000/udp -> 127.0.0.1:9000\n7001/udp -> 127.0.0.1:9001',
  );
  // busybox's nc has no UDP: the echo server is node, run in the container's network namespace.
  const echo =
    "const s=require('dgram').createSocket('udp4');s.on('message',(m,r)=>s.send('pong:'+m,r.port,r.address));" +
    "s.bind(7001,'0.0.0.0',()=>console.log('ready'))";
  const server = spawn('nsenter', ['-t', String(pidOf('udp')), '-n', process.execPath, '-e', echo], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    await new Promise((res) => server.stdout.once('data', res));
    const js =
      "const s=require('dgram').createSocket('udp4');s.on('message',m=>{console.log(String(m));process.exit(0)});" +
      "const send=()=>s.send('ping-udp',9001,'127.0.0.1');send();setInterval(send,300);setTimeout(()=>process.exit(3),8000)";
    const r = inNs(process.execPath, ['-e', js]);
    assert.equal(r.stdout.trim(), 'pong:ping-udp', r.stderr);
  } finally {
    server.kill('SIGKILL');
  }
  b.ok(['rm', '-f', 'udp']);

  b.ok(['run', '-d', '--name', 'pall', '-P', '--expose', '5000', '--expose', '5001/udp', IMG, 'sleep', '60']);
  const ports = b.ok(['port', 'pall']).trim().split('\n').sort();
  assert.equal(ports.length, 2);
  assert.match(ports[0]!, /^5000\/tcp -> 0\.0\.0\.0:\d+$/);
  assert.match(ports[1]!, /^5001\/udp -> 0\.0\.0\.0:\d+$/);
  const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  const p = Number(ports[0]!.split(':')[1]);
  assert.ok(p >= lo! && p <= hi!, `${p} in the ephemeral range`);
  b.ok(['rm', '-f', 'pall']);

  // 0.0.0.0: the gateway's address answers too.
  b.ok(['run', '-d', '--name', 'wall', '-p', '8081:80', IMG, ...WEB('all-addrs')]);
  await waitUntil('httpd on 8081', () => curl('http://127.0.0.1:8081/').stdout === 'all-addrs\n', 10000, 100);
  assert.equal(curl('http://172.17.0.1:8081/').stdout, 'all-addrs\n');
  b.ok(['rm', '-f', 'wall']);
  const bad = b.docker(['run', '--rm', '-p', '70000:80', IMG, 'true']);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /70000/);
});

test('outbound NAT to a server of this test, in a namespace of its own', { skip }, async () => {
  // ext: a namespace linked to berthd's by a veth pair; its server answers with the peer address it sees.
  spawnSync('ip', ['netns', 'add', EXT_NS]);
  const sh = (args: string[]) => {
    const r = spawnSync('ip', args, { encoding: 'utf8' });
    assert.equal(r.status, 0, `ip ${args.join(' ')}: ${r.stderr}`);
  };
  sh(['-n', b.netns!.name, 'link', 'add', 'extup', 'type', 'veth', 'peer', 'name', 'extin', 'netns', EXT_NS]);
  sh(['-n', b.netns!.name, 'addr', 'add', '198.18.0.1/30', 'dev', 'extup']);
  sh(['-n', b.netns!.name, 'link', 'set', 'extup', 'up']);
  sh(['-n', EXT_NS, 'addr', 'add', '198.18.0.2/30', 'dev', 'extin']);
  sh(['-n', EXT_NS, 'link', 'set', 'extin', 'up']);
  sh(['-n', EXT_NS, 'link', 'set', 'lo', 'up']);
  const js =
    "require('http').createServer((q,s)=>s.end(q.socket.remoteAddress)).listen(8090,'198.18.0.2',()=>console.log('ready'))";
  extServer = spawn('ip', ['netns', 'exec', EXT_NS, process.execPath, '-e', js], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise((res) => extServer!.stdout!.once('data', res));
  b.ok(['run', '-d', '--name', 'out', IMG, 'sleep', '120']);
  // busybox's static wget crashes on this image: the client is the host's curl, in the container's namespace.
  const out = inCtr('out', 'curl', ['-s', '--max-time', '5', 'http://198.18.0.2:8090/']);
  // The server sees berthd's namespace's address, not the container's: MASQUERADE.
  assert.equal(out.trim(), '198.18.0.1');
  assert.match(rules(), /-A BERTH-POSTROUTING -s 172\.17\.0\.0\/16 ! -o berth0 -j MASQUERADE/);
  // An internal network has no way out.
  b.ok(['network', 'create', '--internal', '--subnet', '10.123.1.0/24', 'inside']);
  b.ok(['run', '-d', '--name', 'in1', '--network', 'inside', IMG, 'sleep', '120']);
  const r = spawnSync('nsenter', [
    '-t',
    String(pidOf('in1')),
    '-n',
    'curl',
    '-s',
    '--max-time',
    '3',
    'http://198.18.0.2:8090/',
  ]);
  assert.notEqual(r.status, 0);
  assert.doesNotMatch(inCtr('in1', 'ip', ['route']), /default/);
  assert.match(inCtr('in1', 'ip', ['route']), /10\.123\.1\.0\/24 dev eth0/);
  b.ok(['rm', '-f', 'out', 'in1']);
  b.ok(['network', 'rm', 'inside']);
});

const status = async (method: string, path: string, body?: unknown) => {
  const r = await rawRequest(b.sock, method, path, body === undefined ? undefined : JSON.stringify(body));
  return { status: r.status, message: r.body ? (JSON.parse(r.body) as { message?: string }).message : undefined };
};
const ping = (from: string, ip: string) =>
  /1 packets received/.test(inCtr(from, '/bin/busybox', ['ping', '-c1', '-W1', ip]));

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
    assert.match(inNs('ip', ['-o', '-4', 'addr']).stdout, /inet 10\.124\.0\.254\/24/);
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
    assert.match(inCtr('a1', 'ip', ['-o', '-4', 'addr', 'show', 'eth0']), /inet 10\.124\.0\.50\/24/);
    assert.match(inCtr('a1', 'ip', ['route']), /default via 10\.124\.0\.254 dev eth0/);
    const a1 = JSON.parse(b.ok(['inspect', 'a1']))[0].NetworkSettings;
    assert.equal(a1.Networks.n1.IPAddress, '10.124.0.50');
    assert.deepEqual(a1.Networks.n1.IPAMConfig, { IPv4Address: '10.124.0.50' });
    assert.equal(a1.Networks.n1.Gateway, '10.124.0.254');
    assert.equal(a1.IPAddress, '', 'top-level fields are the default bridge');
    const a2ip = b.ok(['inspect', '-f', '{{.NetworkSettings.Networks.n1.IPAddress}}', 'a2']).trim();
    assert.match(a2ip, /^10\.124\.0\.\d+$/);
    assert.notEqual(a2ip, '10.124.0.50');
    const taken = b.docker(['run', '-d', '--name', 'a4', '--network', 'n1', '--ip', '10.124.0.50', IMG, 'sleep', '1']);
    assert.notEqual(taken.status, 0);
    assert.match(taken.stderr, /Address already in use/);
    b.ok(['rm', 'a4']);
    const outside = b.docker(['run', '--rm', '--network', 'n1', '--ip', '10.124.1.5', IMG, 'true']);
    assert.match(outside.stderr, /no configured subnet or ip-range contain the IP address 10\.124\.1\.5/);
    // Two networks at create (API 1.44): eth0 on the first with the default route, eth1 on the second.
    b.ok(['network', 'create', '--subnet', '10.124.9.0/24', 'n1b']);
    b.ok(['run', '-d', '--name', 'two', '--network', 'n1', '--network', 'n1b', IMG, 'sleep', '300']);
    assert.match(inCtr('two', 'ip', ['-o', '-4', 'addr', 'show', 'eth0']), /inet 10\.124\.0\.\d+\/24/);
    assert.match(inCtr('two', 'ip', ['-o', '-4', 'addr', 'show', 'eth1']), /inet 10\.124\.9\.\d+\/24/);
    assert.match(inCtr('two', 'ip', ['route']), /default via 10\.124\.0\.254 dev eth0/);
    // Connected while stopped: attached at the next start, and kept across restarts.
    b.ok(['stop', '-t', '1', 'two']);
    b.ok(['network', 'disconnect', 'n1b', 'two']);
    b.ok(['network', 'connect', 'bridge', 'two']);
    b.ok(['start', 'two']);
    assert.deepEqual(Object.keys(JSON.parse(b.ok(['inspect', 'two']))[0].NetworkSettings.Networks).sort(), [
      'bridge',
      'n1',
    ]);
    assert.match(inCtr('two', 'ip', ['-o', '-4', 'addr', 'show', 'eth1']), /inet 172\.17\.0\.\d+\/16/);
    assert.doesNotMatch(inCtr('two', 'ip', ['-o', '-4', 'addr']), /10\.124\.9\./);
    b.ok(['rm', '-f', 'two']);
    b.ok(['network', 'rm', 'n1b']);
    // Same network: reachable. From the default bridge: isolated.
    assert.ok(ping('a2', '10.124.0.50'));
    assert.ok(!ping('a3', '10.124.0.50'));
    // connect a running container: eth1 with the asked address; disconnect: gone.
    b.ok(['network', 'connect', '--ip', '10.124.0.60', 'n1', 'a3']);
    assert.match(inCtr('a3', 'ip', ['-o', '-4', 'addr', 'show', 'eth1']), /inet 10\.124\.0\.60\/24/);
    assert.match(inCtr('a3', 'ip', ['route']), /default via 172\.17\.0\.1 dev eth0/);
    assert.ok(ping('a3', '10.124.0.50'));
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
    assert.doesNotMatch(inCtr('a3', 'ip', ['-o', 'link']), /eth1/);
    assert.ok(!ping('a3', '10.124.0.50'));

    // dockerd's refusals, with its statuses.
    const overlap = b.docker(['network', 'create', '--subnet', '10.124.0.0/25', 'n2']);
    assert.match(overlap.stderr, /Pool overlaps with other one on this address space/);
    assert.equal(
      (await status('POST', '/networks/create', { Name: 'n2', IPAM: { Config: [{ Subnet: '10.124.0.0/16' }] } }))
        .status,
      403,
    );
    const dup = await status('POST', '/networks/create', { Name: 'n1' });
    assert.deepEqual(dup, { status: 409, message: 'network with name n1 already exists' });
    const busy = await status('DELETE', '/networks/n1');
    assert.equal(busy.status, 403);
    assert.match(busy.message!, /^error while removing network: network n1 id [a-f0-9]{64} has active endpoints$/);
    assert.deepEqual(await status('DELETE', '/networks/bridge'), {
      status: 403,
      message: 'bridge is a pre-defined network and cannot be removed',
    });
    assert.deepEqual(await status('GET', '/networks/nope'), { status: 404, message: 'network nope not found' });
    assert.match(b.docker(['run', '--rm', '--network', 'nope', IMG, 'true']).stderr, /network nope not found/);
    assert.match(
      b.docker(['run', '--rm', '--ip', '172.17.0.99', IMG, 'true']).stderr,
      /user specified IP address is supported on user defined networks only/,
    );
    assert.equal((await status('POST', '/networks/create', { Name: 'n9', Driver: 'overlay' })).status, 404);
    assert.equal((await status('POST', '/networks/create', { Name: 'n9', Internal: 'yes' })).status, 400);

    b.ok(['rm', '-f', 'a1', 'a2', 'a3']);
    const bridgeOf = inNs('ip', ['-o', '-4', 'addr']).stdout.match(/^\d+: (\S+)\s+inet 10\.124\.0\.254/m)?.[1];
    assert.ok(bridgeOf);
    b.ok(['network', 'rm', 'n1']);
    assert.ok(!links().includes(bridgeOf), 'the bridge went with its network');
    assert.doesNotMatch(rules(), /10\.124\./);
    assert.deepEqual(veths(), []);

    const ev = b.ok([
      'events',
      '--since',
      String(t0),
      '--until',
      String(Math.ceil(Date.now() / 1000) + 1),
      '--filter',
      'type=network',
      '--format',
      '{{.Action}} {{.Actor.Attributes.name}}',
    ]);
    for (const want of ['create n1', 'connect n1', 'disconnect n1', 'destroy n1'])
      assert.ok(ev.split('\n').includes(want), `event "${want}" in:\n${ev}`);
    b.ok(['network', 'create', '--label', 'drop=1', 'p1']);
    b.ok(['network', 'create', 'p2']);
    assert.match(b.ok(['network', 'prune', '-f', '--filter', 'label=drop=1']), /Deleted Networks:\np1\n/);
    assert.deepEqual(names(['-f', 'type=custom']), ['p2']);
    assert.match(b.ok(['network', 'prune', '-f']), /p2/);
    assert.deepEqual(b.ok(['network', 'ls', '-q', '-f', 'type=custom']).trim(), '');
  },
);

test(
  'live-restore: kill -9 and SIGTERM of berthd with containers on bridges; ports served while it is down; IPAM across restarts',
  { skip },
  async () => {
    b.ok(['network', 'create', '--subnet', '10.125.0.0/24', 'n5']);
    b.ok(['run', '-d', '--name', 'r1', '--network', 'n5', '-p', '127.0.0.1:8085:80', IMG, ...WEB('r1')]);
    b.ok(['run', '-d', '--name', 'r2', '-p', '127.0.0.1:8086:80', IMG, ...WEB('r2')]);
    const ip = (c: string, net: string) =>
      b.ok(['inspect', '-f', `{{(index .NetworkSettings.Networks "${net}").IPAddress}}`, c]).trim();
    const ip1 = ip('r1', 'n5');
    const ip2 = ip('r2', 'bridge');
    await waitUntil(
      'r1 and r2 to serve',
      () => curl('http://127.0.0.1:8085/').stdout === 'r1\n' && curl('http://127.0.0.1:8086/').stdout === 'r2\n',
      10000,
      100,
    );

    await b.kill9();
    // berthd is gone; the kernel keeps serving the published ports.
    assert.equal(curl('http://127.0.0.1:8085/').stdout, 'r1\n');
    // A container that dies while berthd is away: reconciled at the next start.
    process.kill(pidOf2('r2'), 'SIGKILL');
    await b.start();
    assert.equal(ip('r1', 'n5'), ip1);
    assert.equal(b.ok(['port', 'r1']).trim(), '80/tcp -> 127.0.0.1:8085');
    assert.equal(curl('http://127.0.0.1:8085/').stdout, 'r1\n');
    await waitUntil(
      'r2 reaped',
      () => b.ok(['inspect', '-f', '{{.State.Status}}', 'r2']).trim() === 'exited',
      10000,
      100,
    );
    assert.doesNotMatch(rules(), new RegExp(`${ip2.replace(/\./g, '\\.')}[/:]`), "r2's rules went");
    assert.equal(veths().length, 1, "r2's veth went");
    // The port of a live container is held again after the restart; the dead one's is free.
    const clash = b.docker(['run', '-d', '--name', 'r3', '-p', '127.0.0.1:8085:80', IMG, 'sleep', '1']);
    assert.match(clash.stderr, /Bind for 127\.0\.0\.1:8085 failed: port is already allocated/);
    b.ok(['rm', 'r3']);
    // The IPAM does not hand r1's address out again.
    b.ok(['run', '-d', '--name', 'r4', '--network', 'n5', IMG, 'sleep', '300']);
    assert.notEqual(ip('r4', 'n5'), ip1);
    // r2 starts again, on the default bridge, with its port.
    b.ok(['start', 'r2']);
    await waitUntil('r2 serves again', () => curl('http://127.0.0.1:8086/').stdout === 'r2\n', 10000, 100);

    // SIGTERM: the same, orderly.
    const p = b.proc();
    const gone = new Promise((res) => p.once('exit', res));
    p.kill('SIGTERM');
    await gone;
    assert.equal(curl('http://127.0.0.1:8086/').stdout, 'r2\n');
    await b.start();
    assert.equal(ip('r1', 'n5'), ip1);
    assert.equal(curl('http://127.0.0.1:8085/').stdout, 'r1\n');
    assert.equal(curl('http://127.0.0.1:8086/').stdout, 'r2\n');
    assert.equal(veths().length, 3);

    b.ok(['rm', '-f', 'r1', 'r2', 'r4']);
    b.ok(['network', 'rm', 'n5']);
    assert.deepEqual(veths(), []);
    assert.doesNotMatch(rules(), /-j DNAT/);
    assert.notEqual(curl('http://127.0.0.1:8085/').status, 0);
  },
);

function pidOf2(c: string): number {
  // berthd is down: the pid from the record berthd wrote.
  const dir = `${b.dir}/data/containers`;
  for (const id of readdirSync(dir)) {
    const rec = JSON.parse(readFileSync(`${dir}/${id}/config.v2.json`, 'utf8')) as {
      Name: string;
      State: { Pid: number };
    };
    if (rec.Name === `/${c}`) return rec.State.Pid;
  }
  throw new Error(`no record of ${c}`);
}

test('none, host and container:<id> modes beside the bridge', { skip }, () => {
  assert.deepEqual(
    b
      .ok(['run', '--rm', '--network', 'none', IMG, 'ip', '-o', 'link'])
      .trim()
      .split('\n')
      .map((l) => l.split(':')[1]!.trim()),
    ['lo'],
  );
  // host: berthd's own network namespace (here the test's), not a new one.
  const hostLinks = b.ok(['run', '--rm', '--network', 'host', IMG, 'ip', '-o', 'link']);
  assert.match(hostLinks, /berth0/);
  b.ok(['run', '-d', '--name', 'owner', IMG, 'sleep', '300']);
  const shared = b.ok(['run', '--rm', '--network', 'container:owner', IMG, 'ip', '-o', '-4', 'addr', 'show', 'eth0']);
  assert.match(shared, /inet 172\.17\.0\.\d+\/16/);
  const conflict = b.docker(['run', '--rm', '--network', 'container:owner', '-p', '80', IMG, 'true']);
  assert.match(conflict.stderr, /conflicting options: port publishing and the container type network mode/);
  b.ok(['rm', '-f', 'owner']);
});

test(
  'flags: a default pool clear of the host routes, --iptables=false, --ip-forward=false, --bip, --bridge NAME, --bridge none',
  { skip },
  async () => {
    const extra: Berthd[] = [];
    const more = async (args: string[], prepare?: (ns: { name: string }) => void) => {
      const x = await startBerthd(ctrd.sock, {
        netns: true,
        relayPorts: [reg.port],
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

      const z = await more(['--bridge', 'none']);
      assert.deepEqual(z.ok(['network', 'ls', '--format', '{{.Name}}']).trim().split('\n').sort(), ['host', 'none']);
      assert.equal(z.ok(['run', '--rm', IMG, 'ip', '-o', 'link']).trim().split('\n').length, 1, 'loopback only');
      assert.match(z.docker(['run', '--rm', '--network', 'bridge', IMG, 'true']).stderr, /network bridge not found/);
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
