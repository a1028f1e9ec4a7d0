// The Engine API client: HTTP/1.1 over the daemon's unix socket (or tcp://),
// API version negotiation through /_ping's API-Version header, JSON bodies,
// streamed responses (pull progress, logs, events) and hijacked connections
// for attach and exec (HTTP "Upgrade: tcp", then raw bytes both ways).

import http from 'node:http';
import type { Socket } from 'node:net';
import { CliError } from './errors.js';

/** The newest API version this client speaks (docker CLI 28.x). */
export const CLIENT_API_VERSION = '1.50';

export interface Endpoint {
  /** As the user gave it: unix:///var/run/docker.sock, tcp://127.0.0.1:2375 */
  host: string;
  socketPath?: string;
  hostname?: string;
  port?: number;
}

export function parseHost(host: string): Endpoint {
  if (host.startsWith('unix://')) return { host, socketPath: host.slice('unix://'.length) };
  const m = /^(?:tcp|http):\/\/([^:/]+)(?::(\d+))?\/?$/.exec(host);
  if (m) return { host, hostname: m[1], port: m[2] ? Number(m[2]) : 2375 };
  if (host.startsWith('/')) return { host: `unix://${host}`, socketPath: host };
  throw new CliError(`unable to parse docker host \`${host}\``, 1);
}

export interface ApiResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: http.IncomingMessage;
}

export type Query = Record<string, string | number | boolean | undefined | string[]>;

function qs(q: Query | undefined): string {
  if (!q) return '';
  const parts: string[] = [];
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined) continue;
    const vals = Array.isArray(v) ? v : [typeof v === 'boolean' ? (v ? '1' : '0') : String(v)];
    for (const x of vals) parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(x)}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

/** The error the daemon returned, as the docker CLI prints it. */
export class DaemonError extends CliError {
  constructor(
    readonly status: number,
    readonly daemonMessage: string,
  ) {
    super(`Error response from daemon: ${daemonMessage}`, 1);
  }
}

export class Client {
  private version?: string;
  constructor(
    readonly endpoint: Endpoint,
    private fixedVersion?: string,
  ) {}

  get connectError(): string {
    return `Cannot connect to the Docker daemon at ${this.endpoint.host}. Is the docker daemon running?`;
  }

  private options(method: string, path: string, headers: Record<string, string>): http.RequestOptions {
    const e = this.endpoint;
    return {
      method,
      path,
      headers: { 'User-Agent': 'Docker-Client/28.2.2 (linux)', ...headers },
      ...(e.socketPath ? { socketPath: e.socketPath } : { host: e.hostname, port: e.port }),
    };
  }

