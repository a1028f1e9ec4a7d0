import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeDeviceRules, v1DeviceWrites, v1Line } from '../../../src/runtime/cgroups/devices/rules.js';
import { decodeInsns, deviceFilterInsns, deviceFilterProgram, runDeviceFilter, type Insn } from '../../../src/runtime/cgroups/devices/ebpf.js';

const DEFAULTS = [
  { allow: false, access: 'rwm' },
  { allow: true, type: 'c' as const, major: 1, minor: 3, access: 'rwm' },
  { allow: true, type: 'c' as const, major: 136, access: 'rw' },
];

test('OCI rules → normal form and v1 lines', () => {
  const rules = normalizeDeviceRules([...DEFAULTS, { allow: false, type: 'b', major: 8, minor: 0, access: 'wr' }]);
  assert.deepEqual(rules[0], { allow: false, type: 'a', major: -1, minor: -1, access: 'rwm' });
  assert.equal(rules[3]!.access, 'rw', 'access letters put in rwm order');
  assert.deepEqual(rules.map(v1Line), ['a', 'c 1:3 rwm', 'c 136:* rw', 'b 8:0 rw']);
  assert.deepEqual(v1DeviceWrites(rules.slice(1, 3)), [
    { file: 'devices.deny', value: 'a' },
    { file: 'devices.allow', value: 'c 1:3 rwm' },
    { file: 'devices.allow', value: 'c 136:* rw' },
  ]);
});

test('bad device rules name the field', () => {
  assert.throws(() => normalizeDeviceRules([{ allow: true, type: 'x' as never }]), { code: 'invalid-argument', field: 'linux.resources.devices[0].type' });
  assert.throws(() => normalizeDeviceRules([{ allow: true, access: 'rwx' }]), { field: 'linux.resources.devices[0].access' });
  assert.throws(() => normalizeDeviceRules([{ allow: true, access: '' }]), { field: 'linux.resources.devices[0].access' });
  assert.throws(() => normalizeDeviceRules([{ allow: true }, { allow: true, type: 'c', major: -5 }]), { field: 'linux.resources.devices[1].major' });
  assert.throws(() => normalizeDeviceRules([{ allow: true, type: 'c', minor: 1.5 }]), { field: 'linux.resources.devices[0].minor' });
  assert.throws(() => normalizeDeviceRules([{ allow: 'yes' as never }]), { field: 'linux.resources.devices[0].allow' });
});

const I = (code: number, dst: number, src: number, off: number, imm: number): Insn => ({ code, dst, src, off, imm });

test('eBPF program bytes for a small rule set, decoded instruction by instruction', () => {
  const bytes = deviceFilterProgram(normalizeDeviceRules(DEFAULTS));
  assert.equal(bytes.length % 8, 0);
  // first instruction: r2 = *(u32 *)(r1 + 0): opcode 0x61, regs src=1 dst=2
  assert.equal(bytes.subarray(0, 8).toString('hex'), '6112000000000000');
  assert.deepEqual(decodeInsns(bytes), [
    I(0x61, 2, 1, 0, 0), // r2 = ctx->access_type
    I(0x54, 2, 0, 0, 0xffff), // r2 &= 0xffff (device type)
    I(0x61, 3, 1, 0, 0), // r3 = ctx->access_type
    I(0x74, 3, 0, 0, 16), // r3 >>= 16 (access)
    I(0x61, 4, 1, 4, 0), // r4 = ctx->major
    I(0x61, 5, 1, 8, 0), // r5 = ctx->minor
    // last rule first: allow c 136:* rw
    I(0x55, 2, 0, 6, 2), // if r2 != CHAR goto next block
    I(0xbc, 1, 3, 0, 0), // r1 = r3
    I(0x54, 1, 0, 0, 6), // r1 &= READ|WRITE
    I(0x5d, 1, 3, 3, 0), // if r1 != r3 goto next (asks for more than rw)
    I(0x55, 4, 0, 2, 136), // if major != 136 goto next
    I(0xb4, 0, 0, 0, 1), // r0 = 1
    I(0x95, 0, 0, 0, 0), // exit
    // allow c 1:3 rwm (rwm: no access test)
    I(0x55, 2, 0, 4, 2),
    I(0x55, 4, 0, 3, 1),
    I(0x55, 5, 0, 2, 3),
    I(0xb4, 0, 0, 0, 1),
    I(0x95, 0, 0, 0, 0),
    // deny a: matches everything, ends the program (no unreachable default)
    I(0xb4, 0, 0, 0, 0),
    I(0x95, 0, 0, 0, 0),
  ]);
});

