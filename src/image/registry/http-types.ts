// The types of the registry client's HTTP layer, shared by node:http's side
// (./transport.ts) and Bun fetch's (./fetch-transport.ts).

import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';

export interface TlsSettings {
  /** Extra CA certificates (PEM), added to the system roots as Docker does. */
  ca?: Buffer[];
  /** Client certificate and key (PEM), for registries that require one. */
  cert?: Buffer;
  key?: Buffer;
  /** Skip verification of the server certificate (insecure registries only). */
  insecureSkipVerify?: boolean;
}

export type Body = Buffer | (() => Readable);

export interface RawRequest {
  method: string;
  url: URL;
  headers?: OutgoingHttpHeaders;
  body?: Body;
  tls?: TlsSettings;
  /** Idle timeout of the socket, in ms. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** An http:// proxy: CONNECT tunnel for https, absolute-form requests for http. */
  proxy?: URL;
}

/**
 * A response as the registry client reads it: node:http's IncomingMessage
 * has all of it, and so does ./fetch-transport.ts's answer under Bun.
 */
export interface HttpResponse {
  readonly statusCode?: number;
  readonly statusMessage?: string;
  readonly headers: IncomingHttpHeaders;
  /** The body, chunk by chunk; read once. */
  [Symbol.asyncIterator](): AsyncIterator<Buffer>;
  /** Drops the body and the connection. */
  destroy(error?: Error): void;
  /** Reads and discards the body, so that the connection can be reused. */
  resume(): void;
  /** Why the registry refused, when the client could tell (set on a 401 or 403). */
  authHint?: string;
}
