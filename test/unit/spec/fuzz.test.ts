// Hostile input: thousands of mutated configs (deterministic), each either
// accepted or refused with a BerthError naming a field; never a TypeError, a
// RangeError or a hang.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSpec } from '../../../src/runtime/spec/validate.js';
import { fieldKey, fieldPath } from '../../../src/runtime/spec/field.js';
import { sysctlDots } from '../../../src/runtime/spec/sysctl.js';
import { BerthError } from '../../../src/common/errors.js';

const fixture = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'docker-20.10-run.json');

/** xorshift32: the same sequence on every run. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

const WEIRD: unknown[] = [
  null,
  0,
  -1,
  1.5,
  2 ** 64,
  '',
  'x',
  '../..',
  '/',
  [],
  [1],
  {},
  { a: 1 },
  true,
  '\u0000',
  'CAP_SYS_ADMIN',
  -0,
];

/** Every path to a value in the document, objects and arrays included. */
function paths(v: unknown, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...at, i], out));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) paths(x, [...at, k], out);
  return out;
}

test('mutated real configs are accepted or refused with a named field, never a crash', () => {
  const base = JSON.parse(readFileSync(fixture, 'utf8'));
  const all = paths(base).filter((p) => p.length > 0);
  const rand = rng(20261128);
  let refused = 0;
  for (let n = 0; n < 1000; n++) {
    const doc = structuredClone(base);
    for (let m = 0; m < 1 + Math.floor(rand() * 3); m++) {
      const p = all[Math.floor(rand() * all.length)]!;
      let parent: any = doc;
      for (const k of p.slice(0, -1)) parent = parent?.[k];
      if (parent && typeof parent === 'object')
        parent[p.at(-1)!] = structuredClone(WEIRD[Math.floor(rand() * WEIRD.length)]);
    }
    try {
      parseSpec(doc);
    } catch (e) {
      refused++;
      assert.ok(e instanceof BerthError, `not a BerthError: ${String(e)}`);
      assert.equal(e.code, 'invalid-argument');
      assert.match(e.message, /^config\.json: /);
      if (e.field !== undefined) {
        const top = /^[A-Za-z]+/.exec(e.field)?.[0];
        assert.ok(top && top in base, `field ${e.field} is not under a config.json key`);
      }
    }
  }
  assert.ok(refused > 300, `only ${refused} refusals: the mutations are not biting`);
});

test('field names and sysctl separators', () => {
  assert.equal(fieldPath(['linux', 'namespaces', 2, 'type']), 'linux.namespaces[2].type');
  assert.equal(fieldPath(['linux', 'sysctl', 'net.ipv4.ip_forward']), 'linux.sysctl["net.ipv4.ip_forward"]');
  assert.equal(fieldPath([]), '');
  assert.equal(fieldKey('linux.timeOffsets', 'monotonic'), 'linux.timeOffsets.monotonic');
  assert.equal(fieldKey('linux.resources.unified', 'memory.max'), 'linux.resources.unified["memory.max"]');
  assert.equal(sysctlDots('net/ipv4/conf/eno2.100/rp_filter'), 'net.ipv4.conf.eno2/100.rp_filter');
  assert.equal(sysctlDots('net.ipv4.ip_forward'), 'net.ipv4.ip_forward');
  assert.equal(sysctlDots('kernel'), 'kernel');
});
