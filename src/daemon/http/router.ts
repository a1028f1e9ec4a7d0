// The Engine API's routing: every path is served both bare and under a
// /v1.NN/ prefix, the prefix's version is checked against what berthd speaks
// (dockerd's words when it is out of range), JSON bodies are read with a size
// bound, and every failure becomes dockerd's {"message": ...} with its status.
// Hijacked streams (attach, exec start) arrive as HTTP upgrades and get the
// same routing.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex, Readable, Writable } from 'node:stream';
import { underBun } from '../../common/bun.js';
import type { Logger } from '../../common/log.js';
import { messageOf } from '../../common/errors.js';
import { HttpError, badRequest, errorBody, statusOf } from './errors.js';
import { scanOversized, syntaxError } from './json-scan.js';

export const MIN_API_VERSION = '1.24';
export const API_VERSION = '1.50';
/** JSON bodies above this are refused (413) without being buffered. */
export const MAX_JSON_BODY = 16 * 1024 * 1024;

export function compareVersions(a: string, b: string): number {
  const [am = 0, an = 0] = a.split('.').map(Number);
  const [bm = 0, bn = 0] = b.split('.').map(Number);
  return am - bm || an - bn;
}

/** A hijacked connection: what the client sends, and where the stream goes. */
export interface Hijacked {
  input: Readable;
  output: Writable;
  /** End the stream (half-close for an upgraded socket, end of body otherwise). */
  end(): void;
  closed: Promise<void>;
}

export interface Ctx {
  req: IncomingMessage;
  params: Record<string, string>;
  query: URLSearchParams;
  /** The API version of the request (the path's, else the newest). */
  version: string;
  log: Logger;
  /** The body as JSON; an empty body is `undefined`. */
  json<T>(): Promise<T | undefined>;
  /** The raw body as a stream (image load, archive PUT). */
  body(): Readable;
  /** A JSON answer (or `raw` text as it is). */
  send(status: number, body?: unknown, headers?: Record<string, string>, raw?: string): void;
  /** Start a streamed response (pull progress, logs, events). */
  stream(status: number, contentType: string, headers?: Record<string, string>): Writable;
  /** Take over the connection for attach/exec (101 when the client asked to upgrade). */
  hijack(contentType: string): Hijacked;
  readonly upgraded: boolean;
}

export type Handler = (ctx: Ctx) => Promise<void>;

interface Route {
  method: string;
  re: RegExp;
  names: string[];
  handler: Handler;
}

export function boolParam(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  if (v === null) return false;
  return !['', '0', 'no', 'false', 'none'].includes(v.toLowerCase());
}

function parseJson<T>(text: string): T | undefined {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    // in Go's words, as dockerd answers
    throw badRequest(syntaxError(text) ?? `invalid JSON: ${messageOf(e)}`);
  }
}

/** `len` bytes from `head` then the socket; what comes after is put back. */
async function readExactly(socket: Readable, head: Buffer | undefined, len: number): Promise<Buffer> {
  let buf = head ?? Buffer.alloc(0);
  while (buf.length < len) {
    const chunk = await new Promise<Buffer | null>((res) => {
      const onData = (d: Buffer) => {
        socket.pause();
        cleanup();
        res(d);
      };
      const onEnd = () => {
        cleanup();
        res(null);
      };
      const cleanup = () => {
        socket.off('data', onData);
        socket.off('end', onEnd);
        socket.off('close', onEnd);
      };
      socket.on('data', onData);
      socket.once('end', onEnd);
      socket.once('close', onEnd);
      socket.resume();
    });
    if (!chunk) break;
    buf = Buffer.concat([buf, chunk]);
  }
  if (buf.length > len) socket.unshift(buf.subarray(len));
  return buf.subarray(0, len);
}

export class Router {
  private readonly routes: Route[] = [];

  constructor(private readonly log: Logger) {}

