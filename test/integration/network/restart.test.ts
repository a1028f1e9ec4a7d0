// The state survives a kill -9 and the start after it repairs the kernel:
// a berthd killed with a container attached finds the lease, the veth and the
// published port again and never hands the address out twice; leftovers of a
// crash at other instants (a veth the state does not know, a lease whose veth
// was never made, a stray rule in Berth's chains) are cleaned at open.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Networks, type EndpointRecord } from '../../../src/daemon/network/index.js';
import { canBind } from '../../../src/daemon/network/ports.js';
import { Fixture, freeSubnet, isRoot, sh, tryRun } from './fixture.js';

const skip = !isRoot() ? 'needs root (bridges, veths, iptables)' : false;
const child = join(dirname(fileURLToPath(import.meta.url)), 'crash-child.ts');

describe('restart and crash', { skip }, () => {
  const fx = new Fixture();
  const net = freeSubnet();
  const bridge = `${fx.ifPrefix}0`;
  let nets: Networks | undefined;
  after(async () => {
    await nets?.shutdownAll().catch(() => undefined);
    fx.cleanup();
  });

  it('a kill -9 after attach: lease, veth and port are found again; leftovers of other crash points are cleaned', async () => {
    const c1 = fx.netns();
    await fx.server(c1.name, 'tcp', '0.0.0.0', 80);
    let port = 30000 + Math.floor(Math.random() * 2000);
    while (!(await canBind('tcp', '0.0.0.0', port))) port++;
    const cfg = {
      dataDir: fx.dir,
      chainPrefix: fx.chainPrefix,
      ifPrefix: fx.ifPrefix,
      bridge,
      subnet: net.subnet,
      netns: c1.path,
      port,
    };
    const r = spawnSync(process.execPath, ['--import', 'tsx', child, JSON.stringify(cfg)], { encoding: 'utf8' });
    assert.equal(r.signal, 'SIGKILL', r.stderr);
    const ep = JSON.parse(r.stdout.trim()) as EndpointRecord;

    // Leftovers of crashes at other instants:
    // a veth made before its lease was saved,
    const strayVeth = `${fx.ifPrefix}vdead`;
    sh('ip', ['link', 'add', strayVeth, 'type', 'veth', 'peer', 'name', `${fx.ifPrefix}vdeadp`]);
    // a lease saved before its veth was made,
    const statePath = join(fx.dir, 'networks.json');
    const st = JSON.parse(readFileSync(statePath, 'utf8')) as { endpoints: Record<string, EndpointRecord> };
    const ghost: EndpointRecord = {
      ...ep,
      id: 'ghost',
      containerId: 'ghost',
      hostVeth: `${fx.ifPrefix}vghost`,
      ip: `${net.prefix}.77`,
      ports: [],
    };
    st.endpoints[`${ep.networkId}/ghost`] = ghost;
    writeFileSync(statePath, JSON.stringify(st));
    // and a rule in Berth's chain that the state does not account for.
    sh('iptables', ['-w', '-A', `${fx.chainPrefix}-FORWARD`, '-s', `${net.prefix}.99/32`, '-j', 'DROP']);

    const told: string[] = [];
    nets = await Networks.open({
      dataDir: fx.dir,
      chainPrefix: fx.chainPrefix,
      ifPrefix: fx.ifPrefix,
      defaultBridge: { name: bridge, subnet: net.subnet },
      log: (_level, msg, fields) => told.push(`${msg} ${JSON.stringify(fields)}`),
    });
    assert.ok(
      told.some((l) => l.startsWith('stale interface removed') && l.includes(strayVeth)),
      told.join('\n'),
    );
    assert.ok(
      told.some((l) => l.startsWith('endpoint dropped') && l.includes('"ghost"')),
      told.join('\n'),
    );
    assert.deepEqual(
      nets.endpointsOfContainer('crash-c1').map((e) => e.ip),
      [ep.ip],
    );
    assert.deepEqual(nets.endpointsOfContainer('ghost'), []);
    assert.ok(!fx.leftLinks().includes(strayVeth), 'stray veth removed');
    assert.ok(fx.leftLinks().includes(ep.hostVeth), 'the live container keeps its veth');
    assert.deepEqual(
      fx.leftRules().filter((l) => l.includes(`${net.prefix}.99`)),
      [],
    );
    // The port still answers on 127.0.0.1, and is still held.
    assert.equal(fx.client(null, 'tcp', '127.0.0.1', port, 'again')?.split('|')[1], 'again');
    const c2 = fx.netns();
    await assert.rejects(
      nets.attach({
        containerId: 'c2',
        netnsPath: c2.path,
        network: 'bridge',
        ports: [{ proto: 'tcp', containerPort: 80, hostIp: '127.0.0.1', hostPorts: [port, port] }],
      }),
      new RegExp(`Bind for 127.0.0.1:${port} failed: port is already allocated`),
    );
    // A new container never gets the surviving lease.
    const e2 = await nets.attach({ containerId: 'c2', netnsPath: c2.path, network: 'bridge' });
    assert.notEqual(e2.ip, ep.ip);
    assert.deepEqual(
      sh('ip', ['-n', c1.name, '-4', '-o', 'addr', 'show', 'dev', 'eth0']).includes(`${ep.ip}/24`),
      true,
    );
  });

  it('the leases survive a clean restart too, and everything goes at the end', async () => {
    const before = nets!.list().length;
    const eps = ['crash-c1', 'c2'].flatMap((c) => nets!.endpointsOfContainer(c).map((e) => e.ip));
    await nets!.close();
    nets = await Networks.open({
      dataDir: fx.dir,
      chainPrefix: fx.chainPrefix,
      ifPrefix: fx.ifPrefix,
      defaultBridge: { name: bridge, subnet: net.subnet },
    });
    assert.equal(nets.list().length, before);
    assert.deepEqual(
      ['crash-c1', 'c2'].flatMap((c) => nets!.endpointsOfContainer(c).map((e) => e.ip)),
      eps,
    );
    const c3 = fx.netns();
    const e3 = await nets.attach({ containerId: 'c3', netnsPath: c3.path, network: 'bridge' });
    assert.ok(!eps.includes(e3.ip), `${e3.ip} is not one of ${eps.join(', ')}`);
    for (const c of ['crash-c1', 'c2', 'c3']) await nets.release(c);
    await nets.shutdownAll();
    assert.deepEqual(fx.leftLinks(), []);
    assert.deepEqual(fx.leftRules(), []);
    assert.notEqual(tryRun('ip', ['link', 'show', 'dev', bridge]).status, 0);
  });
});
