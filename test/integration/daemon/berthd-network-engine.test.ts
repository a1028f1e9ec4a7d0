// berthd's networks on berth-engine: the same docker CLI flows as on a real
// containerd (berthd-network.test.ts), with Berth's own engine below: the
// default bridge with a published port answering on 127.0.0.1, a
// user-defined network with --ip, connect/disconnect of a running container,
// kill -9 of berthd with the port still served, and nothing left at the end.
// berthd runs in a network namespace the helper made; packets go only to
// 127.0.0.1 there and to the containers.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { startEngine, ENGINE_BIN, type Engine } from '../engine/helpers.js';
import { startRegistry, registryMissing, type RegistryInstance } from '../../helpers/registry.js';
import { seedImage } from '../../helpers/seed-registry.js';
import { startBerthd, DOCKER_28, type Berthd } from '../../helpers/berthd.js';
import { which } from '../../helpers/daemons.js';
import { waitUntil } from '../../helpers/wait.js';
import { hostNetSnapshot } from '../../helpers/hostnet.js';

const skip =
  process.getuid?.() !== 0
    ? 'needs root'
    : registryMissing ||
      (!existsSync(ENGINE_BIN) ? 'bin/berth-engine is not built' : false) ||
      (!existsSync(DOCKER_28) ? `no docker CLI at ${DOCKER_28}` : false) ||
      (!which('iptables') ? 'iptables is not installed' : false) ||
      (!which('skopeo') ? 'skopeo is not installed' : false);

let engine: Engine;
let reg: RegistryInstance;
let b: Berthd;
let IMG = '';
let hostBefore = '';

before(async () => {
  if (skip) return;
  hostBefore = hostNetSnapshot();
  engine = await startEngine('berthd-net-eng-');
  reg = await startRegistry();
  seedImage(reg.host, 'berth/busybox:latest');
  IMG = `${reg.host}/berth/busybox:latest`;
  b = await startBerthd(engine.sock, {
    netns: true,
    relayPorts: [reg.port],
    namespace: `berthd-neteng-${process.pid}`,
  });
  b.ok(['pull', '-q', IMG]);
});

after(async () => {
  await b?.stop();
  await reg?.stop();
  await engine?.stop();
  if (!skip) assert.equal(hostNetSnapshot(), hostBefore, "the host's links, iptables rules or ip_forward changed");
});

const inNs = (cmd: string, args: string[]) =>
  spawnSync('nsenter', [`--net=${b.netns!.path}`, cmd, ...args], { encoding: 'utf8', timeout: 20000 });
const curl = (url: string) => inNs('curl', ['-s', '--max-time', '5', url]);
const pidOf = (c: string) => Number(b.ok(['inspect', '-f', '{{.State.Pid}}', c]).trim());
const inCtr = (c: string, cmd: string, args: string[]) =>
  spawnSync('nsenter', ['-t', String(pidOf(c)), '-n', cmd, ...args], { encoding: 'utf8' }).stdout;
const veths = () =>
  inNs('ip', ['-o', 'link', 'show'])
    .stdout.split('\n')
    .filter((l) => / bthv/.test(l));

test(
  'berthd on berth-engine: bridge, published port, user network, connect/disconnect, kill -9',
  { skip },
  async () => {
    b.ok([
      'run',
      '-d',
      '--name',
      'eweb',
      '-p',
      '127.0.0.1:8080:80',
      IMG,
      'sh',
      '-c',
      'mkdir -p /www && echo on-engine > /www/index.html && exec httpd -f -p 80 -h /www',
    ]);
    assert.equal(b.ok(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'eweb']).trim(), '172.17.0.2');
    assert.match(inCtr('eweb', 'ip', ['-o', '-4', 'addr', 'show', 'eth0']), /inet 172\.17\.0\.2\/16/);
    await waitUntil(
      'httpd on the engine to answer',
      () => curl('http://127.0.0.1:8080/').stdout === 'on-engine\n',
      10000,
      100,
    );
    assert.equal(b.ok(['port', 'eweb']).trim(), '80/tcp -> 127.0.0.1:8080');

    b.ok(['network', 'create', '--subnet', '10.131.0.0/24', 'en1']);
    b.ok(['run', '-d', '--name', 'e1', '--network', 'en1', '--ip', '10.131.0.9', IMG, 'sleep', '300']);
    assert.match(inCtr('e1', 'ip', ['route']), /default via 10\.131\.0\.1 dev eth0/);
    b.ok(['network', 'connect', 'en1', 'eweb']);
    assert.match(inCtr('eweb', 'ip', ['-o', '-4', 'addr', 'show', 'eth1']), /inet 10\.131\.0\.\d+\/24/);
    assert.match(inCtr('eweb', '/bin/busybox', ['ping', '-c1', '-W2', '10.131.0.9']), /1 packets received/);
    b.ok(['network', 'disconnect', 'en1', 'eweb']);
    assert.doesNotMatch(inCtr('eweb', 'ip', ['-o', 'link']), /eth1/);

    await b.kill9();
    assert.equal(curl('http://127.0.0.1:8080/').stdout, 'on-engine\n', 'served while berthd is down');
    await b.start();
    assert.equal(b.ok(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'eweb']).trim(), '172.17.0.2');
    assert.equal(curl('http://127.0.0.1:8080/').stdout, 'on-engine\n');

    b.ok(['rm', '-f', 'eweb', 'e1']);
    b.ok(['network', 'rm', 'en1']);
    assert.deepEqual(veths(), []);
    assert.doesNotMatch(inNs('iptables-save', []).stdout, /-j DNAT/);
    assert.notEqual(curl('http://127.0.0.1:8080/').status, 0);
  },
);
