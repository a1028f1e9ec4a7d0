// The HTTP layer under the registry client: node:http and node:https with a
// per-host TLS configuration (CA bundle and client certificate from
// certs.d, or verification off for an insecure registry), directly or through
// an http proxy. It knows nothing of auth, retries or redirects; client.ts
// decides those. Under Bun, requests without a body or a proxy go through
// Bun's fetch instead (./fetch-transport.ts says why).

import {
  request as httpRequest,
  Agent as HttpAgent,
  type ClientRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
} from 'node:http';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import { request as httpsRequest, Agent as HttpsAgent } from 'node:https';
import { connect as tlsConnect, rootCertificates, type ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import { createHash } from 'node:crypto';
import { BerthError } from '../../common/errors.js';
import { underBun } from '../../common/bun.js';
import { fetchable, sendViaFetch } from './fetch-transport.js';
import type { HttpResponse, RawRequest, TlsSettings } from './http-types.js';
import { proxyAuthorization } from './proxy.js';

const DEFAULT_TIMEOUT_MS = 60_000;
const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 16 });
const httpsAgents = new Map<string, HttpsAgent>();

/** An https agent whose connections are tunnelled through an http proxy (CONNECT). */
class TunnelAgent extends HttpsAgent {
  constructor(
    private readonly proxy: URL,
    opts: ConstructorParameters<typeof HttpsAgent>[0],
  ) {
    super(opts);
  }

  // Node's Agent accepts a connection handed over later through the callback.
  override createConnection(
    options: TlsConnectionOptions & { host?: string; port?: number; timeout?: number },
    cb: (err: Error | null, s?: Duplex) => void,
  ): undefined {
    const target = `${options.host}:${options.port ?? 443}`;
    const headers: OutgoingHttpHeaders = { host: target };
    const auth = proxyAuthorization(this.proxy);
    if (auth) headers['proxy-authorization'] = auth;
    const req = httpRequest({
      host: this.proxy.hostname,
      port: Number(this.proxy.port || 80),
      method: 'CONNECT',
      path: target,
      headers,
    });
    // The request's own timeout starts once it has a socket, that is once
    // this is done: until then, a proxy that never answers CONNECT or a far
    // end that never completes the TLS handshake is bounded only here.
    const ms = options.timeout || DEFAULT_TIMEOUT_MS;
    let stage: { destroy(e: Error): void } = req;
    const timer = setTimeout(() => {
      stage.destroy(
        Object.assign(new Error(`no tunnel to ${target} through proxy ${this.proxy.host} within ${ms} ms`), {
          code: 'ETIMEDOUT',
        }),
      );
    }, ms);
    req.once('connect', (res, socket) => {
      if (res.statusCode !== 200) {
        clearTimeout(timer);
        socket.destroy();
        cb(
          Object.assign(
            new Error(
              `proxy ${this.proxy.host} refused CONNECT ${target}: ${res.statusCode} ${res.statusMessage ?? ''}`.trim(),
            ),
            { code: 'EPROXY' },
          ),
        );
        return;
      }
      const tlsSocket = tlsConnect({
        ...options,
        socket,
        servername: options.servername ?? (isIP(options.host ?? '') ? undefined : options.host),
      });
      stage = tlsSocket;
      let done = false;
      tlsSocket.once('secureConnect', () => {
        done = true;
        clearTimeout(timer);
        cb(null, tlsSocket);
      });
      tlsSocket.once('error', (e: Error) => {
        clearTimeout(timer);
        if (!done) cb(e);
      });
    });
    req.once('error', (e) => {
      clearTimeout(timer);
      cb(e);
    });
    req.end();
    return undefined;
  }
}

