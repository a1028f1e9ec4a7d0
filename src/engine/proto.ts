// Encoding of google.protobuf.Any payloads (events) and of timestamps.
// grpc-js encodes the service messages itself; an event's payload is a
// message of its own, encoded here by full name with the same generated
// codecs the services use, and named the way containerd's typeurl names it
// (the bare full name: "containerd.events.ImageCreate").

import { knownMessage, messageCodec } from '../api/load.js';
import type { Any__Output } from '../api/gen/google/protobuf/Any.js';
import type { Timestamp } from '../api/gen/google/protobuf/Timestamp.js';

export interface AnyMessage {
  type_url: string;
  value: Buffer;
}

/** An Any holding `payload` encoded as message `fullName`. */
export function encodeAny(fullName: string, payload: object): AnyMessage {
  const t = messageCodec(fullName);
  const value = Buffer.from(t.encode(t.fromObject(payload)).finish());
  return { type_url: fullName, value };
}

/** The payload of an Any whose type this API knows (else undefined), as a plain object with snake_case fields. */
export function decodeAny(any: Any__Output | AnyMessage | null | undefined): Record<string, unknown> | undefined {
  if (!any?.type_url) return undefined;
  const name = any.type_url.slice(any.type_url.lastIndexOf('/') + 1);
  if (!knownMessage(name)) return undefined;
  const t = messageCodec(name);
  try {
    return t.toObject(t.decode(any.value), { longs: Number, enums: String, defaults: false });
  } catch {
    return undefined;
  }
}

export function toTimestamp(d: Date | string | number): Timestamp {
  const ms = new Date(d).getTime();
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: (ms - seconds * 1000) * 1e6 };
}

export function fromTimestamp(t: { seconds?: unknown; nanos?: number } | null | undefined): Date | undefined {
  if (!t) return undefined;
  const s = Number(t.seconds ?? 0);
  const n = Number(t.nanos ?? 0);
  if (s === 0 && n === 0) return undefined;
  return new Date(s * 1000 + Math.floor(n / 1e6));
}
