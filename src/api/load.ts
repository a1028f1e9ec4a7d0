// containerd's gRPC API, loaded once from the descriptor that the build
// generated from Debian's .proto files (scripts/gen-api.mjs). The engine
// serves these services, berthd and berth-ctr call them: both sides load
// the very same definitions, so neither can drift from containerd's wire
// format. Parsing a JSON descriptor costs a few milliseconds at start-up,
// against ~100 ms for the .proto sources (measured in bench/).

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import descriptor from './gen/descriptor.json' with { type: 'json' };

/** Options matching scripts/gen-api.mjs's loaderFlags, so the generated types are exact. */
export const loaderOptions: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
};

let cached: protoLoader.PackageDefinition | undefined;

/** Every containerd service and message, by full name ("containerd.services.version.v1.Version"). */
export function containerdDefinition(): protoLoader.PackageDefinition {
  cached ??= protoLoader.fromJSON(descriptor as protobuf.INamespace, loaderOptions);
  return cached;
}

let root: protobuf.Root | undefined;

/** The protobufjs root of every containerd type (shared by the services and by Any payloads). */
export function protoRoot(): protobuf.Root {
  root ??= protobuf.Root.fromJSON(descriptor as protobuf.INamespace);
  return root;
}

const conversion: protobuf.IConversionOptions = { longs: Number, enums: String, defaults: true, oneofs: true };

function serializer(t: protobuf.Type): grpc.serialize<object> {
  return (arg) => {
    if (Array.isArray(arg))
      throw new Error(`Failed to serialize message: expected object with ${t.name} structure, got array instead`);
    return Buffer.from(t.encode(t.fromObject(arg)).finish());
  };
}

function deserializer(t: protobuf.Type): grpc.deserialize<object> {
  return (buf) => t.toObject(t.decode(buf), conversion);
}

const services = new Map<string, grpc.ServiceDefinition>();

/**
 * A service's method table, for `server.addService` and client constructors:
 * the (de)serializers proto-loader would make, with the same conversion
 * options, but built straight from protobufjs. proto-loader's own
 * definitions also serialize a file descriptor set for every message type
 * (reflection, which nothing here uses): that work cost a daemon's start-up
 * tens of milliseconds and its idle memory several megabytes (measured in
 * bench/engine.ts).
 */
export function serviceDefinition(fullName: string): grpc.ServiceDefinition {
  const known = services.get(fullName);
  if (known) return known;
  let svc: protobuf.Service;
  try {
    svc = protoRoot().lookupService(fullName);
  } catch {
    throw new Error(`containerd API: no service ${fullName}`);
  }
  const def: Record<string, grpc.MethodDefinition<object, object>> = {};
  for (const m of svc.methodsArray) {
    m.resolve();
    const req = m.resolvedRequestType!;
    const res = m.resolvedResponseType!;
    def[m.name] = {
      path: `/${fullName}/${m.name}`,
      requestStream: !!m.requestStream,
      responseStream: !!m.responseStream,
      requestSerialize: serializer(req),
      requestDeserialize: deserializer(req),
      responseSerialize: serializer(res),
      responseDeserialize: deserializer(res),
      originalName: m.name[0]!.toLowerCase() + m.name.slice(1),
    };
  }
  services.set(fullName, def);
  return def;
}

type Message = protoLoader.MessageTypeDefinition<object, object>;

/** A message type's encoder/decoder (events and Any payloads are encoded by name). */
export function messageType(fullName: string): Message {
  const def = containerdDefinition()[fullName];
  if (!def || !('format' in def) || def.format !== 'Protocol Buffer 3 DescriptorProto') {
    throw new Error(`containerd API: no message ${fullName}`);
  }
  return def;
}

/** The gRPC metadata key that carries the namespace, as containerd reads it. */
export const NAMESPACE_HEADER = 'containerd-namespace';

/** A client constructor for a service, as grpc-js builds it from the definition. */
export function clientConstructor(fullName: string): grpc.ServiceClientConstructor {
  return grpc.makeClientConstructor(serviceDefinition(fullName), fullName);
}
