// containerd's messages on the wire: one encoder, decoder and pair of object
// converters for every message, driven by the field tables the build
// generated from Debian's .proto files (gen/codecs.js, scripts/gen-codecs.mjs).
//
// They do what protobufjs's generated functions do (protobufjs builds the
// source of each type's functions at run time and compiles it with `new
// Function`; its static code generator writes the same functions out), field
// by field and with the same checks and messages, on protobufjs/minimal's
// Reader, Writer and util; test/unit/api/codecs.test.ts checks every message
// against protobufjs's reflection. Why tables and not code: a Bun executable
// keeps its whole bundle resident, and ~200 types' worth of generated
// functions was 0.6 MB of source and 1.4 MB of the executable's resident
// pages; why not protobufjs's reflection: loading the descriptor and compiling
// the functions at run time cost the engine ~80 ms of CPU at start-up and
// ~7 MB of memory (bench/README.md, engine.ts).

import $protobuf from 'protobufjs/minimal.js';
import type { IConversionOptions, Reader as ReaderT, Writer as WriterT } from 'protobufjs';
import { ENUMS, SERVICES, TYPES, type FieldRow } from './gen/codecs.js';

const { Reader, Writer, util } = $protobuf;

/** One message's codec, with protobufjs's semantics (its Type's encode, decode, fromObject, toObject). */
export interface MessageCodec {
  readonly name: string;
  encode(message: object, writer?: WriterT, depth?: number): WriterT;
  decode(reader: ReaderT | Uint8Array, length?: number, end?: number, depth?: number): object;
  fromObject(object: object, depth?: number): object;
  toObject(message: object, options?: IConversionOptions, depth?: number): Record<string, unknown>;
}

type Obj = Record<string, unknown>;
type Scalar =
  | 'double'
  | 'float'
  | 'int32'
  | 'uint32'
  | 'sint32'
  | 'fixed32'
  | 'sfixed32'
  | 'int64'
  | 'uint64'
  | 'sint64'
  | 'fixed64'
  | 'sfixed64'
  | 'bool'
  | 'string'
  | 'bytes';

/** Wire type of each scalar (protobufjs's types.basic); messages are length-delimited (2). */
const WIRE: Record<Scalar, number> = {
  double: 1,
  float: 5,
  int32: 0,
  uint32: 0,
  sint32: 0,
  fixed32: 5,
  sfixed32: 5,
  int64: 0,
  uint64: 0,
  sint64: 0,
  fixed64: 1,
  sfixed64: 1,
  bool: 0,
  string: 2,
  bytes: 2,
};

/** A value's zero when nothing is on the wire (protobufjs's types.defaults; bytes: a fresh empty array). */
function zero(t: Scalar): unknown {
  return t === 'bool' ? false : t === 'string' ? '' : t === 'bytes' ? [] : 0;
}

const isLong = (t: string) => t === 'int64' || t === 'uint64' || t === 'sint64' || t === 'fixed64' || t === 'sfixed64';

interface EnumValues {
  /** name → number, and (through its prototype) number → name, as protobufjs's Enum#values. */
  values: Record<string | number, string | number>;
  names: string[];
  /** The first value defined: proto3's default. */
  first: number;
}

interface Field {
  name: string;
  id: number;
  /** ".package.Type.field", as protobufjs names it in its errors. */
  fullName: string;
  /** The scalar type as read and written (an enum's is int32); undefined for a message. */
  scalar: Scalar | undefined;
  message: number | undefined;
  enumValues: EnumValues | undefined;
  repeated: boolean;
  packed: boolean;
  map: boolean;
  long: boolean;
  unsigned: boolean;
}

/** Reads one `t` (protobufjs's Reader has a method per scalar type). */
function get(r: ReaderT, t: Scalar): unknown {
  return (r as unknown as Record<Scalar, () => unknown>)[t]();
}