  /** A raw request with no version prefix. */
  rawRequest(
    method: string,
    path: string,
    opts: { body?: Buffer | NodeJS.ReadableStream; headers?: Record<string, string> } = {},
  ): Promise<ApiResponse> {
    return new Promise((resolve, reject) => {
      const req = http.request(this.options(method, path, opts.headers ?? {}), (res) =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res }),
      );
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (['ENOENT', 'ECONNREFUSED', 'EACCES', 'ENOTSOCK', 'EHOSTUNREACH'].includes(err.code ?? '')) {
          const msg =
            err.code === 'EACCES'
              ? `permission denied while trying to connect to the Docker daemon socket at ${this.endpoint.host}: ${method} ${path}: dial unix ${this.endpoint.socketPath}: connect: permission denied`
              : this.connectError;
          reject(new CliError(msg, 1, { connect: true }));
        } else reject(new CliError(`error during connect: ${err.message}`, 1, { connect: true }));
      });
      if (opts.body && Buffer.isBuffer(opts.body)) req.end(opts.body);
      else if (opts.body) opts.body.pipe(req);
      else req.end();
    });
  }

  /** min(server's API-Version, ours), asked once. */
  async apiVersion(): Promise<string> {
    if (this.fixedVersion) return this.fixedVersion;
    if (this.version) return this.version;
    const res = await this.rawRequest('GET', '/_ping');
    res.body.resume();
    const server = String(res.headers['api-version'] ?? '');
    this.version = server && compareVersions(server, CLIENT_API_VERSION) < 0 ? server : CLIENT_API_VERSION;
    return this.version;
  }

  async request(
    method: string,
    path: string,
    opts: {
      query?: Query;
      json?: unknown;
      body?: Buffer | NodeJS.ReadableStream;
      headers?: Record<string, string>;
    } = {},
  ): Promise<ApiResponse> {
    const v = await this.apiVersion();
    const headers = { ...(opts.headers ?? {}) };
    let body = opts.body;
    if (opts.json !== undefined) {
      body = Buffer.from(JSON.stringify(opts.json));
      headers['Content-Type'] = 'application/json';
    }
    const res = await this.rawRequest(method, `/v${v}${path}${qs(opts.query)}`, { body, headers });
    if (res.status >= 400) {
      const text = await readAll(res.body);
      let msg = text.toString().trim();
      try {
        const j = JSON.parse(msg) as { message?: string };
        if (typeof j.message === 'string') msg = j.message;
      } catch {
        /* plain text */
      }
      throw new DaemonError(res.status, msg || `${res.status} ${http.STATUS_CODES[res.status] ?? ''}`.trim());
    }
    return res;
  }

  async json<T>(
    method: string,
    path: string,
    opts: { query?: Query; json?: unknown; headers?: Record<string, string> } = {},
  ): Promise<T> {
    const res = await this.request(method, path, opts);
    const text = (await readAll(res.body)).toString();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  get<T>(path: string, query?: Query): Promise<T> {
    return this.json<T>('GET', path, { query });
  }

  /** Attach/exec start: an upgraded connection carrying the raw streams. */
  async hijack(path: string, opts: { query?: Query; json?: unknown }): Promise<Socket> {
    const v = await this.apiVersion();
    const body = opts.json === undefined ? undefined : Buffer.from(JSON.stringify(opts.json));
    const headers: Record<string, string> = { Connection: 'Upgrade', Upgrade: 'tcp' };
    if (body) headers['Content-Type'] = 'application/json';
    return new Promise((resolve, reject) => {
      const req = http.request(this.options('POST', `/v${v}${path}${qs(opts.query)}`, headers));
      req.on('upgrade', (_res, socket, head) => {
        if (head.length) socket.unshift(head);
        resolve(socket);
      });
      req.on('response', (res) => {
        readAll(res)
          .then((b) => {
            let msg = b.toString().trim();
            try {
              msg = (JSON.parse(msg) as { message: string }).message ?? msg;
            } catch {
              /* text */
            }
            if ((res.statusCode ?? 0) >= 400) reject(new DaemonError(res.statusCode ?? 0, msg));
            else reject(new CliError(`the daemon did not upgrade the connection (${res.statusCode})`, 1));
          })
          .catch((e: unknown) =>
            reject(e instanceof Error ? e : new CliError(`error reading the daemon's response: ${String(e)}`, 1)),
          );
      });
      req.on('error', () => reject(new CliError(this.connectError, 1, { connect: true })));
      req.end(body);
    });
  }
}

export function readAll(s: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => resolve(Buffer.concat(chunks)));
    s.on('error', reject);
  });
}

/** The non-empty lines of a streamed body. */
export async function* textLines(s: NodeJS.ReadableStream): AsyncGenerator<string> {
  let buf = '';
  for await (const chunk of s as AsyncIterable<Buffer>) {
    buf += chunk.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line) yield line;
    }
  }
  if (buf.trim()) yield buf.trim();
}

/** Newline-delimited JSON objects from a streamed body. */
export async function* jsonLines<T>(s: NodeJS.ReadableStream): AsyncGenerator<T> {
  for await (const line of textLines(s)) yield JSON.parse(line) as T;
}

export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d) return d;
  }
  return 0;
}
