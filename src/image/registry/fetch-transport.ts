// Registry requests through Bun's own fetch, in the Bun executables only.
// Bun runs fetch's HTTP client (connections, parsing, reading sockets) on a
// thread of its own; its node:http does all of that on the JavaScript
// thread, which a pull also needs for hashing and writing. On two cores a
// download through node:http was bound by that one thread (berth-ctr's
// fetch of an image took as much wall time as CPU time, where skopeo's Go
// took less). Only requests without a body and without a proxy come here;
// the rest (uploads, proxies) keep node:http. What callers see is the part of
// IncomingMessage they use: status, headers, the body as an async iterable
// of Buffers, destroy() and resume().

import type { IncomingHttpHeaders } from 'node:http';
import { BerthError } from '../../common/errors.js';
import type { HttpResponse, RawRequest, TlsSettings } from './http-types.js';

/** The options Bun's fetch adds to the standard RequestInit. */
interface BunFetchInit extends RequestInit {
  decompress?: boolean;
  tls?: { rejectUnauthorized?: boolean; ca?: (string | Buffer)[]; cert?: Buffer; key?: Buffer };
}

/** True when `send` may take this request through fetch. */
export function fetchable(req: RawRequest): boolean {
  return req.body === undefined && req.proxy === undefined && (req.method === 'GET' || req.method === 'HEAD');
}

/** node:http's error codes for what fetch reports by name, so that isNetworkError retries the same failures. */
const CODES: Record<string, string> = {
  ConnectionRefused: 'ECONNREFUSED',
  ConnectionClosed: 'ECONNRESET',
  ConnectionReset: 'ECONNRESET',
  FailedToOpenSocket: 'ECONNREFUSED',
  UnexpectedEOF: 'ECONNRESET',
  Timeout: 'ETIMEDOUT',
  TimeoutError: 'ETIMEDOUT',
  NetworkUnreachable: 'ENETUNREACH',
  HostUnreachable: 'EHOSTUNREACH',
  DNSError: 'EAI_AGAIN',
};

function asNodeError(e: unknown, where: string): Error {
  if (!(e instanceof Error)) return new Error(`${where}: ${String(e)}`);
  if (e.name === 'AbortError') return e;
  const code = (e as { code?: unknown }).code;
  const named = typeof code === 'string' ? (CODES[code] ?? code) : (CODES[e.name] ?? 'ECONNRESET');
  return Object.assign(new Error(`${where}: ${e.message}`), { code: named, cause: e });
}

/** A fetch Response as the registry client reads a response (transport.ts's HttpResponse). */
class FetchedResponse implements HttpResponse {
  readonly statusCode: number;
  readonly statusMessage: string;
  readonly headers: IncomingHttpHeaders = {};
  private done = false;

  constructor(
    private readonly res: Response,
    private readonly abort: (e?: Error) => void,
    private readonly touch: () => void,
    private readonly settled: () => void,
    private readonly where: string,
  ) {
    this.statusCode = res.status;
    this.statusMessage = res.statusText;
    for (const [k, v] of res.headers) {
      const prev = this.headers[k];
      // As node:http: duplicates joined with ", " (fetch's Headers already joins all but set-cookie).
      this.headers[k] = k === 'set-cookie' ? [...(Array.isArray(prev) ? prev : []), v] : v;
    }
    if (!res.body) this.finish();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.settled();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    if (this.done || !this.res.body) return;
    const reader = this.res.body.getReader();
    let ended = false;
    try {
      for (;;) {
        let r: ReadableStreamReadResult<Uint8Array>;
        try {
          r = await reader.read();
        } catch (e) {
          throw asNodeError(e, this.where);
        }
        if (r.done) {
          ended = true;
          return;
        }
        this.touch();
        yield Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
      }
    } finally {
      // A reader that stops early (an error, too many bytes) drops the
      // connection: fetch would otherwise go on reading the body into memory.
      if (!ended) this.abort();
      reader.releaseLock();
      this.finish();
    }
  }

  /** Drops the body and the connection. */
  destroy(e?: Error): void {
    if (this.done) return;
    this.abort(e);
    this.finish();
  }

  /** Reads and discards the body, so that the connection goes back to the pool. */
  resume(): void {
    if (this.done || !this.res.body) return;
    const drain = async (): Promise<void> => {
      for await (const _ of this) void _;
    };
    drain().catch(() => undefined);
  }
}

function tlsOptions(tls: TlsSettings | undefined, roots: () => readonly string[]): BunFetchInit['tls'] {
  if (!tls) return undefined;
  // As node:https here: extra CAs are added to the system roots, never replace them.
  const ca = tls.insecureSkipVerify ? undefined : tls.ca && tls.ca.length > 0 ? [...roots(), ...tls.ca] : undefined;
  return { rejectUnauthorized: !tls.insecureSkipVerify, ca, cert: tls.cert, key: tls.key };
}

/**
 * One request through fetch: resolves with the response head, the body to be
 * read from the result. `timeoutMs` bounds the wait for the head and then
 * every wait for more of the body, as node:http's socket timeout does.
 */
export async function sendViaFetch(
  req: RawRequest,
  timeoutMs: number,
  roots: () => readonly string[],
): Promise<HttpResponse> {
  const ctl = new AbortController();
  const where = `${req.method} ${req.url.host}`;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const onAbort = () => ctl.abort(req.signal?.reason);
  const stop = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    req.signal?.removeEventListener('abort', onAbort);
  };
  const arm = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      ctl.abort(
        Object.assign(new Error(`no response from ${req.url.host} for ${timeoutMs} ms`), { code: 'ETIMEDOUT' }),
      );
    }, timeoutMs);
    // A pending timeout must not keep the process alive once nothing else does.
    timer.unref?.();
  };
  if (req.signal?.aborted) throw req.signal.reason;
  req.signal?.addEventListener('abort', onAbort, { once: true });
  arm();
  // fetch would ask for gzip, deflate and br, and a server may then compress
  // a manifest: node:http asks for nothing, and the bytes must be the ones
  // the digest is over.
  const headers: Record<string, string> = { 'accept-encoding': 'identity' };
  for (const [k, v] of Object.entries(req.headers ?? {})) {
    if (v === undefined) continue;
    headers[k] = Array.isArray(v) ? v.join(', ') : String(v);
  }
  const init: BunFetchInit = {
    method: req.method,
    headers,
    redirect: 'manual',
    // The bytes as the server sent them: a blob's digest is over those.
    decompress: false,
    signal: ctl.signal,
    tls: req.url.protocol === 'https:' ? tlsOptions(req.tls, roots) : undefined,
  };
  let res: Response;
  try {
    res = await fetch(req.url, init);
  } catch (e) {
    stop();
    if (req.signal?.aborted) throw req.signal.reason;
    if (ctl.signal.aborted && ctl.signal.reason instanceof Error) throw ctl.signal.reason;
    throw asNodeError(e, where);
  }
  arm();
  return new FetchedResponse(
    res,
    (e) => ctl.abort(e ?? new BerthError('image', 'canceled', `${where}: response dropped`)),
    arm,
    stop,
    where,
  );
}
