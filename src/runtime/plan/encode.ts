// Wire encoding of plan records (see native/README.md):
//   u32le op, u32le argc, then argc times (u32le length, bytes)
// Integers travel as decimal ASCII so that 64-bit values survive unchanged.

import { Op, type PlanOp } from './ops.js';

function argBytes(a: string | number | bigint): Buffer {
  if (typeof a === 'string') return Buffer.from(a, 'utf8');
  if (typeof a === 'number' && !Number.isInteger(a)) throw new TypeError(`plan operand ${a} is not an integer`);
  return Buffer.from(a.toString(), 'ascii');
}

export function encodeOp(op: PlanOp): Buffer {
  const parts = [op.label, ...op.args].map(argBytes);
  let size = 8;
  for (const p of parts) size += 4 + p.length;
  const buf = Buffer.allocUnsafe(size);
  buf.writeUInt32LE(op.op, 0);
  buf.writeUInt32LE(parts.length, 4);
  let off = 8;
  for (const p of parts) {
    buf.writeUInt32LE(p.length, off);
    off += 4;
    p.copy(buf, off);
    off += p.length;
  }
  return buf;
}

/** A whole phase: its operations followed by END. */
export function encodePhase(ops: PlanOp[]): Buffer {
  return Buffer.concat([...ops.map(encodeOp), encodeOp({ op: Op.END, label: 'end', args: [] })]);
}

/** Decoding, used by tests and by the plan dumper (`berth-runc --debug`). */
export function decodeOps(buf: Buffer): PlanOp[] {
  const out: PlanOp[] = [];
  let off = 0;
  while (off < buf.length) {
    const op = buf.readUInt32LE(off);
    const argc = buf.readUInt32LE(off + 4);
    off += 8;
    const args: string[] = [];
    for (let i = 0; i < argc; i++) {
      const len = buf.readUInt32LE(off);
      off += 4;
      args.push(buf.subarray(off, off + len).toString('utf8'));
      off += len;
    }
    out.push({ op: op as PlanOp['op'], label: args[0] ?? '', args: args.slice(1) });
  }
  return out;
}
