// The registry transport as the Bun executables run it (bin/berth-ctr,
// berth-engine, berthd): requests without a body go through Bun's fetch
// (src/image/registry/fetch-transport.ts), the others through node:http.
// Under Node.js (npm test's runner) these skip; ./under-bun.test.ts runs this
// file, and the registry suites, with `bun test`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, IncomingMessage, type IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import { underBun } from '../../../src/common/bun.js';
import { readBody, send } from '../../../src/image/registry/transport.js';
import { closeServer, listenLocal } from '../../helpers/servers.js';

const skip = underBun ? false : 'Bun only: ./under-bun.test.ts runs this file with `bun test`';

/** A server that answers with `handler`, and keeps every request's headers and every connection. */
async function serve(handler: Parameters<typeof createServer>[1]) {
  const seen: IncomingHttpHeaders[] = [];
  const conns: Socket[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers);
    // A client that drops the connection is what some tests want.
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    handler!(req, res);
  });
  server.on('connection', (s: Socket) => {
    s.on('error', () => undefined);
    conns.push(s);
  });
  server.on('clientError', () => undefined);
  const port = await listenLocal(server);
  return { url: new URL(`http://127.0.0.1:${port}/v2/x/blobs/sha256:1`), seen, conns, stop: () => closeServer(server) };
}

test('a GET goes through fetch, a request with a body through node:http', { skip }, async () => {
  const s = await serve((req, res) => {
    req.resume();
    req.on('end', () => res.end('ok'));
  });
  try {
    const get = await send({ method: 'GET', url: s.url });
    assert.equal(get instanceof IncomingMessage, false);
    assert.equal((await readBody(get, 10, 'body')).toString(), 'ok');
    const put = await send({ method: 'PUT', url: s.url, body: Buffer.from('data') });
    assert.equal(put instanceof IncomingMessage, true);
    assert.equal((await readBody(put, 10, 'body')).toString(), 'ok');
  } finally {
    await s.stop();
  }
});

test('the body arrives as the server sent it: no compression asked for, none undone', { skip }, async () => {
  const plain = Buffer.from('{"schemaVersion":2}'.repeat(100));
  const s = await serve((req, res) => {
    // A server (or a CDN in front of one) that compresses whenever the client allows it.
    if (/gzip/.test(String(req.headers['accept-encoding'] ?? ''))) {
      res.writeHead(200, { 'content-encoding': 'gzip' }).end(gzipSync(plain));
    } else if (req.url?.endsWith('/gz')) {
      res.writeHead(200, { 'content-encoding': 'gzip' }).end(gzipSync(plain));
    } else {
      res.end(plain);
    }
  });
  try {
    const res = await send({ method: 'GET', url: s.url, headers: { 'user-agent': 'test' } });
    assert.deepEqual(await readBody(res, 1 << 20, 'body'), plain);
    assert.equal(s.seen[0]!['accept-encoding'], 'identity');
    assert.equal(s.seen[0]!['user-agent'], 'test');
    // Sent compressed anyway: the bytes on the wire, as node:http hands them over.
    const gz = await send({ method: 'GET', url: new URL('/gz', s.url) });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.deepEqual(await readBody(gz, 1 << 20, 'body'), gzipSync(plain));
  } finally {
    await s.stop();
  }
});

test('a reader that stops early drops the connection; resume() drains and keeps it', { skip }, async () => {
  const chunk = Buffer.alloc(256 << 10, 'x');
  const s = await serve((req, res) => {
    if (req.url?.endsWith('/small')) {
      res.end('ok');
      return;
    }
    // 64 MiB, a chunk at a time: far more than the client reads.
    res.writeHead(200, { 'content-length': 256 * chunk.length });
    let n = 0;
    const more = (): void => {
      while (n < 256) {
        n++;
        if (!res.write(chunk)) {
          res.once('drain', more);
          return;
        }
      }
      res.end();
    };
    more();
  });
  try {
    const res = await send({ method: 'GET', url: s.url });
    for await (const c of res) {
      assert.ok(c.length > 0);
      break;
    }
    assert.equal(s.conns.length, 1);
    const conn = s.conns[0]!;
    // (events.once would reject on the reset the server sees: wait for 'close' alone.)
    if (!conn.destroyed) await new Promise((r) => conn.once('close', r));
    // A body read to its end (here by resume) leaves its connection open for the next request.
    const small = await send({ method: 'GET', url: new URL('/small', s.url) });
    small.resume();
    const again = await send({ method: 'GET', url: new URL('/small', s.url) });
    assert.equal((await readBody(again, 10, 'body')).toString(), 'ok');
    assert.equal(s.conns.length, 2);
  } finally {
    await s.stop();
  }
});

test('a refused connection is a network error with node:http’s code', { skip }, async () => {
  const s = await serve((_req, res) => res.end());
  const url = s.url;
  await s.stop();
  await assert.rejects(send({ method: 'GET', url }), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'ECONNREFUSED');
    assert.match(e.message, /GET 127\.0\.0\.1:\d+/);
    return true;
  });
});
