// containerd's gRPC API: the static codecs and method tables that the build
// generated from Debian's .proto files (scripts/gen-api.mjs, gen-codecs.mjs).
// The engine serves these services, berthd and berth-ctr call them: both
// sides use the very same definitions, so neither can drift from
// containerd's wire format. Nothing is parsed or compiled at run time: no
// descriptor is loaded and no code generated on first use (measured in
// bench/README.md, engine.ts: that cost the engine ~12 MB of idle RSS).

import * as grpc from '@grpc/grpc-js';
import type { IConversionOptions } from 'protobufjs';
import { messageCodec as generated, serviceMethods, type MessageCodec } from './gen/codecs.js';

export type { MessageCodec } from './gen/codecs.js';

/**
 * How every Berth user of the API sees a message (the generated types in
 * gen/ match it): field names as in the .proto (containerd's JSON is
 * snake_case), 64-bit integers as JS numbers (sizes and times fit in 2^53),
 * enums by name, defaults filled in, oneofs named.
 */
export const conversion: IConversionOptions = { longs: Number, enums: String, defaults: true, oneofs: true };

function serializer(t: MessageCodec): grpc.serialize<object> {
  return (arg) => {
    if (Array.isArray(arg))
      throw new Error(`Failed to serialize message: expected object with ${t.name} structure, got array instead`);
    return Buffer.from(t.encode(t.fromObject(arg)).finish());
  };
}

function deserializer(t: MessageCodec): grpc.deserialize<object> {
  return (buf) => t.toObject(t.decode(buf), conversion);
}

const services = new Map<string, grpc.ServiceDefinition>();

/**
 * A service's method table, for `server.addService` and client constructors:
 * the (de)serializers @grpc/proto-loader would make, with the same
 * conversion options, over the generated codecs.
 */
export function serviceDefinition(fullName: string): grpc.ServiceDefinition {
  const known = services.get(fullName);
  if (known) return known;
  const methods = serviceMethods(fullName);
  if (!methods) throw new Error(`containerd API: no service ${fullName}`);
  const def: Record<string, grpc.MethodDefinition<object, object>> = {};
  for (const [name, req, res, requestStream, responseStream] of methods) {
    def[name] = {
      path: `/${fullName}/${name}`,
      requestStream,
      responseStream,
      requestSerialize: serializer(req),
      requestDeserialize: deserializer(req),
      responseSerialize: serializer(res),
      responseDeserialize: deserializer(res),
      originalName: name[0]!.toLowerCase() + name.slice(1),
    };
  }
  services.set(fullName, def);
  return def;
}

/** A message's codec by full name (events and Any payloads are encoded by name). */
export function messageCodec(fullName: string): MessageCodec {
  const c = generated(fullName);
  if (!c) throw new Error(`containerd API: no message ${fullName}`);
  return c;
}

/** Whether this API knows message `fullName`. */
export function knownMessage(fullName: string): boolean {
  return generated(fullName) !== undefined;
}

/** The gRPC metadata key that carries the namespace, as containerd reads it. */
export const NAMESPACE_HEADER = 'containerd-namespace';

/** A client constructor for a service, as grpc-js builds it from the definition. */
export function clientConstructor(fullName: string): grpc.ServiceClientConstructor {
  return grpc.makeClientConstructor(serviceDefinition(fullName), fullName);
}
