// berthd's networks on berth-engine: the same docker CLI flows as on a real
// containerd (berthd-network.test.ts), with Berth's own engine below: the
// default bridge with a published port answering on 127.0.0.1, a
// user-defined network with --ip, connect/disconnect of a running container,
// kill -9 of berthd with the port still served, and nothing left at the end.
// berthd runs in a network namespace of the test's (./netfixture.ts);
// packets go only to 127.0.0.1 there and to the containers.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { startEngine, ENGINE_BIN, type Engine } from '../engine/helpers.js';
import type { Berthd } from '../../helpers/berthd.js';
import { waitUntil } from '../../helpers/wait.js';
import { NetFixture, netSkip } from './netfixture.js';

const skip = netSkip || (!existsSync(ENGINE_BIN) ? 'bin/berth-engine is not built' : false);
const fx = new NetFixture();
let engine: Engine;
let b: Berthd;
let IMG = '';

before(async () => {
  if (skip) return;
  engine = await startEngine('berthd-net-eng-');
  await fx.start(engine.sock, `berthd-neteng-${process.pid}`);
  b = fx.b;
  IMG = fx.img;
});

after(async () => {
  await fx.stop();
  await engine?.stop();
});

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
    assert.match(fx.inCtr('eweb', 'ip', ['-o', '-4', 'addr', 'show', 'eth0']), /inet 172\.17\.0\.2\/16/);
    await waitUntil(
      'httpd on the engine to answer',
      () => fx.curl('http://127.0.0.1:8080/').stdout === 'on-engine\n',
      10000,
      100,
    );
    assert.equal(b.ok(['port', 'eweb']).trim(), '80/tcp -> 127.0.0.1:8080');

    b.ok(['network', 'create', '--subnet', '10.131.0.0/24', 'en1']);
    b.ok(['run', '-d', '--name', 'e1', '--network', 'en1', '--ip', '10.131.0.9', IMG, 'sleep', '300']);
    assert.match(fx.inCtr('e1', 'ip', ['route']), /default via 10\.131\.0\.1 dev eth0/);
    b.ok(['network', 'connect', 'en1', 'eweb']);
    assert.match(fx.inCtr('eweb', 'ip', ['-o', '-4', 'addr', 'show', 'eth1']), /inet 10\.131\.0\.\d+\/24/);
    assert.match(fx.inCtr('eweb', '/bin/busybox', ['ping', '-c1', '-W2', '10.131.0.9']), /1 packets received/);
    b.ok(['network', 'disconnect', 'en1', 'eweb']);
    assert.doesNotMatch(fx.inCtr('eweb', 'ip', ['-o', 'link']), /eth1/);

    await b.kill9();
    assert.equal(fx.curl('http://127.0.0.1:8080/').stdout, 'on-engine\n', 'served while berthd is down');
    await b.start();
    assert.equal(b.ok(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'eweb']).trim(), '172.17.0.2');
    assert.equal(fx.curl('http://127.0.0.1:8080/').stdout, 'on-engine\n');

    b.ok(['rm', '-f', 'eweb', 'e1']);
    b.ok(['network', 'rm', 'en1']);
    assert.deepEqual(fx.veths(), []);
    assert.doesNotMatch(fx.inNs('iptables-save', []).stdout, /-j DNAT/);
    assert.notEqual(fx.curl('http://127.0.0.1:8080/').status, 0);
  },
);
