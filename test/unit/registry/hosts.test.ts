import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isInsecure, loadCertsDir, resolveEndpoints, canonicalRegistry } from '../../../src/image/registry/hosts.js';
import { ipInCidr } from '../../../src/image/registry/cidr.js';
import { mapLimit } from '../../../src/image/pull.js';

test('CIDR matching, IPv4, IPv6 and mapped addresses', () => {
  assert.ok(ipInCidr('127.0.0.1', '127.0.0.0/8'));
  assert.ok(ipInCidr('127.255.3.4', '127.0.0.0/8'));
  assert.ok(!ipInCidr('128.0.0.1', '127.0.0.0/8'));
  assert.ok(ipInCidr('::ffff:127.0.0.1', '127.0.0.0/8'));
  assert.ok(ipInCidr('10.1.2.3', '10.0.0.0/8'));
  assert.ok(!ipInCidr('192.168.1.1', '192.168.0.0/24'));
  assert.ok(ipInCidr('fd00::1', 'fd00::/8'));
  assert.ok(!ipInCidr('fe80::1', 'fd00::/8'));
  assert.ok(ipInCidr('::1', '::1/128'));
  assert.ok(!ipInCidr('::1', '127.0.0.0/8'));
  assert.ok(ipInCidr('1.2.3.4', '0.0.0.0/0'));
  assert.ok(!ipInCidr('nonsense', '127.0.0.0/8'));
});

test("Docker's insecure rule: 127.0.0.0/8 by default, names and CIDRs when listed", async () => {
  assert.equal(await isInsecure('127.0.0.1:5000', {}), true);
  assert.equal(await isInsecure('localhost:5000', {}), true, 'localhost resolves into 127.0.0.0/8');
  assert.equal(
    await isInsecure('127.0.0.1:5000', { insecureRegistries: [] }),
    false,
    'an explicit list replaces the default',
  );
  assert.equal(await isInsecure('10.0.0.5:5000', {}), false);
  assert.equal(await isInsecure('10.0.0.5:5000', { insecureRegistries: ['10.0.0.0/8'] }), true);
  assert.equal(await isInsecure('my.registry:5000', { insecureRegistries: ['my.registry:5000'] }), true);
  assert.equal(await isInsecure('my.registry:5000', { insecureRegistries: ['my.registry:5001'] }), false);
});

test('endpoints: mirrors first for docker.io pulls only; HTTPS then HTTP for insecure registries', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-hosts-'));
  try {
    const hub = await resolveEndpoints('docker.io', {
      mirrors: ['https://m1.example', 'http://m2.example:5000'],
      certsDir: dir,
    });
    assert.deepEqual(
      hub.map((e) => [e.base.href, e.mirror]),
      [
        ['https://m1.example/', true],
        ['http://m2.example:5000/', true],
        ['https://registry-1.docker.io/', false],
      ],
    );
    assert.equal(hub[2]!.authKey, 'https://index.docker.io/v1/');
    const push = await resolveEndpoints('docker.io', { mirrors: ['https://m1.example'], certsDir: dir }, true);
    assert.deepEqual(
      push.map((e) => e.base.href),
      ['https://registry-1.docker.io/'],
    );
    const quay = await resolveEndpoints('quay.io', { mirrors: ['https://m1.example'], certsDir: dir });
    assert.deepEqual(
      quay.map((e) => e.base.href),
      ['https://quay.io/'],
    );
    assert.equal(quay[0]!.tls.insecureSkipVerify, undefined);
    const local = await resolveEndpoints('127.0.0.1:5000', { certsDir: dir });
    assert.deepEqual(
      local.map((e) => [e.base.href, !!e.tls.insecureSkipVerify]),
      [
        ['https://127.0.0.1:5000/', true],
        ['http://127.0.0.1:5000/', false],
      ],
    );
    assert.equal(canonicalRegistry('index.docker.io'), 'docker.io');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("plainHttp (ctr's --plain-http): the registry over plain HTTP only, no HTTPS attempt; mirrors unchanged", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-hosts-plain-'));
  try {
    const local = await resolveEndpoints('127.0.0.1:5000', { plainHttp: true, certsDir: dir });
    assert.deepEqual(
      local.map((e) => [e.base.href, e.tls.insecureSkipVerify ?? false]),
      [['http://127.0.0.1:5000/', false]],
    );
    // Without it, Docker's rule for the same host: HTTPS unverified first, then HTTP.
    const docker = await resolveEndpoints('127.0.0.1:5000', { certsDir: dir });
    assert.deepEqual(
      docker.map((e) => e.base.href),
      ['https://127.0.0.1:5000/', 'http://127.0.0.1:5000/'],
    );
    const hub = await resolveEndpoints('docker.io', {
      plainHttp: true,
      mirrors: ['https://m1.example'],
      certsDir: dir,
    });
    assert.deepEqual(
      hub.map((e) => e.base.href),
      ['https://m1.example/', 'http://registry-1.docker.io/'],
    );
    const over = await resolveEndpoints('r.example', {
      plainHttp: true,
      endpointOverrides: { 'r.example': 'https://127.0.0.1:5001' },
      certsDir: dir,
    });
    assert.deepEqual(
      over.map((e) => e.base.href),
      ['http://127.0.0.1:5001/'],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('certs.d: *.crt are CAs, *.cert needs its *.key', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-certs-'));
  try {
    assert.deepEqual(loadCertsDir(dir, 'nothing:5000'), {});
    const h = join(dir, 'reg:5000');
    mkdirSync(h);
    writeFileSync(join(h, 'ca.crt'), 'CA1');
    writeFileSync(join(h, 'extra.crt'), 'CA2');
    writeFileSync(join(h, 'client.cert'), 'CERT');
    writeFileSync(join(h, 'client.key'), 'KEY');
    const t = loadCertsDir(dir, 'reg:5000');
    assert.deepEqual(t.ca?.map(String), ['CA1', 'CA2']);
    assert.equal(String(t.cert), 'CERT');
    assert.equal(String(t.key), 'KEY');
    writeFileSync(join(h, 'lonely.cert'), 'X');
    assert.throws(() => loadCertsDir(dir, 'reg:5000'), /missing key lonely.key/);
    rmSync(join(h, 'lonely.cert'));
    writeFileSync(join(h, 'orphan.key'), 'X');
    assert.throws(() => loadCertsDir(dir, 'reg:5000'), /missing client certificate orphan.cert/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('mapLimit never runs more than the limit at once and keeps order', async () => {
  let running = 0;
  let peak = 0;
  const out = await mapLimit([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
    running++;
    peak = Math.max(peak, running);
    await new Promise((r) => setTimeout(r, 5 + (n % 3) * 3));
    running--;
    return n * 2;
  });
  assert.deepEqual(out, [2, 4, 6, 8, 10, 12, 14]);
  assert.equal(peak, 3);
  await assert.rejects(
    mapLimit([1, 2, 3], 2, async (n) => {
      if (n === 2) throw new Error('boom');
      return n;
    }),
    /boom/,
  );
});
