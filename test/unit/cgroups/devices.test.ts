import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  applyDeviceRules,
  normalizeDeviceRules,
  parseDevicesList,
  v1DeviceTransition,
  v1DeviceWrites,
} from '../../../src/runtime/cgroups/devices/rules.js';
import {
  decodeInsns,
  deviceFilterInsns,
  deviceFilterProgram,
  runDeviceFilter,
  type Insn,
} from '../../../src/runtime/cgroups/devices/ebpf.js';
import type { LinuxDeviceCgroup } from '../../../src/runtime/spec/types.js';

const DEFAULTS: LinuxDeviceCgroup[] = [
  { allow: false, access: 'rwm' },
  { allow: true, type: 'c', major: 136, access: 'rw' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
];

const state = (rules: LinuxDeviceCgroup[]) => applyDeviceRules(normalizeDeviceRules(rules));

test('OCI rules → normal form → state → v1 lines', () => {
  const rules = normalizeDeviceRules([...DEFAULTS, { allow: true, type: 'b', major: 8, minor: 0, access: 'wr' }]);
  assert.deepEqual(rules[0], { allow: false, type: 'a', major: -1, minor: -1, access: 'rwm' });
  assert.equal(rules[3]!.access, 'rw', 'access letters put in rwm order');
  const s = applyDeviceRules(rules);
  assert.equal(s.defaultAllow, false);
  assert.deepEqual(v1DeviceWrites(s), [
    { file: 'devices.deny', value: 'a' },
    { file: 'devices.allow', value: 'c 1:3 rwm' },
    { file: 'devices.allow', value: 'b 8:0 rw' },
    { file: 'devices.allow', value: 'c 136:* rw' },
  ]);
  assert.deepEqual(v1DeviceWrites(state([{ allow: true }, { allow: false, type: 'c', major: 1, minor: 5 }])), [
    { file: 'devices.allow', value: 'a' },
    { file: 'devices.deny', value: 'c 1:5 rwm' },
  ]);
});

test('the state follows the v1 kernel: resets, merged access, removals by exact key', () => {
  // allow r then allow w on one device: one exception "rw"
  assert.deepEqual(
    state([
      { allow: true, type: 'c', major: 4, minor: 1, access: 'r' },
      { allow: true, type: 'c', major: 4, minor: 1, access: 'w' },
    ]).exceptions,
    [{ type: 'c', major: 4, minor: 1, access: 'rw' }],
  );
  // a deny takes bits away; all bits away removes the exception
  assert.deepEqual(
    state([
      { allow: true, type: 'c', major: 4, access: 'rwm' },
      { allow: false, type: 'c', major: 4, access: 'w' },
    ]).exceptions,
    [{ type: 'c', major: 4, minor: -1, access: 'rm' }],
  );
  assert.deepEqual(
    state([
      { allow: true, type: 'c', major: 4, access: 'r' },
      { allow: false, type: 'c', major: 4, access: 'rwm' },
    ]).exceptions,
    [],
  );
  // type a resets whatever major/minor say
  assert.deepEqual(state([...DEFAULTS, { allow: true, type: 'a', major: 9 }]), { defaultAllow: true, exceptions: [] });
  // without rules: deny everything
  assert.deepEqual(state([]), { defaultAllow: false, exceptions: [] });
});

test('punching a hole in a wildcard rule is refused, as v1 cannot express it', () => {
  assert.throws(
    () =>
      state([
        { allow: false },
        { allow: true, type: 'c', major: 1, access: 'rwm' },
        { allow: false, type: 'c', major: 1, minor: 5, access: 'w' },
      ]),
    {
      code: 'invalid-argument',
      field: 'linux.resources.devices[2]',
      message: /punch a hole in the earlier rule for c 1:\* rwm/,
    },
  );
  assert.throws(
    () =>
      state([
        { allow: true },
        { allow: false, type: 'b', access: 'm' },
        { allow: true, type: 'b', major: 8, minor: 0, access: 'm' },
      ]),
    { field: 'linux.resources.devices[2]' },
  );
  // bits the wildcard does not hold are fine
  state([
    { allow: false },
    { allow: true, type: 'c', major: 1, access: 'r' },
    { allow: false, type: 'c', major: 1, minor: 5, access: 'w' },
  ]);
});

test('bad device rules name the field', () => {
  assert.throws(() => normalizeDeviceRules([{ allow: true, type: 'x' as never }]), {
    code: 'invalid-argument',
    field: 'linux.resources.devices[0].type',
  });
  assert.throws(() => normalizeDeviceRules([{ allow: true, access: 'rwx' }]), {
    field: 'linux.resources.devices[0].access',
  });
  assert.throws(() => normalizeDeviceRules([{ allow: true, access: '' }]), {
    field: 'linux.resources.devices[0].access',
  });
  assert.throws(() => normalizeDeviceRules([{ allow: true }, { allow: true, type: 'c', major: -5 }]), {
    field: 'linux.resources.devices[1].major',
  });
  assert.throws(() => normalizeDeviceRules([{ allow: true, type: 'c', minor: 1.5 }]), {
    field: 'linux.resources.devices[0].minor',
  });
  assert.throws(() => normalizeDeviceRules([{ allow: 'yes' as never }]), { field: 'linux.resources.devices[0].allow' });
});

test('v1 transitions from devices.list: differences only, reset when the default changes', () => {
  const target = state([
    { allow: false },
    { allow: true, type: 'c', major: 1, minor: 3 },
    { allow: true, type: 'c', major: 136, access: 'rw' },
  ]);
  assert.deepEqual(v1DeviceTransition(target, 'c 1:3 rwm\nc 1:5 rwm\nc 136:* rwm\n'), [
    { file: 'devices.deny', value: 'c 1:5 rwm' },
    { file: 'devices.deny', value: 'c 136:* m' },
  ]);
  assert.deepEqual(v1DeviceTransition(target, 'c 1:3 r\n'), [
    { file: 'devices.allow', value: 'c 1:3 rwm' },
    { file: 'devices.allow', value: 'c 136:* rw' },
  ]);
  assert.deepEqual(v1DeviceTransition(target, 'a *:* rwm\n'), v1DeviceWrites(target));
  assert.deepEqual(parseDevicesList(''), { defaultAllow: false, exceptions: [] });
  assert.equal(parseDevicesList('garbage'), undefined);
});

const I = (code: number, dst: number, src: number, off: number, imm: number): Insn => ({ code, dst, src, off, imm });

test('eBPF program bytes for a small rule set, decoded instruction by instruction', () => {
  const bytes = deviceFilterProgram(state(DEFAULTS));
  assert.equal(bytes.length, 20 * 8);
  // first instruction: r2 = *(u32 *)(r1 + 0): opcode 0x61, regs src=1 dst=2
  assert.equal(bytes.subarray(0, 8).toString('hex'), '6112000000000000');
  assert.deepEqual(decodeInsns(bytes), [
    I(0x61, 2, 1, 0, 0), // r2 = ctx->access_type
    I(0x54, 2, 0, 0, 0xffff), // r2 &= 0xffff (device type)
    I(0x61, 3, 1, 0, 0), // r3 = ctx->access_type
    I(0x74, 3, 0, 0, 16), // r3 >>= 16 (access)
    I(0x61, 4, 1, 4, 0), // r4 = ctx->major
    I(0x61, 5, 1, 8, 0), // r5 = ctx->minor
    // c 1:3 rwm (all access: no access test)
    I(0x55, 2, 0, 4, 2), // if r2 != CHAR goto next block
    I(0x55, 4, 0, 3, 1), // if major != 1 goto next
    I(0x55, 5, 0, 2, 3), // if minor != 3 goto next
    I(0xb4, 0, 0, 0, 1), // r0 = 1
    I(0x95, 0, 0, 0, 0), // exit
    // c 136:* rw
    I(0x55, 2, 0, 6, 2),
    I(0xbc, 1, 3, 0, 0), // r1 = r3
    I(0x54, 1, 0, 0, 6), // r1 &= READ|WRITE
    I(0x5d, 1, 3, 3, 0), // if r1 != r3 goto next (asks for more than rw)
    I(0x55, 4, 0, 2, 136), // if major != 136 goto next
    I(0xb4, 0, 0, 0, 1),
    I(0x95, 0, 0, 0, 0),
    // default: deny
    I(0xb4, 0, 0, 0, 0),
    I(0x95, 0, 0, 0, 0),
  ]);
});

test('eBPF semantics match the v1 state', () => {
  const run = (rules: LinuxDeviceCgroup[], req: Parameters<typeof runDeviceFilter>[1]) =>
    runDeviceFilter(deviceFilterInsns(state(rules)), req);
  assert.equal(run(DEFAULTS, { type: 'c', major: 1, minor: 3, access: 'rwm' }), 1);
  assert.equal(run(DEFAULTS, { type: 'c', major: 136, minor: 7, access: 'rw' }), 1);
  assert.equal(run(DEFAULTS, { type: 'c', major: 136, minor: 7, access: 'm' }), 0);
  assert.equal(run(DEFAULTS, { type: 'b', major: 8, minor: 0, access: 'r' }), 0);
  assert.equal(run(DEFAULTS, { type: 'b', major: 1, minor: 3, access: 'r' }), 0, 'type matters');
  assert.equal(run([], { type: 'c', major: 1, minor: 3, access: 'r' }), 0, 'no rules: deny');
  // allow everything, then take one device away
  const punch: LinuxDeviceCgroup[] = [{ allow: true }, { allow: false, type: 'c', major: 1, minor: 5 }];
  assert.equal(run(punch, { type: 'c', major: 1, minor: 5, access: 'r' }), 0);
  assert.equal(run(punch, { type: 'c', major: 1, minor: 3, access: 'rwm' }), 1);
  // a later allow gives read back
  const back: LinuxDeviceCgroup[] = [...punch, { allow: true, type: 'c', major: 1, minor: 5, access: 'r' }];
  assert.equal(run(back, { type: 'c', major: 1, minor: 5, access: 'r' }), 1);
  assert.equal(run(back, { type: 'c', major: 1, minor: 5, access: 'rw' }), 0);
  // allow rw then deny w
  const partial: LinuxDeviceCgroup[] = [
    { allow: true, type: 'c', major: 4, access: 'rw' },
    { allow: false, type: 'c', major: 4, access: 'w' },
  ];
  assert.equal(run(partial, { type: 'c', major: 4, minor: 1, access: 'r' }), 1);
  assert.equal(run(partial, { type: 'c', major: 4, minor: 1, access: 'w' }), 0);
  assert.equal(run(partial, { type: 'c', major: 4, minor: 1, access: 'rw' }), 0);
  // allow r + allow w on one device: rw in one open, as on v1
  assert.equal(
    run(
      [
        { allow: true, type: 'c', major: 4, minor: 1, access: 'r' },
        { allow: true, type: 'c', major: 4, minor: 1, access: 'w' },
      ],
      { type: 'c', major: 4, minor: 1, access: 'rw' },
    ),
    1,
  );
  // allow-all program: header, r0 = 1, exit
  const all = deviceFilterInsns(state([{ allow: true }]));
  assert.equal(all.length, 8);
  assert.equal(runDeviceFilter(all, { type: 'b', major: 8, minor: 0, access: 'rwm' }), 1);
});