function agentFor(tls: TlsSettings | undefined, key: string, proxy?: URL): HttpsAgent {
  // One agent (and socket pool) per host and TLS material: a connection
  // verified with one CA set must not serve a request that expects another.
  const h = createHash('sha256');
  for (const c of tls?.ca ?? []) h.update(c).update('\0');
  if (tls?.cert) h.update(tls.cert).update('\0');
  if (tls?.key) h.update(tls.key);
  const id = `${key}|${tls?.insecureSkipVerify ? 'insecure' : 'verify'}|${h.digest('hex')}|${proxy?.href ?? ''}`;
  let a = httpsAgents.get(id);
  if (!a) {
    // Unverified TLS needs no roots: an empty list spares Node loading its
    // bundled root store (~45 ms of CPU) for an insecure local registry.
    const ca = tls?.insecureSkipVerify ? [] : tls?.ca && tls.ca.length > 0 ? [...systemRoots(), ...tls.ca] : undefined;
    const opts = {
      keepAlive: true,
      maxSockets: 16,
      ca,
      cert: tls?.cert,
      key: tls?.key,
      rejectUnauthorized: !tls?.insecureSkipVerify,
    };
    a = proxy ? new TunnelAgent(proxy, opts) : new HttpsAgent(opts);
    httpsAgents.set(id, a);
  }
  return a;
}

// Passing `ca` replaces Node's default roots, so keep them alongside.
function systemRoots(): readonly string[] {
  return rootCertificates;
}

/**
 * Close every pooled connection, http and https (through a proxy too), and
 * forget the https agents. Idle pooled sockets do not keep the process alive,
 * but they stay open until the server closes them: a test that runs its own
 * registry or proxy calls this when done, as does one that rewrites certs.d.
 */
export function resetAgents(): void {
  for (const a of httpsAgents.values()) a.destroy();
  httpsAgents.clear();
  httpAgent.destroy();
}

/** Send one request and resolve with the response head; the body is a stream. */
export function send(req: RawRequest): Promise<HttpResponse> {
  if (underBun && fetchable(req)) return sendViaFetch(req, req.timeoutMs ?? DEFAULT_TIMEOUT_MS, systemRoots);
  return new Promise<IncomingMessage>((resolve, reject) => {
    const isHttps = req.url.protocol === 'https:';
    if (!isHttps && req.url.protocol !== 'http:') {
      reject(new BerthError('image', 'invalid-argument', `unsupported URL scheme in ${req.url.href}`));
      return;
    }
    const headers: OutgoingHttpHeaders = { ...req.headers };
    if (Buffer.isBuffer(req.body)) headers['content-length'] = req.body.length;
    const timeout = req.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    let cr: ClientRequest;
    if (!isHttps && req.proxy) {
      // Plain HTTP through a proxy: the whole URL as the request target.
      headers.host = req.url.host;
      const auth = proxyAuthorization(req.proxy);
      if (auth) headers['proxy-authorization'] = auth;
      cr = httpRequest({
        host: req.proxy.hostname,
        port: Number(req.proxy.port || 80),
        path: req.url.href,
        method: req.method,
        headers,
        agent: httpAgent,
        signal: req.signal,
        timeout,
      });
    } else {
      const opts = {
        method: req.method,
        headers,
        agent: isHttps ? agentFor(req.tls, req.url.host, req.proxy) : httpAgent,
        signal: req.signal,
        // Also handed to the agent's createConnection: it bounds connecting.
        timeout,
      };
      cr = isHttps ? httpsRequest(req.url, opts) : httpRequest(req.url, opts);
    }
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
export async function readBody(res: HttpResponse, limit: number, what: string): Promise<Buffer> {
  const declared = Number(res.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    res.destroy();
    throw new BerthError('image', 'invalid-argument', `${what} is ${declared} bytes, more than the limit of ${limit}`);
  }
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of res) {
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
export function discard(res: HttpResponse): void {
  res.resume();
}

/** True for errors worth retrying: the network, not the request, failed. */
export function isNetworkError(e: unknown): boolean {
  const code = (e as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'string') {
    return e instanceof Error && /socket hang up|aborted|premature close/i.test(e.message);
  }
  return [
    'ECONNRESET',
    'ECONNREFUSED',
    'ETIMEDOUT',
    'EPIPE',
    'EAI_AGAIN',
    'ENETUNREACH',
    'EHOSTUNREACH',
    'ECONNABORTED',
    'ERR_STREAM_PREMATURE_CLOSE',
    'UND_ERR_SOCKET',
  ].includes(code);
}