  add(method: string, pattern: string, handler: Handler): this {
    const names: string[] = [];
    // "{name}" matches one segment; "{name:.*}" anything (image names hold slashes).
    const src = pattern.replace(/\{(\w+)(?::([^}]+))?\}/g, (_, n: string, re?: string) => {
      names.push(n);
      return `(${re ?? '[^/]+'})`;
    });
    this.routes.push({ method, re: new RegExp(`^${src}$`), names, handler });
    return this;
  }

  private match(method: string, path: string): { route: Route; params: Record<string, string> } | 'method' | undefined {
    let pathMatched = false;
    for (const route of this.routes) {
      const m = route.re.exec(path);
      if (!m) continue;
      pathMatched = true;
      if (route.method !== method && !(method === 'HEAD' && route.method === 'GET')) continue;
      const params: Record<string, string> = {};
      route.names.forEach((n, i) => (params[n] = decodeURIComponent(m[i + 1] ?? '')));
      return { route, params };
    }
    return pathMatched ? 'method' : undefined;
  }

  /** Serve a plain request (res) or an upgraded one (socket). */
  async serve(req: IncomingMessage, res: ServerResponse | undefined, socket?: Duplex, head?: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://berthd');
    let path = url.pathname;
    let version = API_VERSION;
    const vm = /^\/v([0-9]+\.[0-9]+)(\/.*)$/.exec(path);
    let responded = false;
    const ctx = this.context(req, res, socket, head, url, () => (responded = true));
    try {
      if (vm) {
        version = vm[1]!;
        path = vm[2]!;
        if (compareVersions(version, API_VERSION) > 0) {
          throw badRequest(`client version ${version} is too new. Maximum supported API version is ${API_VERSION}`);
        }
        if (compareVersions(version, MIN_API_VERSION) < 0) {
          throw badRequest(
            `client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`,
          );
        }
      }
      (ctx as { version: string }).version = version;
      const m = this.match(req.method ?? 'GET', path);
      if (m === undefined) throw new HttpError(404, 'page not found');
      if (m === 'method') throw new HttpError(405, 'method not allowed');
      ctx.params = m.params;
      await m.route.handler(ctx);
    } catch (e) {
      const status = statusOf(e);
      this.log.log(status >= 500 ? 'error' : 'debug', 'request failed', {
        method: req.method,
        path: url.pathname,
        status,
        error: messageOf(e),
      });
      if (!responded) {
        try {
          ctx.send(status, undefined, {}, errorBody(e));
        } catch {
          /* the connection is gone */
        }
      } else if (res && !res.writableEnded) {
        res.destroy();
      } else {
        socket?.destroy();
      }
    }
  }

  private context(
    req: IncomingMessage,
    res: ServerResponse | undefined,
    socket: Duplex | undefined,
    headIn: Buffer | undefined,
    url: URL,
    markResponded: () => void,
  ): Ctx {
    const log = this.log;
    let head = headIn;
    let bodyTaken = false;
    const takeBody = () => {
      if (bodyTaken) throw new Error('request body read twice');
      bodyTaken = true;
      return req;
    };
    const writeHead = (status: number, headers: Record<string, string>) => {
      markResponded();
      if (res) {
        res.writeHead(status, { 'Api-Version': API_VERSION, Server: 'Docker/berthd (linux)', ...headers });
        return;
      }
      const reason = status === 101 ? 'UPGRADED' : status < 300 ? 'OK' : 'Error';
      const lines = [
        `HTTP/1.1 ${status} ${reason}`,
        `Api-Version: ${API_VERSION}`,
        ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
      ];
      socket!.write(lines.join('\r\n') + '\r\n\r\n');
    };
    return {
      req,
      params: {},
      query: url.searchParams,
      version: API_VERSION,
      log,
      upgraded: !res,
      async json<T>(): Promise<T | undefined> {
        const len = Number(req.headers['content-length'] ?? 0);
        if (len > MAX_JSON_BODY) {
          // Too large to keep: read as it comes for its first syntax error, as dockerd's decoder would
          // refuse it (json-scan.ts), else refused by its size.
          bodyTaken = true;
          const syntax = await scanOversized(req, MAX_JSON_BODY);
          if (syntax) throw badRequest(syntax);
          throw new HttpError(413, `request body of ${len} bytes is over the limit of ${MAX_JSON_BODY} bytes`);
        }
        if (socket) {
          // An upgrade request's body is on the socket (the first bytes in
          // `head`) in Node.js; Bun hands it to `req` and only what follows
          // it to the socket.
          bodyTaken = true;
          const from = underBun ? req : socket;
          const text = (await readExactly(from, underBun ? undefined : head, len)).toString('utf8').trim();
          head = undefined;
          return parseJson<T>(text);
        }
        const chunks: Buffer[] = [];
        let n = 0;
        for await (const c of takeBody() as AsyncIterable<Buffer>) {
          n += c.length;
          if (n > MAX_JSON_BODY) throw new HttpError(413, `request body is over the limit of ${MAX_JSON_BODY} bytes`);
          chunks.push(c);
        }
        return parseJson<T>(Buffer.concat(chunks).toString('utf8').trim());
      },
      body: () => takeBody(),
      send(status: number, body?: unknown, headers: Record<string, string> = {}, raw?: string) {
        const text = raw ?? (body === undefined ? '' : JSON.stringify(body) + '\n');
        const h: Record<string, string> = { ...headers };
        if (text) h['Content-Type'] ??= 'application/json';
        h['Content-Length'] = String(Buffer.byteLength(text));
        if (!res) h.Connection = 'close';
        writeHead(status, h);
        if (res) res.end(req.method === 'HEAD' ? undefined : text);
        else socket!.end(text);
      },
      stream(status, contentType, headers = {}) {
        writeHead(status, { ...headers, 'Content-Type': contentType, ...(res ? {} : { Connection: 'close' }) });
        if (res) {
          res.flushHeaders();
          return res;
        }
        return socket!;
      },
      hijack(contentType): Hijacked {
        if (socket) {
          writeHead(101, { 'Content-Type': contentType, Connection: 'Upgrade', Upgrade: 'tcp' });
          if (head?.length) socket.unshift(head);
          return {
            input: socket,
            output: socket,
            end: () => socket.end(),
            closed: new Promise((r) => socket.once('close', () => r())),
          };
        }
        // A client that did not ask to upgrade gets the stream as the response body.
        writeHead(200, { 'Content-Type': contentType });
        res!.flushHeaders();
        return {
          input: takeBody(),
          output: res!,
          end: () => res!.end(),
          closed: new Promise((r) => res!.once('close', () => r())),
        };
      },
    };
  }
}
