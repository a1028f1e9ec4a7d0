// A registry-like HTTP server for hostile cases the real registry never
// produces: wrong bytes, truncated bodies, absurd sizes, wrong media types,
// schema 1, 503s, redirects to another host. Each test sets `hooks`.

import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { BuiltImage } from '../../helpers/registry.js';
import { closeServer, listenLocal } from '../../helpers/servers.js';

export interface Hooks {
  /** Return true when the hook answered the request itself. */
  manifest?: (req: IncomingMessage, res: ServerResponse, n: number) => boolean;
  blob?: (req: IncomingMessage, res: ServerResponse, digest: string, n: number) => boolean;
  ping?: (req: IncomingMessage, res: ServerResponse) => boolean;
}

export interface FakeRegistry {
  host: string;
  url: string;
  hooks: Hooks;
  /** Every request: method, path, headers. */
  log: { method: string; path: string; headers: IncomingMessage['headers'] }[];
  images: Map<string, BuiltImage>; // by tag
  blobs: Map<string, Buffer>;
  /** Upload sessions: id → bytes so far. A PATCH cut short keeps what arrived. */
  uploads: Map<string, Buffer[]>;
  /** Set to cut the next PATCH after this many bytes (then the socket is destroyed). */
  cutPatchAfter?: number;
  /** Request counters handed to the hooks as `n`. */
  manifestCount: number;
  blobCount: Map<string, number>;
  /** Clear hooks, log and counters between tests. */
  reset(): void;
  stop(): Promise<void>;
}

export async function startFakeRegistry(): Promise<FakeRegistry> {
  const fake: FakeRegistry = {
    host: '',
    url: '',
    hooks: {},
    log: [],
    images: new Map(),
    blobs: new Map(),
    manifestCount: 0,
    blobCount: new Map(),
    uploads: new Map(),
    reset: () => {
      fake.hooks = {};
      fake.log.length = 0;
      fake.manifestCount = 0;
      fake.blobCount.clear();
      fake.cutPatchAfter = undefined;
    },
    stop: () => closeServer(server),
  };
  const server: Server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    fake.log.push({ method: req.method ?? '', path: u.pathname + u.search, headers: req.headers });
    if (u.pathname === '/v2/') {
      if (fake.hooks.ping?.(req, res)) return;
      res.writeHead(200, { 'docker-distribution-api-version': 'registry/2.0' }).end('{}');
      return;
    }
    let m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(u.pathname);
    if (m) {
      const n = fake.manifestCount++;
      if (fake.hooks.manifest?.(req, res, n)) return;
      if (req.method === 'PUT') {
        const body: Buffer[] = [];
        req.on('data', (c: Buffer) => body.push(c));
        req.on('end', () => {
          const all = Buffer.concat(body);
          const d = `sha256:${createHash('sha256').update(all).digest('hex')}`;
          fake.blobs.set(d, all);
          res.writeHead(201, { 'docker-content-digest': d, 'content-length': 0 }).end();
        });
        return;
      }
      const ref = decodeURIComponent(m[2]!);
      let img = fake.images.get(ref);
      if (!img) img = [...fake.images.values()].find((i) => i.manifest.digest === ref);
      if (!img) {
        res
          .writeHead(404, { 'content-type': 'application/json' })
          .end(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }));
        return;
      }
      res.writeHead(200, {
        'content-type': img.manifest.mediaType,
        'content-length': img.manifestBytes.length,
        'docker-content-digest': img.manifest.digest,
      });
      res.end(req.method === 'HEAD' ? undefined : img.manifestBytes);
      return;
    }
    if (handleUpload(fake, req, res, u)) return;
    m = /^\/v2\/(.+)\/blobs\/([^/]+)$/.exec(u.pathname);
    if (m) {
      const digest = m[2]!;
      const n = fake.blobCount.get(digest) ?? 0;
      fake.blobCount.set(digest, n + 1);
      if (fake.hooks.blob?.(req, res, digest, n)) return;
      const data = fake.blobs.get(digest);
      if (!data) {
        res.writeHead(404).end();
        return;
      }
      serveRange(req, res, data);
      return;
    }
    res.writeHead(404).end();
  });
  fake.host = `127.0.0.1:${await listenLocal(server)}`;
  fake.url = `http://${fake.host}`;
  return fake;
}

