// A registry-like HTTP server for hostile cases the real registry never
// produces: wrong bytes, truncated bodies, absurd sizes, wrong media types,
// schema 1, 503s, redirects to another host. Each test sets `hooks`.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { BuiltImage } from '../../helpers/registry.js';

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
  /** Request counters handed to the hooks as `n`. */
  manifestCount: number;
  blobCount: Map<string, number>;
  /** Clear hooks, log and counters between tests. */
  reset(): void;
  stop(): Promise<void>;
}

export async function startFakeRegistry(): Promise<FakeRegistry> {
  const fake: FakeRegistry = {
    host: '', url: '', hooks: {}, log: [], images: new Map(), blobs: new Map(), manifestCount: 0, blobCount: new Map(),
    reset: () => {
      fake.hooks = {};
      fake.log.length = 0;
      fake.manifestCount = 0;
      fake.blobCount.clear();
    },
    stop: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
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
      const ref = decodeURIComponent(m[2]!);
      let img = fake.images.get(ref);
      if (!img) img = [...fake.images.values()].find((i) => i.manifest.digest === ref);
      if (!img) {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }));
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
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  const port = typeof a === 'object' && a ? a.port : 0;
  fake.host = `127.0.0.1:${port}`;
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
    res.writeHead(206, { 'content-length': data.length - start, 'content-range': `bytes ${start}-${data.length - 1}/${data.length}` });
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
