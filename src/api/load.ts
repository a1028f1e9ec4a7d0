// containerd's gRPC API, loaded once from the descriptor that the build
// generated from Debian's .proto files (scripts/gen-api.mjs). The engine
// serves these services, berthd and berth-ctr call them: both sides load
// the very same definitions, so neither can drift from containerd's wire
// format. Parsing a JSON descriptor costs a few milliseconds at start-up,
// against ~100 ms for the .proto sources (measured in bench/).

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { INamespace } from 'protobufjs';
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
  cached ??= protoLoader.fromJSON(descriptor as INamespace, loaderOptions);
  return cached;
}

/** A service's method table, for `server.addService`. */
export function serviceDefinition(fullName: string): grpc.ServiceDefinition {
  const def = containerdDefinition()[fullName];
  if (!def || 'format' in def || !isService(def)) throw new Error(`containerd API: no service ${fullName}`);
  return def;
}

function isService(d: protoLoader.AnyDefinition): d is protoLoader.ServiceDefinition {
  return Object.values(d).every((m) => typeof m === 'object' && m !== null && 'path' in m);
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
