// The http servers that tests run in-process (proxies, fake registries,
// token servers): listening on loopback only, and closing for good.
// server.close() waits for every connection to end, and the registry client
// keeps idle connections open for reuse, so a server must drop its
// connections itself, or the test process stays alive.

import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/** Listen on 127.0.0.1 (on `port`, or a free one) and resolve with the port. */
export async function listenLocal(server: Server, port = 0): Promise<number> {
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

/**
 * Close `server` with all its connections: the ones it tracks, and `hijacked`
 * sockets it let go of (a CONNECT tunnel's client and upstream sockets).
 * Rejects when the server has still not closed after `withinMs`: a connection
 * left open would keep the process alive, which the runner's forced exit
 * would otherwise hide.
 */
export async function closeServer(server: Server, hijacked: Iterable<Socket> = [], withinMs = 5000): Promise<void> {
  for (const s of hijacked) s.destroy();
  server.closeAllConnections();
  const where = JSON.stringify(server.address());
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      // An error here only says the server was not listening: closed either way.
      new Promise<void>((resolve) => server.close(() => resolve())),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`server ${where} still has open connections after ${withinMs} ms`)),
          withinMs,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
