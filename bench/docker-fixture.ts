// A bench-only Docker Engine API server that answers every call `docker run
// --rm IMG CMD` makes at once, with replies shaped as dockerd's, so that the
// docker CLI's own cost (its start, config, the HTTP round trips, the attach
// hijack) can be timed with no daemon work behind it (bench/docker-floor.ts).
// It does nothing: the "container" exits with 0 the moment it is started.
// Never used outside bench/: it is not a daemon and keeps no state but the
// calls in flight.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { randomBytes } from 'node:crypto';

const API_VERSION = '1.50';

interface Pending {
  /** Attach streams to end once the container "exits". */
  attached: Socket[];
  /** Wait responses (headers sent) to finish with the exit code. */
  waiting: ServerResponse[];
}

export interface Fixture {
  /** Method and path (without the version prefix or query) of every call so far. */
  calls: string[];
  close(): Promise<void>;
}

/** Serves on the unix socket `sock` until close(). */
export async function startFixture(sock: string): Promise<Fixture> {
  const calls: string[] = [];
  const containers = new Map<string, Pending>();
  const of = (id: string): Pending => {
    let p = containers.get(id);
    if (!p) containers.set(id, (p = { attached: [], waiting: [] }));
    return p;
  };
  const route = (req: IncomingMessage) => {
    const url = new URL(req.url ?? '/', 'http://docker');
    const path = url.pathname.replace(/^\/v1\.\d+/, '');
    calls.push(`${req.method} ${path}`);
    const m = /^\/containers\/([0-9a-f]{64})\/(\w+)$/.exec(path);
    return { path, id: m?.[1], verb: m?.[2] };
  };
  const exit = (id: string) => {
    const p = of(id);
    // the stream ends before the wait answers, as the container's output ends before its removal
    for (const s of p.attached.splice(0)) s.end();
    setImmediate(() => {
      for (const w of p.waiting.splice(0)) w.end('{"Error":null,"StatusCode":0}\n');
      containers.delete(id);
    });
  };
  const server = createServer((req, res) => {
    const { path, id, verb } = route(req);
    req.resume(); // the create's body is not read: any body gets the same answer
    req.on('end', () => {
      if (path === '/_ping') {
        res.writeHead(200, {
          'Api-Version': API_VERSION,
          'Docker-Experimental': 'false',
          Ostype: 'linux',
          'Builder-Version': '1',
          Swarm: 'inactive',
          'Content-Type': 'text/plain; charset=utf-8',
        });
        res.end(req.method === 'HEAD' ? undefined : 'OK');
      } else if (req.method === 'POST' && path === '/containers/create') {
        res.writeHead(201, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ Id: randomBytes(32).toString('hex'), Warnings: [] }) + '\n');
      } else if (id && verb === 'wait') {
        // dockerd sends the headers at once (the client's wait is then in place) and the body at the exit
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.flushHeaders();
        of(id).waiting.push(res);
      } else if (id && verb === 'start') {
        res.writeHead(204);
        res.end();
        exit(id);
      } else {
        res.writeHead(404, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ message: `page not found: ${req.method} ${path}` }) + '\n');
      }
    });
  });
  // `docker run` attaches with `Connection: Upgrade, Upgrade: tcp`: 101, then the raw stream
  server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
    const { id, verb } = route(req);
    if (!id || verb !== 'attach') {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    socket.write(
      'HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\n' +
        'Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n',
    );
    socket.on('error', () => undefined);
    of(id).attached.push(socket);
  });
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(sock, () => res());
  });
  return {
    calls,
    close: () =>
      new Promise<void>((res) => {
        server.closeAllConnections();
        server.close(() => res());
      }),
  };
}