/** Writes one `t`. */
function put(w: WriterT, t: Scalar, v: unknown): WriterT {
  return (w as unknown as Record<Scalar, (x: unknown) => WriterT>)[t](v);
}

/** The long.js class protobufjs uses for 64-bit values where it is installed (util.Long), as far as used here. */
interface LongValue {
  toString(): string;
  toNumber(): number;
}
interface LongClass {
  new (low: number, high: number, unsigned?: boolean): LongValue;
  fromValue(v: unknown, unsigned?: boolean): LongValue;
  fromBits(low: number, high: number, unsigned?: boolean): LongValue;
  prototype: LongValue;
}
const longClass = () => util.Long as unknown as LongClass | undefined;

const enums: (EnumValues | undefined)[] = [];
function enumValues(i: number): EnumValues {
  let e = enums[i];
  if (!e) {
    const byId: Record<number, string> = {};
    const values = Object.create(byId) as Record<string | number, string | number>;
    for (const [name, id] of ENUMS[i]!) {
      values[name] = id;
      byId[id] = name; // an alias: the last name wins, as in protobufjs
    }
    e = { values, names: ENUMS[i]!.map(([n]) => n), first: ENUMS[i]![0]![1] };
    enums[i] = e;
  }
  return e;
}

/** A message as decode() and fromObject() make it: repeated and map fields are own, empty. */
function newMessage(fields: Field[]): Obj {
  const m: Obj = {};
  for (const f of fields) if (f.map) m[f.name] = {};
  for (const f of fields) if (f.repeated) m[f.name] = [];
  return m;
}

class Codec implements MessageCodec {
  private readonly fields: Field[];
  /** By field number, for decoding. */
  private readonly byId = new Map<number, Field>();
  /** Sorted by field number: the order protobufjs encodes and converts in. */
  private readonly sorted: Field[];
  /** Marks this codec's messages (protobufjs's fromObject returns one of its own messages as is). */
  private readonly own = new WeakSet<object>();

  constructor(
    readonly name: string,
    rows: readonly FieldRow[],
  ) {
    this.fields = rows.map(([fname, id, type, ref, rule]) => {
      const isEnum = type === 'enum';
      const isMessage = type === 'message';
      const scalar = isMessage ? undefined : isEnum ? 'int32' : (type as Scalar);
      return {
        name: fname,
        id,
        fullName: `.${name}.${fname}`,
        scalar,
        message: isMessage ? ref : undefined,
        enumValues: isEnum ? enumValues(ref) : undefined,
        repeated: rule === 1 || rule === 2,
        packed: rule === 1,
        map: rule === 3,
        long: isLong(type),
        unsigned: type === 'uint64' || type === 'fixed64',
      };
    });
    for (const f of this.fields) this.byId.set(f.id, f);
    this.sorted = [...this.fields].sort((a, b) => a.id - b.id);
  }

  // ---- encode ----

  encode(m: object, writer?: WriterT, q = 0): WriterT {
    const w = writer ?? Writer.create();
    if (q > util.recursionLimit) throw Error('max depth exceeded');
    const msg = m as Obj;
    for (const f of this.sorted) {
      const v = msg[f.name];
      if (f.map) {
        if (v == null || !Object.hasOwnProperty.call(msg, f.name)) continue;
        const map = v as Obj;
        for (const k of Object.keys(map)) {
          w.uint32(((f.id << 3) | 2) >>> 0)
            .fork()
            .uint32(10)
            .string(k);
          if (f.scalar === undefined)
            codec(f.message!)
              .encode(map[k] as object, w.uint32(18).fork(), q + 1)
              .ldelim()
              .ldelim();
          else put(w.uint32(16 | WIRE[f.scalar]), f.scalar, map[k]).ldelim();
        }
      } else if (f.repeated) {
        const list = v as unknown[] | null | undefined;
        if (list == null || !list.length) continue;
        if (f.packed) {
          w.uint32(((f.id << 3) | 2) >>> 0).fork();
          for (const x of list) put(w, f.scalar!, x);
          w.ldelim();
        } else
          for (const x of list) {
            if (f.scalar === undefined)
              codec(f.message!)
                .encode(x as object, w.uint32(((f.id << 3) | 2) >>> 0).fork(), q + 1)
                .ldelim();
            else put(w.uint32(((f.id << 3) | WIRE[f.scalar]) >>> 0), f.scalar, x);
          }
      } else {
        if (v == null || !Object.hasOwnProperty.call(msg, f.name)) continue;
        if (f.scalar === undefined)
          codec(f.message!)
            .encode(v, w.uint32(((f.id << 3) | 2) >>> 0).fork(), q + 1)
            .ldelim();
        else put(w.uint32(((f.id << 3) | WIRE[f.scalar]) >>> 0), f.scalar, v);
      }
    }
    return w;
  }

