// berthd's default bridge through the real docker CLI, on a real containerd:
// addresses, routes, /etc/hosts and resolv.conf, published TCP and UDP ports
// (-p with host IP and ranges, -P), a port already taken, outbound NAT, the
// none/host/container modes beside it, and live-restore (SIGTERM and kill -9)
// with containers on bridges. berthd runs in a network namespace of the
// test's (./netfixture.ts); packets go only to 127.0.0.1 there, to the
// containers, and to a server in a second namespace this test made ("ext",
// standing for the outside world). User-defined networks:
// berthd-networks-user.test.ts.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { startContainerd, which, type Containerd } from '../../helpers/daemons.js';
import type { Berthd } from '../../helpers/berthd.js';
import { waitUntil } from '../../helpers/wait.js';
import { NetFixture, netSkip, WEB } from './netfixture.js';

const skip = netSkip || (!which('containerd') ? 'containerd is not installed' : false);
const fx = new NetFixture();
let ctrd: Containerd;
let b: Berthd;
let IMG = '';
const EXT_NS = `berthd-ext-${process.pid}`;
let extServer: ChildProcess | undefined;

before(async () => {
  if (skip) return;
  ctrd = await startContainerd({ prefix: 'berthd-net-ctrd-' });
  await fx.start(ctrd.sock, `berthd-net-${process.pid}`);
  b = fx.b;
  IMG = fx.img;
});

after(async () => {
  if (extServer?.pid) extServer.kill('SIGKILL');
  spawnSync('ip', ['netns', 'del', EXT_NS]);
  await fx.stop();
  await ctrd?.stop();
});
test(
  'default bridge: address before any container, eth0, route, hosts, MAC, inspect, docker port, HTTP on 127.0.0.1',
  { skip },
  async () => {
    // The bridge has its address as soon as berthd serves, before any container exists.
    assert.match(fx.inNs('ip', ['-o', '-4', 'addr', 'show', 'berth0']).stdout, /inet 172\.17\.0\.1\/16/);
    assert.equal(fx.inNs('cat', ['/proc/sys/net/ipv4/ip_forward']).stdout.trim(), '1');
    assert.equal(
      b.ok(['info', '--format', '{{.IPv4Forwarding}} {{json .Plugins.Network}} {{json .Warnings}}']).trim(),
      'true ["bridge","host","null"] []',
    );
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
    assert.match(fx.inCtr('web', 'ip', ['-o', '-4', 'addr', 'show', 'eth0']), /inet 172\.17\.0\.2\/16/);
    assert.match(fx.inCtr('web', 'ip', ['route']), /default via 172\.17\.0\.1 dev eth0/);
    assert.match(fx.inCtr('web', 'ip', ['link', 'show', 'eth0']), /link\/ether 02:42:ac:11:00:02/);
    assert.match(b.ok(['exec', 'web', 'cat', '/etc/hosts']), new RegExp(`172\\.17\\.0\\.2\\t${id.slice(0, 12)}\\n`));
    // A real HTTP round trip to the published port, from 127.0.0.1 of berthd's namespace.
    await waitUntil('httpd to answer', () => fx.curl('http://127.0.0.1:8080/').stdout === 'hello-web\n', 10000, 100);
    assert.match(fx.rules(), /-A BERTH -d 127\.0\.0\.1\/32 .*--dport 8080 -j DNAT --to-destination 172\.17\.0\.2:80/);
    // --dns and --dns-search written into the container's resolv.conf (nothing is resolved here).
    assert.equal(
      b.ok(['run', '--rm', '--dns', '10.0.0.53', '--dns-search', 'example.test', IMG, 'cat', '/etc/resolv.conf']),
      'nameserver 10.0.0.53\nsearch example.test\n',
    );
    // The container reaches its gateway, and the gateway the container.
    assert.match(fx.inCtr('web', '/bin/busybox', ['ping', '-c1', '-W2', '172.17.0.1']), /1 packets received/);
    assert.match(fx.inNs('/bin/busybox', ['ping', '-c1', '-W2', '172.17.0.2']).stdout, /1 packets received/);
  },
);

