// Generates src/api/gen/codecs.js (+ .d.ts): static encoders, decoders and
// object converters for every message of containerd's API, and the method
// table of every service, from the protobufjs Root that gen-api.mjs loaded
// from Debian's .proto files.
//
// Why at build time: loading the descriptor at run time (Root.fromJSON) and
// letting protobufjs generate each type's functions on first use (it builds
// their source and compiles it with `new Function`) cost berth-engine ~80 ms
// of CPU at start-up and ~12 MB of idle RSS under Bun: the reflection object
// graph on the heap and JavaScriptCore's parser and compiler pulled in to
// compile the generated source (measured: bench/README.md, engine.ts). The
// functions written here are the very ones protobufjs would generate at run
// time (its own code generators, stringified), so the wire format and the
// conversion options behave exactly as before; they run on
// protobufjs/minimal's Reader, Writer and util, and are compiled ahead of time
// with the rest of the bundle.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import protobuf from 'protobufjs';

/** Every Type, Enum and Service under `ns`, depth first, in declaration order. */
function walk(ns, out = { types: [], enums: [], services: [] }) {
  for (const x of ns.nestedArray) {
    if (x instanceof protobuf.Type) out.types.push(x);
    else if (x instanceof protobuf.Enum) out.enums.push(x);
    else if (x instanceof protobuf.Service) out.services.push(x);
    if (x.nestedArray) walk(x, out);
  }
  return out;
}

const bare = (fullName) => fullName.replace(/^\./, '');

/** A field's default as source: the value protobufjs puts on a message's prototype. */
function defaultSource(field) {
  if (field.map) return 'util.emptyObject';
  if (field.repeated) return 'util.emptyArray';
  const v = field.typeDefault;
  if (v === null || v === undefined) return 'null';
  if (field.long) {
    const n = typeof v === 'object' ? Number(v.toString()) : Number(v);
    const unsigned = field.type === 'uint64' || field.type === 'fixed64';
    return `longDefault(${n}, ${unsigned})`;
  }
  // bytes: protobufjs's default is its frozen empty array
  if (Array.isArray(v) && v.length === 0) return 'util.emptyArray';
  if (v instanceof Uint8Array) {
    if (v.length !== 0) throw new Error(`gen-codecs: ${field.fullName}: a non-empty bytes default is not supported`);
    return 'util.newBuffer(0)';
  }
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return JSON.stringify(v);
  throw new Error(`gen-codecs: ${field.fullName}: unexpected default ${String(v)}`);
}

/** The body of one type's set-up: its constructor, prototype defaults and four functions. */
function typeSource(t, ref) {
  const refs = t.fieldsArray.map((f) => {
    f.resolve();
    return f.resolvedType ? ref(f.resolvedType) : 'undefined';
  });
  const lines = [`def(T[${ref.index(t)}], [${refs.join(', ')}], function (t, types) {`];
  lines.push(`  const ctor = ${protobuf.Type.generateConstructor(t).toString()};`);
  for (const f of t.fieldsArray) lines.push(`  ctor.prototype[${JSON.stringify(f.name)}] = ${defaultSource(f)};`);
  for (const o of t.oneofsArray) {
    const names = JSON.stringify(o.oneof);
    lines.push(
      `  Object.defineProperty(ctor.prototype, ${JSON.stringify(o.name)}, ` +
        `{ get: util.oneOfGetter(${names}), set: util.oneOfSetter(${names}) });`,
    );
  }
  lines.push('  t.ctor = ctor;');
  lines.push(`  t.encode = ${protobuf.encoder(t).toString()};`);
  lines.push(`  t.decode = ${protobuf.decoder(t).toString()};`);
  lines.push(`  t.fromObject = ${protobuf.converter.fromObject(t).toString()};`);
  lines.push(`  t.toObject = ${protobuf.converter.toObject(t).toString()};`);
  lines.push('});');
  return lines.join('\n');
}

