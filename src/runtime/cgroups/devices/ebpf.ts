// A BPF_PROG_TYPE_CGROUP_DEVICE program for cgroup v2, generated from the
// device rules. The kernel calls it with a struct bpf_cgroup_dev_ctx
// { u32 access_type (type in the low 16 bits, access in the high 16); u32
// major; u32 minor; } and lets the access through when it returns 1.
//
// The program is compiled from the state the rules leave (rules.ts): the
// same decision the v1 kernel makes for the same rules. Shape (as runc's
// devicefilter): load the type, access, major and minor into r2..r5, then one
// block per exception that returns its verdict when the request matches,
// then the default verdict.
//  - deny by default: an exception matches when its type, major and minor
//    match (-1 matches anything) and it grants every access bit requested;
//  - allow by default: an exception (a denial) matches when it covers the
//    device and any requested access bit.

import type { DeviceException, DeviceState } from './rules.js';

// Instruction classes and fields (linux/bpf_common.h, linux/bpf.h).
const BPF_LDX = 0x01,
  BPF_ALU = 0x04,
  BPF_JMP = 0x05;
const BPF_W = 0x00,
  BPF_MEM = 0x60;
const BPF_K = 0x00,
  BPF_X = 0x08;
const BPF_AND = 0x50,
  BPF_RSH = 0x70,
  BPF_MOV = 0xb0;
const BPF_JA = 0x00,
  BPF_JEQ = 0x10,
  BPF_JNE = 0x50,
  BPF_EXIT = 0x90;

export const BPF_DEVCG_DEV_BLOCK = 1;
export const BPF_DEVCG_DEV_CHAR = 2;
export const BPF_DEVCG_ACC_MKNOD = 1;
export const BPF_DEVCG_ACC_READ = 2;
export const BPF_DEVCG_ACC_WRITE = 4;
const ACC_ALL = BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE;

export interface Insn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

const R0 = 0,
  R1 = 1,
  R2 = 2,
  R3 = 3,
  R4 = 4,
  R5 = 5;

const ldxw = (dst: number, src: number, off: number): Insn => ({
  code: BPF_LDX | BPF_MEM | BPF_W,
  dst,
  src,
  off,
  imm: 0,
});
const alu32Imm = (op: number, dst: number, imm: number): Insn => ({
  code: BPF_ALU | op | BPF_K,
  dst,
  src: 0,
  off: 0,
  imm,
});
const mov32Reg = (dst: number, src: number): Insn => ({ code: BPF_ALU | BPF_MOV | BPF_X, dst, src, off: 0, imm: 0 });
const jmpImm = (op: number, dst: number, imm: number, off: number): Insn => ({
  code: BPF_JMP | op | BPF_K,
  dst,
  src: 0,
  off,
  imm,
});
const jmpReg = (op: number, dst: number, src: number, off: number): Insn => ({
  code: BPF_JMP | op | BPF_X,
  dst,
  src,
  off,
  imm: 0,
});
const exit = (): Insn => ({ code: BPF_JMP | BPF_EXIT, dst: 0, src: 0, off: 0, imm: 0 });

export function accessBits(access: string): number {
  let bits = 0;
  if (access.includes('r')) bits |= BPF_DEVCG_ACC_READ;
  if (access.includes('w')) bits |= BPF_DEVCG_ACC_WRITE;
  if (access.includes('m')) bits |= BPF_DEVCG_ACC_MKNOD;
  return bits;
}

/** u32 immediate as the signed 32-bit field the instruction holds. */
const imm32 = (v: number): number => v | 0;

/** One exception's block: tests that jump past the block when they fail, then the verdict. */
function exceptionBlock(e: DeviceException, verdict: 0 | 1): Insn[] {
  // Each test is built with a placeholder offset, patched once the block length is known.
  const tests: Insn[] = [jmpImm(BPF_JNE, R2, e.type === 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK, 0)];
  const bits = accessBits(e.access);
  if (bits !== ACC_ALL) {
    tests.push(mov32Reg(R1, R3), alu32Imm(BPF_AND, R1, bits));
    // allow: every requested bit granted (r1 == r3); deny: some requested bit denied (r1 != 0).
    tests.push(verdict === 1 ? jmpReg(BPF_JNE, R1, R3, 0) : jmpImm(BPF_JEQ, R1, 0, 0));
  }
  if (e.major >= 0) tests.push(jmpImm(BPF_JNE, R4, imm32(e.major), 0));
  if (e.minor >= 0) tests.push(jmpImm(BPF_JNE, R5, imm32(e.minor), 0));
  const insns = [...tests, alu32Imm(BPF_MOV, R0, verdict), exit()];
  tests.forEach((ins, i) => {
    if ((ins.code & 0x07) === BPF_JMP) ins.off = insns.length - (i + 1);
  });
  return insns;
}