/** Serve bytes honouring a "bytes=N-" Range, as a registry does. */
export function serveRange(req: IncomingMessage, res: ServerResponse, data: Buffer): void {
  const r = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''));
  if (r) {
    const start = Number(r[1]);
    if (start >= data.length) {
      res.writeHead(416).end();
      return;
    }
    res.writeHead(206, {
      'content-length': data.length - start,
      'content-range': `bytes ${start}-${data.length - 1}/${data.length}`,
    });
    res.end(req.method === 'HEAD' ? undefined : data.subarray(start));
    return;
  }
  res.writeHead(200, { 'content-length': data.length, 'content-type': 'application/octet-stream' });
  res.end(req.method === 'HEAD' ? undefined : data);
}

export function addImage(fake: FakeRegistry, tag: string, img: BuiltImage): void {
  fake.images.set(tag, img);
  fake.blobs.set(img.config.digest, img.configBytes);
  for (const l of img.layers) fake.blobs.set(l.digest, l.bytes);
}

let uploadSeq = 0;

/** A lenient upload service: sessions survive broken PATCHes and report their size. */
function handleUpload(fake: FakeRegistry, req: IncomingMessage, res: ServerResponse, u: URL): boolean {
  if (req.method === 'POST' && /^\/v2\/.+\/blobs\/uploads\/$/.test(u.pathname)) {
    const id = `u${++uploadSeq}`;
    fake.uploads.set(id, []);
    req.resume();
    res.writeHead(202, { location: `/upload/${id}`, range: '0--1', 'content-length': 0 }).end();
    return true;
  }
  const m = /^\/upload\/([^/]+)$/.exec(u.pathname);
  if (!m) return false;
  const parts = fake.uploads.get(m[1]!);
  if (!parts) {
    res
      .writeHead(404, { 'content-type': 'application/json' })
      .end(JSON.stringify({ errors: [{ code: 'BLOB_UPLOAD_UNKNOWN', message: 'blob upload unknown' }] }));
    return true;
  }
  const size = () => parts.reduce((n, p) => n + p.length, 0);
  if (req.method === 'GET') {
    res.writeHead(204, { location: `/upload/${m[1]}`, range: `0-${size() - 1}` }).end();
    return true;
  }
  if (req.method === 'PATCH') {
    const cr = /^(\d+)-(\d+)$/.exec(String(req.headers['content-range'] ?? ''));
    if (!cr || Number(cr[1]) !== size()) {
      req.resume();
      res.writeHead(416, { range: `0-${size() - 1}` }).end();
      return true;
    }
    const len = Number(req.headers['content-length']);
    const cut = fake.cutPatchAfter !== undefined && len > fake.cutPatchAfter ? fake.cutPatchAfter : undefined;
    if (cut !== undefined) fake.cutPatchAfter = undefined;
    let got = 0;
    req.on('data', (c: Buffer) => {
      if (cut !== undefined && got + c.length >= cut) {
        parts.push(c.subarray(0, cut - got));
        got = cut;
        req.socket.destroy();
        return;
      }
      if (cut !== undefined && got >= cut) return;
      parts.push(c);
      got += c.length;
    });
    req.on('end', () => {
      res.writeHead(202, { location: `/upload/${m[1]}`, range: `0-${size() - 1}`, 'content-length': 0 }).end();
    });
    return true;
  }
  if (req.method === 'PUT') {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const all = Buffer.concat([...parts, ...chunks]);
      const want = u.searchParams.get('digest') ?? '';
      const got = `sha256:${createHash('sha256').update(all).digest('hex')}`;
      if (got !== want) {
        res.writeHead(400, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            errors: [{ code: 'DIGEST_INVALID', message: 'provided digest did not match uploaded content' }],
          }),
        );
        return;
      }
      fake.blobs.set(want, all);
      fake.uploads.delete(m[1]!);
      res.writeHead(201, { location: `/v2/x/blobs/${want}`, 'docker-content-digest': want, 'content-length': 0 }).end();
    });
    return true;
  }
  return false;
}
