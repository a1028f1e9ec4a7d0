// The HTTP layer under the registry client: node:http and node:https with a
// per-host TLS configuration (CA bundle and client certificate from
// certs.d, or verification off for an insecure registry). It knows nothing of
// auth, retries or redirects; client.ts decides those.

import { request as httpRequest, Agent as HttpAgent, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest, Agent as HttpsAgent } from 'node:https';
import type { Readable } from 'node:stream';
import { rootCertificates } from 'node:tls';
import { createHash } from 'node:crypto';
import { BerthError } from '../../common/errors.js';

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
}

const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 16 });
const httpsAgents = new Map<string, HttpsAgent>();

function agentFor(tls: TlsSettings | undefined, key: string): HttpsAgent {
  // One agent (and socket pool) per host and TLS material: a connection
  // verified with one CA set must not serve a request that expects another.
  const h = createHash('sha256');
  for (const c of tls?.ca ?? []) h.update(c).update('\0');
  if (tls?.cert) h.update(tls.cert).update('\0');
  if (tls?.key) h.update(tls.key);
  const id = `${key}|${tls?.insecureSkipVerify ? 'insecure' : 'verify'}|${h.digest('hex')}`;
  let a = httpsAgents.get(id);
  if (!a) {
    const ca = tls?.ca && tls.ca.length > 0 ? [...systemRoots(), ...tls.ca] : undefined;
    a = new HttpsAgent({
      keepAlive: true,
      maxSockets: 16,
      ca,
      cert: tls?.cert,
      key: tls?.key,
      rejectUnauthorized: !tls?.insecureSkipVerify,
    });
    httpsAgents.set(id, a);
  }
  return a;
}

// Passing `ca` replaces Node's default roots, so keep them alongside.
function systemRoots(): readonly string[] {
  return rootCertificates;
}

/** Forget cached agents (tests that rewrite certs.d between runs). */
export function resetAgents(): void {
  for (const a of httpsAgents.values()) a.destroy();
  httpsAgents.clear();
}

/** Send one request and resolve with the response head; the body is a stream. */
export function send(req: RawRequest): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const isHttps = req.url.protocol === 'https:';
    if (!isHttps && req.url.protocol !== 'http:') {
      reject(new BerthError('image', 'invalid-argument', `unsupported URL scheme in ${req.url.href}`));
      return;
    }
    const headers: OutgoingHttpHeaders = { ...req.headers };
    if (Buffer.isBuffer(req.body)) headers['content-length'] = req.body.length;
    const opts = {
      method: req.method,
      headers,
      agent: isHttps ? agentFor(req.tls, req.url.host) : httpAgent,
      signal: req.signal,
    };
    const cr = isHttps ? httpsRequest(req.url, opts) : httpRequest(req.url, opts);
    const timeout = req.timeoutMs ?? 60_000;
    cr.setTimeout(timeout, () => {
      cr.destroy(Object.assign(new Error(`no response from ${req.url.host} for ${timeout} ms`), { code: 'ETIMEDOUT' }));
    });
    cr.on('response', (res) => {
      // The idle timeout keeps applying while the caller reads the body.
      res.socket?.setTimeout(timeout);
      resolve(res);
    });
    cr.on('error', reject);
    if (req.body === undefined) {
      cr.end();
    } else if (Buffer.isBuffer(req.body)) {
      cr.end(req.body);
    } else {
      const src = req.body();
      src.on('error', (e) => cr.destroy(e));
      src.pipe(cr);
    }
  });
}

/** Read a whole response body, refusing more than `limit` bytes. */
export async function readBody(res: IncomingMessage, limit: number, what: string): Promise<Buffer> {
  const declared = Number(res.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    res.destroy();
    throw new BerthError('image', 'invalid-argument', `${what} is ${declared} bytes, more than the limit of ${limit}`);
  }
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > limit) {
      res.destroy();
      throw new BerthError('image', 'invalid-argument', `${what} is more than the limit of ${limit} bytes`);
    }
    parts.push(chunk);
  }
  return Buffer.concat(parts);
}

/** Drain and discard a body so the connection can be reused. */
export function discard(res: IncomingMessage): void {
  res.resume();
}

/** True for errors worth retrying: the network, not the request, failed. */
export function isNetworkError(e: unknown): boolean {
  const code = (e as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'string') {
    return e instanceof Error && /socket hang up|aborted|premature close/i.test(e.message);
  }
  return [
    'ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH',
    'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET',
  ].includes(code);
}
