// The build's static codecs (scripts/gen-codecs.mjs) against protobufjs's
// reflection over the same .proto files: every message the API reaches
// encodes to the same bytes and decodes to the same object, and every
// service has the same methods. The reflection side is the descriptor the
// build wrote beside the codecs (src/api/gen/descriptor.json).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';
import { conversion, knownMessage, messageCodec, serviceDefinition } from '../../../src/api/load.js';

const root = protobuf.Root.fromJSON(
  JSON.parse(
    readFileSync(new URL('../../../src/api/gen/descriptor.json', import.meta.url), 'utf8'),
  ) as protobuf.INamespace,
);
root.resolveAll();

function all<T>(ns: protobuf.NamespaceBase, kind: new (...a: never[]) => T, out: T[] = []): T[] {
  for (const x of ns.nestedArray) {
    if (x instanceof kind) out.push(x);
    if (x instanceof protobuf.Namespace) all(x, kind, out);
  }
  return out;
}

const bare = (n: string) => n.replace(/^\./, '');

/**
 * A value for every field (nested messages to `depth`), distinct per field so
 * a swapped field shows; `odd` gives the loose inputs fromObject converts (an
 * enum by number or by an unknown name, numbers as strings, bytes as base64).
 */
function sample(t: protobuf.Type, depth: number, odd = false): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  t.fieldsArray.forEach((f, i) => {
    const one = (): unknown => {
      if (f.resolvedType instanceof protobuf.Enum) {
        const names = Object.keys(f.resolvedType.values);
        return odd ? (i % 2 ? 'NO_SUCH_VALUE' : 1) : names[names.length - 1];
      }
      if (f.resolvedType instanceof protobuf.Type) return depth > 0 ? sample(f.resolvedType, depth - 1, odd) : {};
      if (odd)
        switch (f.type) {
          case 'string':
            return 40 + i;
          case 'bool':
            return 1;
          case 'bytes':
            return 'AQID/w==';
          case 'double':
          case 'float':
            return '2.5';
          case 'uint32':
            return -1;
          default:
            return String(2 ** 33 + i);
        }
      switch (f.type) {
        case 'string':
          return `v${i}-${f.name}`;
        case 'bool':
          return true;
        case 'bytes':
          return Buffer.from([i, 1, 2, 255]);
        case 'double':
        case 'float':
          return 1.5 + i;
        case 'int64':
        case 'uint64':
        case 'sint64':
        case 'fixed64':
        case 'sfixed64':
          return 2 ** 40 + i;
        default:
          return 7 + i;
      }
    };
    if (f.map) o[f.name] = { [`k${i}`]: one(), b: one() };
    else if (f.repeated) o[f.name] = [one(), one()];
    else o[f.name] = one();
  });
  return o;
}

test('every message encodes and decodes as protobufjs reflection does', () => {
  let compared = 0;
  for (const t of all(root, protobuf.Type)) {
    const name = bare(t.fullName);
    if (!knownMessage(name)) continue;
    const c = messageCodec(name);
    const obj = sample(t, 2);
    const mine = Buffer.from(c.encode(c.fromObject(obj)).finish());
    const theirs = Buffer.from(t.encode(t.fromObject(obj)).finish());
    assert.deepEqual(mine, theirs, `${name}: encoding`);
    assert.deepEqual(c.toObject(c.decode(theirs), conversion), t.toObject(t.decode(theirs), conversion), name);
    const empty = Buffer.alloc(0);
    assert.deepEqual(
      c.toObject(c.decode(empty), conversion),
      t.toObject(t.decode(empty), conversion),
      `${name}: empty`,
    );
    // loose inputs, and the other conversion options (decodeAny reads without defaults)
    const odd = sample(t, 2, true);
    const oddBytes = Buffer.from(t.encode(t.fromObject(odd)).finish());
    assert.deepEqual(Buffer.from(c.encode(c.fromObject(odd)).finish()), oddBytes, `${name}: loose input`);
    for (const opts of [
      { longs: Number, enums: String, defaults: false },
      { longs: String, enums: Number, bytes: String, defaults: true, arrays: true, objects: true },
      {},
    ]) {
      assert.deepEqual(
        c.toObject(c.decode(oddBytes), opts),
        t.toObject(t.decode(oddBytes), opts),
        `${name}: ${JSON.stringify(opts)}`,
      );
    }
    compared++;
  }
  assert.ok(compared > 150, `only ${compared} messages compared`);
});

test('a malformed message is rejected as reflection rejects it', () => {
  const c = messageCodec('containerd.services.content.v1.Info');
  const t = root.lookupType('containerd.services.content.v1.Info');
  const bad = Buffer.from([0x1a, 0x7f, 0x08]); // created_at (field 3) of 127 bytes, 1 there
  assert.throws(() => t.decode(bad), RangeError);
  assert.throws(() => c.decode(bad), RangeError);
  assert.throws(() => c.fromObject({ created_at: 'yesterday' }), /created_at: object expected/);
});

test("every service has containerd's methods, streams and message types", () => {
  const svcs = all(root, protobuf.Service);
  assert.ok(svcs.length >= 11);
  for (const s of svcs) {
    const def = serviceDefinition(bare(s.fullName));
    assert.deepEqual(Object.keys(def).sort(), s.methodsArray.map((m) => m.name).sort(), s.fullName);
    for (const m of s.methodsArray) {
      const d = def[m.name]!;
      assert.equal(d.path, `/${bare(s.fullName)}/${m.name}`);
      assert.equal(d.requestStream, !!m.requestStream, `${m.name} request stream`);
      assert.equal(d.responseStream, !!m.responseStream, `${m.name} response stream`);
      const req = sample(m.resolvedRequestType!, 1);
      assert.deepEqual(
        d.requestSerialize(req),
        Buffer.from(m.resolvedRequestType!.encode(m.resolvedRequestType!.fromObject(req)).finish()),
        `${s.fullName}/${m.name} request`,
      );
    }
  }
});
