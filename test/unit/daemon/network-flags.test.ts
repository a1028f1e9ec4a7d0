// berthd's network settings: --bridge, --bip, --iptables, --ip-forward as
// flags and daemon.json keys, the default bridge they make, and the create
// body's networking checks that need no kernel (bad NetworkingConfig shapes).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, type DaemonConfig } from '../../../src/daemon/config.js';
import { defaultBridgeOf } from '../../../src/daemon/networking/bip.js';
import { NetworkingSchema } from '../../../src/daemon/networking/service.js';
import { candidatePools, pickSubnet } from '../../../src/daemon/network/ipam.js';
import { parseCidr } from '../../../src/daemon/network/ipv4.js';

const dir = mkdtempSync(join(tmpdir(), 'berthd-netflags-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const none = join(dir, 'missing.json');

function run(argv: string[]): DaemonConfig {
  const p = parseArgs(['--config-file', none, ...argv]);
  assert.equal(p.action, 'run');
  return (p as { config: DaemonConfig }).config;
}

test('defaults: default bridge on, iptables and ip-forward on', () => {
  const c = run([]);
  assert.equal(c.iptables, true);
  assert.equal(c.ipForward, true);
  assert.equal(c.bridge, undefined);
  assert.deepEqual(defaultBridgeOf(c), {});
});

test('flags', () => {
  const c = run(['-b', 'br7', '--bip', '10.9.8.7/24', '--iptables=false', '--ip-forward=false']);
  assert.deepEqual(
    { bridge: c.bridge, bip: c.bip, iptables: c.iptables, ipForward: c.ipForward },
    { bridge: 'br7', bip: '10.9.8.7/24', iptables: false, ipForward: false },
  );
  assert.deepEqual(defaultBridgeOf(c), { name: 'br7', subnet: '10.9.8.0/24', gateway: '10.9.8.7' });
  assert.equal(defaultBridgeOf(run(['--bridge', 'none'])), null);
  assert.equal(defaultBridgeOf(run(['--bridge=none', '--bip', '10.0.0.1/8'])), null);
});

test('daemon.json keys, and a key given both ways is named', () => {
  const f = join(dir, 'd.json');
  writeFileSync(f, JSON.stringify({ bridge: 'none', iptables: false, 'ip-forward': false, bip: '192.168.77.1/24' }));
  const p = parseArgs(['--config-file', f]);
  assert.equal(p.action, 'run');
  const c = (p as { config: DaemonConfig }).config;
  assert.equal(c.bridge, 'none');
  assert.equal(c.iptables, false);
  assert.throws(
    () => parseArgs(['--config-file', f, '--iptables=true']),
    /both as a flag and in the configuration file: iptables/,
  );
  writeFileSync(f, JSON.stringify({ iptables: 'maybe' }));
  assert.throws(() => parseArgs(['--config-file', f]), /"iptables" must be true or false/);
});

test('bad --bip and --bridge are refused at parse time, naming the setting', () => {
  for (const [bip, why] of [
    ['10.1.2.0/24', /network's or the broadcast address/],
    ['10.1.2.255/24', /network's or the broadcast address/],
    ['10.1.2.3', /not an IPv4 address with a prefix/],
    ['10.1.2.3/31', /not an IPv4 address with a prefix/],
    ['300.1.2.3/24', /not an IPv4 address with a prefix/],
  ] as const) {
    assert.throws(
      () => run(['--bip', bip]),
      (e: Error) => why.test(e.message) && e.message.startsWith('bip:'),
      bip,
    );
  }
  assert.throws(() => run(['--bridge', 'a-name-far-too-long-for-linux']), /bridge: invalid interface name/);
});

test('NetworkingConfig shapes', () => {
  assert.ok(
    NetworkingSchema.safeParse({ EndpointsConfig: { n1: { IPAMConfig: { IPv4Address: '10.0.0.5' } } } }).success,
  );
  assert.ok(NetworkingSchema.safeParse(null).success);
  assert.ok(!NetworkingSchema.safeParse({ EndpointsConfig: { n1: { Aliases: 'x' } } }).success);
  assert.ok(!NetworkingSchema.safeParse({ EndpointsConfig: { n1: { IPAMConfig: { IPv4Address: 5 } } } }).success);
});

test('--default-address-pools: flag and daemon.json forms, checked, and the subnets they give', () => {
  const c = run([
    '--default-address-pools',
    'base=10.140.0.0/16,size=24',
    '--default-address-pools',
    'base=10.150.0.0/20,size=22',
  ]);
  assert.deepEqual(c.defaultAddressPools, [
    { base: '10.140.0.0/16', size: 24 },
    { base: '10.150.0.0/20', size: 22 },
  ]);
  const f = join(dir, 'pools.json');
  writeFileSync(f, JSON.stringify({ 'default-address-pools': [{ base: '192.168.200.0/22', size: 24 }] }));
  const p = parseArgs(['--config-file', f]);
  assert.deepEqual((p as { config: DaemonConfig }).config.defaultAddressPools, [
    { base: '192.168.200.0/22', size: 24 },
  ]);
  const subnets = [...candidatePools([{ base: '192.168.200.0/22', size: 24 }])];
  assert.deepEqual(subnets, ['192.168.200.0/24', '192.168.201.0/24', '192.168.202.0/24', '192.168.203.0/24']);
  assert.equal(
    pickSubnet([], [parseCidr('192.168.200.0/24')], [{ base: '192.168.200.0/22', size: 24 }]),
    '192.168.201.0/24',
  );
  assert.deepEqual([...candidatePools()].slice(0, 2), ['172.17.0.0/16', '172.18.0.0/16']);
  assert.throws(
    () => run(['--default-address-pools', 'base=10.1.0.0/16,size=8']),
    /size 8 of 10\.1\.0\.0\/16 must be between 16 and 30/,
  );
  assert.throws(() => run(['--default-address-pools', 'base=10.1.0.1/16,size=24']), /host bits are set/);
  assert.throws(() => run(['--default-address-pools', 'base=10.1.0.0/16,step=24']), /each pool is base=CIDR,size=N/);
  writeFileSync(f, JSON.stringify({ 'default-address-pools': 'nope' }));
  assert.throws(() => parseArgs(['--config-file', f]), /each pool is base=CIDR,size=N/);
});