  // ---- decode ----

  decode(input: ReaderT | Uint8Array, l?: number, e?: number, n = 0): object {
    const r = input instanceof Reader ? input : Reader.create(input);
    if (n > Reader.recursionLimit) throw Error('maximum nesting depth exceeded');
    let c: number;
    if (l === undefined) c = r.len;
    else {
      c = r.pos + l;
      if (c > r.len) throw RangeError('index out of range');
      l = r.len;
      r.len = c;
    }
    const m = newMessage(this.fields);
    this.own.add(m);
    while (r.pos < c) {
      const t = r.uint32();
      if (t === e) break;
      const f = this.byId.get(t >>> 3);
      if (!f) {
        r.skipType(t & 7, n);
        continue;
      }
      if (f.map) this.decodeEntry(r, f, m, c, n);
      else if (f.repeated) {
        if (!((m[f.name] as unknown[] | undefined) && (m[f.name] as unknown[]).length)) m[f.name] = [];
        const list = m[f.name] as unknown[];
        if (f.scalar !== undefined && f.scalar !== 'string' && f.scalar !== 'bytes' && (t & 7) === 2) {
          // packed (accepted whatever the field says, as protobufjs does)
          const c2 = r.uint32() + r.pos;
          if (c2 > r.len) throw RangeError('index out of range');
          r.len = c2;
          while (r.pos < c2) list.push(get(r, f.scalar));
          if (r.pos !== c2) throw RangeError('index out of range');
          r.len = c;
        } else if (f.scalar === undefined) list.push(codec(f.message!).decode(r, r.uint32(), undefined, n + 1));
        else list.push(get(r, f.scalar));
      } else if (f.scalar === undefined) m[f.name] = codec(f.message!).decode(r, r.uint32(), undefined, n + 1);
      else m[f.name] = get(r, f.scalar);
    }
    if (l !== undefined) {
      if (r.pos !== c) throw RangeError('index out of range');
      r.len = l;
    }
    return m;
  }

  private decodeEntry(r: ReaderT, f: Field, m: Obj, c: number, n: number): void {
    const map = m[f.name] as Obj;
    const c2 = r.uint32() + r.pos;
    if (c2 > r.len) throw RangeError('index out of range');
    r.len = c2;
    let k = '';
    let value: unknown = f.scalar === undefined ? null : zero(f.scalar);
    while (r.pos < c2) {
      const tag2 = r.uint32();
      switch (tag2 >>> 3) {
        case 1:
          k = r.string();
          break;
        case 2:
          value = f.scalar === undefined ? codec(f.message!).decode(r, r.uint32(), undefined, n + 1) : get(r, f.scalar);
          break;
        default:
          r.skipType(tag2 & 7, n);
          break;
      }
    }
    if (r.pos !== c2) throw RangeError('index out of range');
    r.len = c;
    if (k === '__proto__') util.makeProp(map, k);
    map[k] = value;
  }

  // ---- fromObject ----