test('a port already taken: dockerd words, and nothing left behind', { skip }, () => {
  const vBefore = fx.veths().sort();
  const rBefore = fx.rules();
  const r = b.docker(['run', '-d', '--name', 'web2', '-p', '127.0.0.1:8080:80', IMG, 'sleep', '60']);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /Bind for 127\.0\.0\.1:8080 failed: port is already allocated/);
  assert.match(r.stderr, /driver failed programming external connectivity on endpoint web2/);
  assert.deepEqual(fx.veths().sort(), vBefore, 'no veth left');
  assert.equal(fx.rules(), rBefore, 'no rule left');
  const net = JSON.parse(b.ok(['network', 'inspect', 'bridge']))[0];
  assert.equal(Object.keys(net.Containers).length, 1, 'no lease left');
  b.ok(['rm', 'web2']);
  // The old container goes: its rules, veth and port with it; the port is free again.
  b.ok(['rm', '-f', 'web']);
  assert.doesNotMatch(fx.rules(), /172\.17\.0\.2/);
  assert.equal(fx.veths().length, vBefore.length - 1);
  assert.notEqual(fx.curl('http://127.0.0.1:8080/').status, 0);
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
  const server = spawn('nsenter', ['-t', String(fx.pidOf('udp')), '-n', process.execPath, '-e', echo], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    await new Promise((res) => server.stdout.once('data', res));
    const js =
      "const s=require('dgram').createSocket('udp4');s.on('message',m=>{console.log(String(m));process.exit(0)});" +
      "const send=()=>s.send('ping-udp',9001,'127.0.0.1');send();setInterval(send,300);setTimeout(()=>process.exit(3),8000)";
    const r = fx.inNs(process.execPath, ['-e', js]);
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
  await waitUntil('httpd on 8081', () => fx.curl('http://127.0.0.1:8081/').stdout === 'all-addrs\n', 10000, 100);
  assert.equal(fx.curl('http://172.17.0.1:8081/').stdout, 'all-addrs\n');
  // Hairpin: the container reaches its own published port through the gateway's address.
  assert.equal(fx.inCtr('wall', 'curl', ['-s', '--max-time', '5', 'http://172.17.0.1:8081/']), 'all-addrs\n');
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
  const out = fx.inCtr('out', 'curl', ['-s', '--max-time', '5', 'http://198.18.0.2:8090/']);
  // The server sees berthd's namespace's address, not the container's: MASQUERADE.
  assert.equal(out.trim(), '198.18.0.1');
  assert.match(fx.rules(), /-A BERTH-POSTROUTING -s 172\.17\.0\.0\/16 ! -o berth0 -j MASQUERADE/);
  // An internal network has no way out.
  b.ok(['network', 'create', '--internal', '--subnet', '10.123.1.0/24', 'inside']);
  b.ok(['run', '-d', '--name', 'in1', '--network', 'inside', IMG, 'sleep', '120']);
  const r = spawnSync('nsenter', [
    '-t',
    String(fx.pidOf('in1')),
    '-n',
    'curl',
    '-s',
    '--max-time',
    '3',
    'http://198.18.0.2:8090/',
  ]);
  assert.notEqual(r.status, 0);
  assert.doesNotMatch(fx.inCtr('in1', 'ip', ['route']), /default/);
  assert.match(fx.inCtr('in1', 'ip', ['route']), /10\.123\.1\.0\/24 dev eth0/);
  b.ok(['rm', '-f', 'out', 'in1']);
  b.ok(['network', 'rm', 'inside']);
});

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
      () => fx.curl('http://127.0.0.1:8085/').stdout === 'r1\n' && fx.curl('http://127.0.0.1:8086/').stdout === 'r2\n',
      10000,
      100,
    );

    await b.kill9();
    // berthd is gone; the kernel keeps serving the published ports.
    assert.equal(fx.curl('http://127.0.0.1:8085/').stdout, 'r1\n');
    // A container that dies while berthd is away: reconciled at the next start.
    process.kill(pidOf2('r2'), 'SIGKILL');
    await b.start();
    assert.equal(ip('r1', 'n5'), ip1);
    assert.equal(b.ok(['port', 'r1']).trim(), '80/tcp -> 127.0.0.1:8085');
    assert.equal(fx.curl('http://127.0.0.1:8085/').stdout, 'r1\n');
    await waitUntil(
      'r2 reaped',
      () => b.ok(['inspect', '-f', '{{.State.Status}}', 'r2']).trim() === 'exited',
      10000,
      100,
    );
    assert.doesNotMatch(fx.rules(), new RegExp(`${ip2.replace(/\./g, '\\.')}[/:]`), "r2's rules went");
    assert.equal(fx.veths().length, 1, "r2's veth went");
    // The port of a live container is held again after the restart; the dead one's is free.
    const clash = b.docker(['run', '-d', '--name', 'r3', '-p', '127.0.0.1:8085:80', IMG, 'sleep', '1']);
    assert.match(clash.stderr, /Bind for 127\.0\.0\.1:8085 failed: port is already allocated/);
    b.ok(['rm', 'r3']);
    // The IPAM does not hand r1's address out again.
    b.ok(['run', '-d', '--name', 'r4', '--network', 'n5', IMG, 'sleep', '300']);
    assert.notEqual(ip('r4', 'n5'), ip1);
    // r2 starts again, on the default bridge, with its port.
    b.ok(['start', 'r2']);
    await waitUntil('r2 serves again', () => fx.curl('http://127.0.0.1:8086/').stdout === 'r2\n', 10000, 100);

    // SIGTERM: the same, orderly.
    const p = b.proc();
    const gone = new Promise((res) => p.once('exit', res));
    p.kill('SIGTERM');
    await gone;
    assert.equal(fx.curl('http://127.0.0.1:8086/').stdout, 'r2\n');
    await b.start();
    assert.equal(ip('r1', 'n5'), ip1);
    assert.equal(fx.curl('http://127.0.0.1:8085/').stdout, 'r1\n');
    assert.equal(fx.curl('http://127.0.0.1:8086/').stdout, 'r2\n');
    assert.equal(fx.veths().length, 3);

    b.ok(['rm', '-f', 'r1', 'r2', 'r4']);
    b.ok(['network', 'rm', 'n5']);
    assert.deepEqual(fx.veths(), []);
    assert.doesNotMatch(fx.rules(), /-j DNAT/);
    assert.notEqual(fx.curl('http://127.0.0.1:8085/').status, 0);
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
