// Unary gRPC calls over one node:http2 session to a unix socket, without
// grpc-js's call stack (resolver, load balancer, interceptors, retries,
// filters). grpc-js costs ~0.7 ms of CPU per unary call here; a `docker run`
// makes about ten of them on its path, and 20 at once pay it 200 times on a
// machine where CPU is what runs out (bench/daemon.ts). The wire is gRPC's
// own (PROTOCOL-HTTP2): a POST to /<service>/<method> with
// `content-type: application/grpc` and `te: trailers`, the request as one
// length-prefixed message, the answer's message, then `grpc-status` and
// `grpc-message` in the trailers (or in the headers, for a Trailers-Only
// answer). Messages are (de)serialized by the same functions grpc-js is
// given (src/api/load.ts), so objects come back exactly as before. Streams
// (Events, Content.Read/Write) stay on grpc-js.

import * as http2 from 'node:http2';
import { connect as netConnect } from 'node:net';
import { status as Status, Metadata, type ServiceError } from '@grpc/grpc-js';

/** grpc-js's limit, kept: a larger answer is refused, not buffered without end. */
const MAX_MESSAGE = 64 * 1024 * 1024;

/** An error shaped as grpc-js raises them (`code`, `details`, `metadata`), so src/client/errors.ts maps it alike. */
export function callError(code: number, details: string): ServiceError {
  return Object.assign(new Error(`${code} ${Status[code] ?? 'UNKNOWN'}: ${details}`), {
    code,
    details,
    metadata: new Metadata(),
  });
}

/** The socket path of a unix target ("unix:///x", "unix:/x", "unix:x", "/x"); undefined for any other target. */
export function unixPath(address: string): string | undefined {
  if (address.startsWith('unix://')) return address.slice('unix://'.length);
  if (address.startsWith('unix:')) return address.slice('unix:'.length);
  if (address.startsWith('/')) return address;
  return undefined;
}

/** gRPC's timeout header: at most 8 digits and a unit. */
function timeoutHeader(ms: number): string {
  const m = Math.max(1, Math.ceil(ms));
  return m < 1e8 ? `${m}m` : `${Math.min(Math.ceil(m / 1000), 99_999_999)}S`;
}

function grpcMessage(v: string | string[] | undefined): string {
  const s = Array.isArray(v) ? v.join(',') : (v ?? '');
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export interface UnaryRequest {
  /** "/containerd.services.images.v1.Images/Get" */
  path: string;
  body: Buffer;
  headers: Record<string, string>;
  /** Infinity: no deadline. */
  timeoutMs: number;
}

export class UnaryChannel {
  private session?: http2.ClientHttp2Session;
  /** Why the session went, for the calls it took down ("connect ENOENT /run/x.sock"). */
  private lastError = '';
  private inflight = 0;
  private closed = false;

  constructor(private readonly path: string) {}

  private connect(): http2.ClientHttp2Session {
    const known = this.session;
    if (known && !known.closed && !known.destroyed) return known;
    const s = http2.connect('http://localhost', { createConnection: () => netConnect(this.path) });
    const drop = () => {
      if (this.session === s) this.session = undefined;
    };
    s.on('error', (e: Error) => {
      this.lastError = e.message;
      drop();
    });
    s.on('goaway', drop);
    s.on('close', drop);
    // Idle, the connection keeps no process alive (a CLI ends when its work is done); a call in flight does.
    if (this.inflight === 0) s.unref();
    this.session = s;
    return s;
  }

  private hold(s: http2.ClientHttp2Session): void {
    if (this.inflight++ === 0) s.ref();
  }

  private release(s: http2.ClientHttp2Session): void {
    if (--this.inflight === 0 && !s.destroyed) s.unref();
  }

  call(req: UnaryRequest): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      if (this.closed) {
        reject(callError(Status.UNAVAILABLE, 'the connection was closed'));
        return;
      }
      const s = this.connect();
      this.hold(s);
      const headers: http2.OutgoingHttpHeaders = {
        ':method': 'POST',
        ':path': req.path,
        'content-type': 'application/grpc',
        te: 'trailers',
        ...req.headers,
      };
      if (req.timeoutMs !== Infinity) headers['grpc-timeout'] = timeoutHeader(req.timeoutMs);
      let stream: http2.ClientHttp2Stream;
      try {
        stream = s.request(headers);
      } catch (e) {
        this.release(s);
        reject(callError(Status.UNAVAILABLE, this.lastError || (e as Error).message));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      let code: number | undefined;
      let message = '';
      let answered = false;
      let done = false;
      const finish = (err: Error | undefined, res?: Buffer) => {
        if (done) return;
        done = true;
        if (timer) clearTimeout(timer);
        this.release(s);
        if (err) reject(err);
        else resolve(res!);
      };
      const timer =
        req.timeoutMs === Infinity
          ? undefined
          : setTimeout(() => {
              stream.close(http2.constants.NGHTTP2_CANCEL);
              finish(callError(Status.DEADLINE_EXCEEDED, 'Deadline exceeded'));
            }, req.timeoutMs);
      const status = (h: http2.IncomingHttpHeaders) => {
        if (h['grpc-status'] === undefined) return;
        code = Number(h['grpc-status']);
        message = grpcMessage(h['grpc-message']);
      };
      stream.on('response', (h) => {
        answered = true;
        const http = Number(h[':status']);
        // gRPC's mapping of an HTTP status that is not a gRPC answer at all
        if (http !== 200 && h['grpc-status'] === undefined) {
          const c =
            http === 401 ? 16 : http === 403 ? 7 : http === 404 ? 12 : [429, 502, 503, 504].includes(http) ? 14 : 2;
          finish(callError(c, `Received HTTP status code ${http}`));
          stream.close(http2.constants.NGHTTP2_CANCEL);
          return;
        }
        status(h);
      });
      stream.on('trailers', status);
      stream.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_MESSAGE + 5) {
          finish(callError(Status.RESOURCE_EXHAUSTED, `Received message larger than max (${size} vs ${MAX_MESSAGE})`));
          stream.close(http2.constants.NGHTTP2_CANCEL);
          return;
        }
        chunks.push(c);
      });
      stream.on('error', (e: Error) => {
        // Before any answer the connection is what failed (no socket, refused, gone).
        if (!answered) finish(callError(Status.UNAVAILABLE, this.lastError || e.message));
        else finish(callError(Status.INTERNAL, e.message));
      });
      stream.on('close', () => {
        if (done) return;
        if (code === undefined) {
          const why = this.lastError || 'the stream ended without a status';
          finish(callError(answered ? Status.INTERNAL : Status.UNAVAILABLE, why));
          return;
        }
        if (code !== 0) {
          finish(callError(code, message));
          return;
        }
        const buf = Buffer.concat(chunks, size);
        if (buf.length < 5 || buf[0] !== 0 || 5 + buf.readUInt32BE(1) !== buf.length) {
          finish(callError(Status.INTERNAL, 'the answer is not one uncompressed gRPC message'));
          return;
        }
        finish(undefined, buf.subarray(5));
      });
      const frame = Buffer.allocUnsafe(5 + req.body.length);
      frame[0] = 0;
      frame.writeUInt32BE(req.body.length, 1);
      req.body.copy(frame, 5);
      stream.end(frame);
    });
  }

  close(): void {
    this.closed = true;
    this.session?.close();
    this.session = undefined;
  }
}