test('eBPF semantics: default deny, last match wins, deny of some access bits', () => {
  const run = (rules: Parameters<typeof normalizeDeviceRules>[0], req: Parameters<typeof runDeviceFilter>[1]) =>
    runDeviceFilter(deviceFilterInsns(normalizeDeviceRules(rules)), req);
  assert.equal(run(DEFAULTS, { type: 'c', major: 1, minor: 3, access: 'rwm' }), 1);
  assert.equal(run(DEFAULTS, { type: 'c', major: 136, minor: 7, access: 'rw' }), 1);
  assert.equal(run(DEFAULTS, { type: 'c', major: 136, minor: 7, access: 'm' }), 0);
  assert.equal(run(DEFAULTS, { type: 'b', major: 8, minor: 0, access: 'r' }), 0);
  assert.equal(run(DEFAULTS, { type: 'b', major: 1, minor: 3, access: 'r' }), 0, 'type matters');
  // no rules at all: deny, and the program still ends with r0 = 0; exit
  const empty = deviceFilterInsns([]);
  assert.equal(empty.length, 8);
  assert.equal(runDeviceFilter(empty, { type: 'c', major: 1, minor: 3, access: 'r' }), 0);
  // allow everything, then take one device away
  const punch = [{ allow: true }, { allow: false, type: 'c' as const, major: 1, minor: 5 }];
  assert.equal(run(punch, { type: 'c', major: 1, minor: 5, access: 'r' }), 0);
  assert.equal(run(punch, { type: 'c', major: 1, minor: 3, access: 'r' }), 1);
  // later allow re-opens what an earlier deny closed
  assert.equal(run([...punch, { allow: true, type: 'c', major: 1, minor: 5, access: 'r' }], { type: 'c', major: 1, minor: 5, access: 'r' }), 1);
  // allow rw then deny w: reading still works, anything writing does not
  const partial = [{ allow: true, type: 'c' as const, major: 4, access: 'rw' }, { allow: false, type: 'c' as const, major: 4, access: 'w' }];
  assert.equal(run(partial, { type: 'c', major: 4, minor: 1, access: 'r' }), 1);
  assert.equal(run(partial, { type: 'c', major: 4, minor: 1, access: 'w' }), 0);
  assert.equal(run(partial, { type: 'c', major: 4, minor: 1, access: 'rw' }), 0);
  // a wildcard type with a major still means every device, as on v1
  assert.equal(run([{ allow: true, type: 'a', major: 9 }], { type: 'b', major: 8, minor: 0, access: 'rwm' }), 1);
});

test('a rule after an allow-all wildcard is still honoured; rules before it are not emitted', () => {
  const insns = deviceFilterInsns(normalizeDeviceRules([{ allow: true, type: 'c', major: 1, minor: 3 }, { allow: true }, { allow: false, type: 'b', major: 8 }]));
  // header (6) + deny b 8 block (2 tests + 2) + unconditional allow (2)
  assert.equal(insns.length, 12);
  assert.equal(runDeviceFilter(insns, { type: 'b', major: 8, minor: 1, access: 'r' }), 0);
  assert.equal(runDeviceFilter(insns, { type: 'b', major: 7, minor: 1, access: 'r' }), 1);
});