/** Writes codecs.js and codecs.d.ts into `out` for `root` (resolved). */
export function generateCodecs(root, out) {
  const all = walk(root);
  const { services } = all;
  // Only what containerd's messages reach: the services' requests and
  // responses and the event and option payloads (containerd's own
  // packages), with every type their fields use. Not the descriptor.proto
  // types that gogo.proto's options drag in.
  const reached = new Set();
  const visit = (x) => {
    if (reached.has(x)) return;
    reached.add(x);
    if (x instanceof protobuf.Type)
      for (const f of x.fieldsArray) {
        f.resolve();
        if (f.resolvedType) visit(f.resolvedType);
      }
  };
  for (const s of services)
    for (const m of s.methodsArray) {
      m.resolve();
      visit(m.resolvedRequestType);
      visit(m.resolvedResponseType);
    }
  for (const t of all.types) if (!bare(t.fullName).startsWith('google.')) visit(t);
  const types = all.types.filter((t) => reached.has(t));
  const enums = all.enums.filter((e) => reached.has(e));
  const typeIndex = new Map(types.map((t, i) => [t, i]));
  const enumIndex = new Map(enums.map((e, i) => [e, i]));
  const ref = (x) => {
    if (typeIndex.has(x)) return `T[${typeIndex.get(x)}]`;
    if (enumIndex.has(x)) return `E[${enumIndex.get(x)}]`;
    throw new Error(`gen-codecs: ${x.fullName} is neither a message nor an enum`);
  };
  ref.index = (t) => typeIndex.get(t);

  const src = [
    "// Generated by scripts/gen-codecs.mjs from containerd's .proto files (Debian packages). Do not edit.",
    "import $protobuf from 'protobufjs/minimal.js';",
    'const Writer = $protobuf.Writer;',
    'const Reader = $protobuf.Reader;',
    'const util = $protobuf.util;',
    'function longDefault(n, unsigned) {',
    '  return util.Long ? Object.freeze(util.Long.fromNumber(n, unsigned)) : n;',
    '}',
    // An enum as protobufjs's generated code reads it: values[name] = number and values[number] = name.
    'function enumOf(pairs) {',
    '  const byId = {};',
    '  const values = Object.create(byId);',
    '  for (const [name, id] of pairs) {',
    '    values[name] = id;',
    '    byId[id] = name;',
    '  }',
    '  return { values };',
    '}',
    `const E = [${enums.map((e) => `enumOf(${JSON.stringify(Object.entries(e.values))})`).join(',\n  ')}];`,
    `const T = [${types.map((t) => `{ name: ${JSON.stringify(bare(t.fullName))} }`).join(',\n  ')}];`,
    // A type's functions are made on its first use, as protobufjs's own
    // reflection does: a daemon that serves a few methods at idle keeps only
    // their closures and prototypes.
    'function def(t, types, body) {',
    '  const setup = () => {',
    '    body(t, types);',
    '    return t;',
    '  };',
    '  t.encode = function (...a) {',
    '    return setup().encode(...a);',
    '  };',
    '  t.decode = function (...a) {',
    '    return setup().decode(...a);',
    '  };',
    '  t.fromObject = function (...a) {',
    '    return setup().fromObject(...a);',
    '  };',
    '  t.toObject = function (...a) {',
    '    return setup().toObject(...a);',
    '  };',
    '}',
    ...types.map((t) => typeSource(t, ref)),
    'const byName = new Map(T.map((t) => [t.name, t]));',
    'export function messageCodec(fullName) {',
    '  return byName.get(fullName);',
    '}',
    `const S = {\n${services
      .map(
        (s) =>
          `  ${JSON.stringify(bare(s.fullName))}: [\n${s.methodsArray
            .map((m) => {
              m.resolve();
              return `    [${JSON.stringify(m.name)}, ${ref(m.resolvedRequestType)}, ${ref(m.resolvedResponseType)}, ${!!m.requestStream}, ${!!m.responseStream}],`;
            })
            .join('\n')}\n  ],`,
      )
      .join('\n')}\n};`,
    'export function serviceMethods(fullName) {',
    '  return Object.hasOwn(S, fullName) ? S[fullName] : undefined;',
    '}',
    '',
  ].join('\n');

  // Every util member the generated functions use must be protobufjs/minimal's (the full
  // library's util is the same object with more members, so its source is what tells).
  const minimalUtil = readFileSync(createRequire(import.meta.url).resolve('protobufjs/src/util/minimal.js'), 'utf8');
  for (const m of new Set([...src.matchAll(/\butil\.(\w+)/g)].map((x) => x[1]))) {
    if (!new RegExp(`\\butil\\.${m}\\s*=`).test(minimalUtil))
      throw new Error(`gen-codecs: generated code uses util.${m}, which protobufjs/minimal lacks`);
  }

  writeFileSync(join(out, 'codecs.js'), src);
  writeFileSync(
    join(out, 'codecs.d.ts'),
    `// Generated by scripts/gen-codecs.mjs. Do not edit.
import type { IConversionOptions, Reader, Writer } from 'protobufjs';
/** One message's static codec (protobufjs's generated functions). */
export interface MessageCodec {
  readonly name: string;
  encode(message: object, writer?: Writer): Writer;
  decode(reader: Reader | Uint8Array): object;
  fromObject(object: object): object;
  toObject(message: object, options?: IConversionOptions): Record<string, unknown>;
}
/** The codec of a message by full name ("containerd.services.version.v1.VersionResponse"). */
export function messageCodec(fullName: string): MessageCodec | undefined;
/** A service's methods: name, request and response codecs, client-streaming, server-streaming. */
export function serviceMethods(
  fullName: string,
): readonly (readonly [string, MessageCodec, MessageCodec, boolean, boolean])[] | undefined;
`,
  );
  return { types: types.length, enums: enums.length, services: services.length };
}