  fromObject(d: object, n = 0): object {
    if (this.own.has(d)) return d;
    if (!this.fields.length) return this.mark(newMessage(this.fields));
    if (!util.isObject(d)) throw TypeError(`.${this.name}: object expected`);
    if (n > util.recursionLimit) throw Error('maximum nesting depth exceeded');
    const src = d as Obj;
    const m = this.mark(newMessage(this.fields));
    for (const f of this.fields) {
      const v = src[f.name];
      if (f.map) {
        if (!v) continue;
        if (!util.isObject(v)) throw TypeError(`${f.fullName}: object expected`);
        const out: Obj = {};
        m[f.name] = out;
        for (const k of Object.keys(v)) {
          if (k === '__proto__') util.makeProp(out, k);
          this.convertIn(f, (v as Obj)[k], out, k, n);
        }
      } else if (f.repeated) {
        if (!v) continue;
        if (!Array.isArray(v)) throw TypeError(`${f.fullName}: array expected`);
        const out: unknown[] = [];
        m[f.name] = out;
        for (let i = 0; i < v.length; ++i) this.convertIn(f, v[i], out as unknown as Obj, i, n);
      } else if (f.enumValues || v != null) this.convertIn(f, v, m, f.name, n);
    }
    return m;
  }

  private mark(m: Obj): Obj {
    this.own.add(m);
    return m;
  }

  /** One value of `f` from a plain object into `out[key]` (left unset where protobufjs leaves it unset). */
  private convertIn(f: Field, v: unknown, out: Obj, key: string | number, n: number): void {
    if (f.enumValues) {
      const e = f.enumValues;
      if (typeof v === 'string' && Object.hasOwnProperty.call(e.values, v) && e.names.includes(v))
        out[key] = e.values[v];
      else if (typeof v === 'number') out[key] = v;
      else if (f.repeated) out[key] = e.first; // protobufjs fills an unknown name in a list with the default
      return;
    }
    if (f.message !== undefined) {
      if (!util.isObject(v)) throw TypeError(`${f.fullName}: object expected`);
      out[key] = codec(f.message).fromObject(v as object, n + 1);
      return;
    }
    switch (f.scalar) {
      case 'double':
      case 'float':
        out[key] = Number(v);
        return;
      case 'uint32':
      case 'fixed32':
        out[key] = (v as number) >>> 0;
        return;
      case 'int32':
      case 'sint32':
      case 'sfixed32':
        out[key] = (v as number) | 0;
        return;
      case 'int64':
      case 'uint64':
      case 'sint64':
      case 'fixed64':
      case 'sfixed64':
        if (longClass()) out[key] = longClass()!.fromValue(v, f.unsigned);
        else if (typeof v === 'string') out[key] = parseInt(v, 10);
        else if (typeof v === 'number') out[key] = v;
        else if (typeof v === 'object') {
          const b = v as { low: number; high: number };
          out[key] = new util.LongBits(b.low >>> 0, b.high >>> 0).toNumber(f.unsigned);
        }
        return;
      case 'bytes':
        if (typeof v === 'string') {
          const buf = util.newBuffer(util.base64.length(v));
          util.base64.decode(v, buf, 0);
          out[key] = buf;
        } else if ((v as { length: number }).length >= 0) out[key] = v;
        return;
      case 'string':
        out[key] = String(v);
        return;
      case 'bool':
        out[key] = Boolean(v);
        return;
    }
  }

  // ---- toObject ----

  toObject(m: object, o: IConversionOptions = {}, q = 0): Obj {
    if (!this.fields.length) return {};
    if (q > util.recursionLimit) throw Error('max depth exceeded');
    const msg = m as Obj;
    const d: Obj = {};
    if (o.arrays || o.defaults) for (const f of this.sorted) if (f.repeated) d[f.name] = [];
    if (o.objects || o.defaults) for (const f of this.sorted) if (f.map) d[f.name] = {};
    if (o.defaults) for (const f of this.sorted) if (!f.repeated && !f.map) d[f.name] = this.defaultOut(f, o);
    for (const f of this.sorted) {
      const v = msg[f.name];
      if (f.map) {
        let keys: string[];
        if (!(v && (keys = Object.keys(v)).length)) continue;
        const out: Obj = {};
        d[f.name] = out;
        for (const k of keys) {
          if (k === '__proto__') util.makeProp(out, k);
          out[k] = this.convertOut(f, (v as Obj)[k], o, q);
        }
      } else if (f.repeated) {
        const list = v as unknown[] | undefined;
        if (!(list && list.length)) continue;
        d[f.name] = list.map((x) => this.convertOut(f, x, o, q));
      } else if (v != null && Object.hasOwnProperty.call(msg, f.name)) d[f.name] = this.convertOut(f, v, o, q);
    }
    return d;
  }

