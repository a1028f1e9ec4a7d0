// Bad input and failures half-way: each refused with a message naming the
// field or port, and nothing half-made stays (no veth, no rule, no lease, no
// bridge, no held port).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Networks, parsePublish } from '../../../src/daemon/network/index.js';
import { canBind } from '../../../src/daemon/network/ports.js';
import { Fixture, freeSubnet, isRoot, sh } from './fixture.js';

const skip = !isRoot() ? 'needs root (bridges, veths, iptables)' : false;

describe('network bad input', { skip }, () => {
  const fx = new Fixture();
  const def = freeSubnet();
  let nets: Networks | undefined;
  let squatter: Server | undefined;

  before(async () => {
    nets = await Networks.open({
      dataDir: fx.dir,
      defaultBridge: { name: `${fx.ifPrefix}0`, subnet: def.subnet },
      chainPrefix: fx.chainPrefix,
      ifPrefix: fx.ifPrefix,
    });
  });
  after(async () => {
    squatter?.close();
    await nets?.shutdownAll().catch(() => undefined);
    fx.cleanup();
  });

  function snapshot(): string {
    const st = readFileSync(join(fx.dir, 'networks.json'), 'utf8');
    return JSON.stringify({
      links: fx.leftLinks().sort(),
      rules: fx.leftRules().sort(),
      endpoints: (JSON.parse(st) as { endpoints: unknown }).endpoints,
    });
  }

  it('refuses each bad attach and leaves the host as it was', async () => {
    const n = nets!;
    const c = fx.netns();
    const before = snapshot();
    // A port a host process holds.
    let port = 31000 + Math.floor(Math.random() * 2000);
    while (!(await canBind('tcp', '0.0.0.0', port))) port++;
    squatter = createServer();
    await new Promise<void>((r) => squatter!.listen(port, '127.0.0.1', r));
    await assert.rejects(
      n.attach({ containerId: 'x', netnsPath: c.path, network: 'bridge', ports: parsePublish(`127.0.0.1:${port}:80`) }),
      new RegExp(`Bind for 127\\.0\\.0\\.1:${port} failed: port is already allocated`),
    );
    // Two requests, the second refused: the first one's port is not kept.
    const free = port + 1;
    await assert.rejects(
      n.attach({
        containerId: 'x',
        netnsPath: c.path,
        network: 'bridge',
        ports: [...parsePublish(`127.0.0.1:${free}:81`), ...parsePublish(`${port}:80`)],
      }),
      /port is already allocated/,
    );
    assert.equal(await canBind('tcp', '127.0.0.1', free), true, 'the first port was let go');
    await assert.rejects(
      n.attach({ containerId: 'x', netnsPath: '/nonexistent/netns', network: 'bridge' }),
      /network namespace \/nonexistent\/netns of container x does not exist/,
    );
    await assert.rejects(
      n.attach({ containerId: 'x', netnsPath: c.path, network: 'bridge', ipv4: '192.0.2.200' }),
      /outside the subnet/,
    );
    await assert.rejects(
      n.attach({ containerId: 'x', netnsPath: c.path, network: 'nosuch' }),
      /network nosuch not found/,
    );
    await assert.rejects(n.attach({ containerId: 'x', netnsPath: c.path, network: 'host' }), /use the network mode/);
    assert.equal(snapshot(), before);
    assert.deepEqual(n.endpointsOfContainer('x'), []);

    // A failure after the veth exists (its bridge vanished behind Berth's back):
    // the pair, the lease and the rules are undone.
    const rules = fx.leftRules().sort();
    sh('ip', ['link', 'del', 'dev', `${fx.ifPrefix}0`]);
    await assert.rejects(
      n.attach({ containerId: 'x', netnsPath: c.path, network: 'bridge' }),
      /failed to set up container networking on network bridge/,
    );
    assert.deepEqual(fx.leftLinks(), []);
    assert.doesNotMatch(sh('ip', ['-n', c.name, 'link']), /eth0/);
    assert.deepEqual(fx.leftRules().sort(), rules);
    assert.deepEqual(n.endpointsOfContainer('x'), []);
  });

  it('refuses bad networks and leaves no bridge', async () => {
    const n = nets!;
    const before = snapshot();
    const s = freeSubnet();
    await assert.rejects(n.create({ name: 'bridge', subnet: s.subnet }), /network with name bridge already exists/);
    await assert.rejects(
      n.create({ name: 'g', subnet: s.subnet, gateway: '10.0.0.1' }),
      /no matching subnet for gateway/,
    );
    await assert.rejects(
      n.create({ name: 'r', subnet: s.subnet, ipRange: '10.0.0.0/25' }),
      /no matching subnet for range/,
    );
    await assert.rejects(
      n.create({ name: 'o', subnet: def.subnet }),
      /Pool overlaps with other one on this address space/,
    );
    await assert.rejects(
      n.create({ name: 'm', subnet: s.subnet, options: { 'com.docker.network.driver.mtu': 'big' } }),
      /invalid MTU/,
    );
    await assert.rejects(
      n.create({ name: 'b', subnet: s.subnet, options: { 'com.docker.network.bridge.name': 'lo' } }),
      /bridge name lo is already in use/,
    );
    await assert.rejects(n.create({ name: '', subnet: s.subnet }), /name cannot be empty/);
    assert.equal(snapshot(), before);
    assert.deepEqual(
      n
        .list()
        .map((x) => x.name)
        .sort(),
      ['bridge', 'host', 'none'],
    );
  });
});