/** The program's instructions for a device state (see applyDeviceRules). */
export function deviceFilterInsns(state: DeviceState): Insn[] {
  const insns: Insn[] = [
    ldxw(R2, R1, 0),
    alu32Imm(BPF_AND, R2, 0xffff),
    ldxw(R3, R1, 0),
    alu32Imm(BPF_RSH, R3, 16),
    ldxw(R4, R1, 4),
    ldxw(R5, R1, 8),
  ];
  const verdict = state.defaultAllow ? 0 : 1;
  for (const e of state.exceptions) insns.push(...exceptionBlock(e, verdict));
  insns.push(alu32Imm(BPF_MOV, R0, state.defaultAllow ? 1 : 0), exit());
  return insns;
}

/** struct bpf_insn array, little-endian as on every architecture Berth builds for. */
export function encodeInsns(insns: Insn[]): Buffer {
  const buf = Buffer.alloc(insns.length * 8);
  insns.forEach((ins, i) => {
    buf.writeUInt8(ins.code, i * 8);
    buf.writeUInt8((ins.src << 4) | ins.dst, i * 8 + 1);
    buf.writeInt16LE(ins.off, i * 8 + 2);
    buf.writeInt32LE(ins.imm, i * 8 + 4);
  });
  return buf;
}

export function decodeInsns(buf: Buffer): Insn[] {
  const out: Insn[] = [];
  for (let o = 0; o + 8 <= buf.length; o += 8) {
    const regs = buf.readUInt8(o + 1);
    out.push({
      code: buf.readUInt8(o),
      dst: regs & 0x0f,
      src: regs >> 4,
      off: buf.readInt16LE(o + 2),
      imm: buf.readInt32LE(o + 4),
    });
  }
  return out;
}

/** The program bytes for BPF_PROG_LOAD. */
export function deviceFilterProgram(state: DeviceState): Buffer {
  return encodeInsns(deviceFilterInsns(state));
}

/**
 * Runs a program on a request, as the kernel would (for tests: the program's
 * meaning checked without loading it). Handles exactly the instructions this
 * generator emits.
 */
export function runDeviceFilter(
  insns: Insn[],
  req: { type: 'c' | 'b'; major: number; minor: number; access: string },
): number {
  const ctx = [
    ((accessBits(req.access) << 16) | (req.type === 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK)) >>> 0,
    req.major >>> 0,
    req.minor >>> 0,
  ];
  const r = new Array<number>(11).fill(0);
  let pc = 0;
  for (let steps = 0; steps < 100000; steps++) {
    const ins = insns[pc];
    if (!ins) throw new Error(`pc ${pc} out of the program`);
    pc++;
    const cls = ins.code & 0x07;
    const op = ins.code & 0xf0;
    const srcVal = ins.code & BPF_X ? r[ins.src]! : ins.imm >>> 0;
    if (cls === BPF_LDX) {
      if (ins.src !== R1) throw new Error('load from a register other than the ctx');
      r[ins.dst] = ctx[ins.off / 4]!;
    } else if (cls === BPF_ALU) {
      if (op === BPF_MOV) r[ins.dst] = srcVal;
      else if (op === BPF_AND) r[ins.dst] = (r[ins.dst]! & srcVal) >>> 0;
      else if (op === BPF_RSH) r[ins.dst] = r[ins.dst]! >>> srcVal;
      else throw new Error(`alu op ${op}`);
    } else if (cls === BPF_JMP) {
      if (op === BPF_EXIT) return r[R0]!;
      const a = r[ins.dst]!;
      const taken = op === BPF_JA || (op === BPF_JNE && a !== srcVal) || (op === BPF_JEQ && a === srcVal);
      if (op !== BPF_JA && op !== BPF_JNE && op !== BPF_JEQ) throw new Error(`jmp op ${op}`);
      if (taken) pc += ins.off;
    } else throw new Error(`class ${cls}`);
  }
  throw new Error('program does not end');
}
