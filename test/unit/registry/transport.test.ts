import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { Socket } from 'node:net';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { readBody, resetAgents, send } from '../../../src/image/registry/transport.js';

test('resetAgents closes the idle connections the client pools for reuse', async () => {
  const server = createServer((_req, res) => res.end('ok'));
  // The server itself would close an idle connection after this long.
  server.keepAliveTimeout = 60_000;
  const conns: Socket[] = [];
  server.on('connection', (s: Socket) => conns.push(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const url = new URL(`http://127.0.0.1:${(server.address() as { port: number }).port}/v2/`);
    for (let i = 0; i < 2; i++) {
      const res = await send({ method: 'GET', url });
      assert.equal((await readBody(res, 100, 'body')).toString(), 'ok');
    }
    // Kept alive: one connection served both requests and is still open.
    assert.equal(conns.length, 1);
    assert.equal(conns[0]!.destroyed, false);
    const closed = once(conns[0]!, 'close');
    resetAgents();
    const stop = new AbortController();
    const late = sleep(2000, undefined, { signal: stop.signal }).then(() => {
      throw new Error('the connection is still open 2 s after resetAgents');
    });
    try {
      await Promise.race([closed, late]);
    } finally {
      stop.abort();
      late.catch(() => undefined);
    }
  } finally {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
});