  private defaultOut(f: Field, o: IConversionOptions): unknown {
    if (f.enumValues) return o.enums === String ? f.enumValues.values[f.enumValues.first] : f.enumValues.first;
    if (f.long) {
      const Long = longClass();
      if (Long) {
        const z = new Long(0, 0, f.unsigned);
        return o.longs === String
          ? z.toString()
          : o.longs === Number
            ? z.toNumber()
            : typeof BigInt !== 'undefined' && o.longs === BigInt
              ? BigInt(z.toString())
              : z;
      }
      return o.longs === String ? '0' : typeof BigInt !== 'undefined' && o.longs === BigInt ? BigInt(0) : 0;
    }
    if (f.scalar === 'bytes') return o.bytes === String ? '' : o.bytes === Array ? [] : util.newBuffer([]);
    if (f.scalar === undefined) return null;
    return zero(f.scalar);
  }

  private convertOut(f: Field, v: unknown, o: IConversionOptions, q: number): unknown {
    if (f.enumValues) {
      if (o.enums !== String) return v;
      const name = f.enumValues.values[v as number];
      return name === undefined ? v : name;
    }
    if (f.message !== undefined) return codec(f.message).toObject(v as object, o, q + 1);
    if (f.long) {
      if (typeof BigInt !== 'undefined' && o.longs === BigInt) {
        if (typeof v === 'number') return BigInt(v);
        const b = v as { low: number; high: number };
        return BigInt(
          longClass()!
            .fromBits(b.low >>> 0, b.high >>> 0, f.unsigned)
            .toString(),
        );
      }
      if (typeof v === 'number') return o.longs === String ? String(v) : v;
      const b = v as { low: number; high: number };
      if (o.longs === String) return longClass()!.prototype.toString.call(v);
      return o.longs === Number ? new util.LongBits(b.low >>> 0, b.high >>> 0).toNumber(f.unsigned) : v;
    }
    if (f.scalar === 'double' || f.scalar === 'float') return o.json && !isFinite(v as number) ? String(v) : v;
    if (f.scalar === 'bytes') {
      const b = v as Uint8Array;
      return o.bytes === String
        ? util.base64.encode(b, 0, b.length)
        : o.bytes === Array
          ? Array.prototype.slice.call(b)
          : v;
    }
    return v;
  }
}

const codecs: (Codec | undefined)[] = [];
function codec(i: number): Codec {
  return (codecs[i] ??= new Codec(TYPES[i]![0], TYPES[i]![1]));
}

let byName: Map<string, number> | undefined;

/** The codec of a message by full name ("containerd.services.version.v1.VersionResponse"), if the API has it. */
export function findCodec(fullName: string): MessageCodec | undefined {
  byName ??= new Map(TYPES.map(([n], i) => [n, i]));
  const i = byName.get(fullName);
  return i === undefined ? undefined : codec(i);
}

/** A service's methods: name, request and response codecs, client-streaming, server-streaming. */
export function serviceMethods(fullName: string): [string, MessageCodec, MessageCodec, boolean, boolean][] | undefined {
  const rows = Object.hasOwn(SERVICES, fullName) ? SERVICES[fullName] : undefined;
  return rows?.map(([name, req, res, cs, ss]) => [name, codec(req), codec(res), cs, ss]);
}
