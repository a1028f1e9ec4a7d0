// /info's RegistryConfig: the docker CLI reads InsecureRegistryCIDRs as CIDRs
// and fails `docker info` on anything else, so named registries must go to
// IndexConfigs as dockerd puts them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs } from '../../../src/daemon/config.js';
import { registryInfo } from '../../../src/daemon/registry-info.js';

test('named insecure registries go to IndexConfigs, CIDRs stay CIDRs, loopback is kept', () => {
  const parsed = parseArgs([
    '--config-file',
    '/nonexistent-berth-readme.json',
    '--insecure-registry',
    'registry.lan:5000',
    '--insecure-registry',
    '10.0.0.0/8',
  ]);
  assert.equal(parsed.action, 'run');
  if (parsed.action !== 'run') return;
  const info = registryInfo(parsed.config.insecureRegistries ?? []);
  assert.deepEqual(info.InsecureRegistryCIDRs, ['127.0.0.0/8', '10.0.0.0/8']);
  assert.deepEqual(info.IndexConfigs['registry.lan:5000'], {
    Name: 'registry.lan:5000',
    Mirrors: [],
    Secure: false,
    Official: false,
  });
  assert.equal(info.IndexConfigs['docker.io']?.Secure, true);
  assert.deepEqual(Object.keys(info.IndexConfigs).sort(), ['docker.io', 'registry.lan:5000']);
});

test('a scheme or trailing slash on a named registry is dropped, as the pull rule drops it', () => {
  const info = registryInfo(['http://reg.example:8080/']);
  assert.deepEqual(info.InsecureRegistryCIDRs, []);
  assert.ok(info.IndexConfigs['reg.example:8080']);
});
