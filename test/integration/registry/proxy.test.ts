// Registries behind an http proxy: https through a CONNECT tunnel (verified
// TLS end to end), plain http in absolute form, proxy credentials, NO_PROXY.
// The registry is addressed as "registry.test:PORT", a name only the proxy
// knows (it maps it to 127.0.0.1), so a request that bypassed the proxy fails.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import { connect, createServer as createNetServer, type Socket } from 'node:net';
import { mkdirSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { pullImage } from '../../../src/image/pull.js';
import { pushImage } from '../../../src/image/push.js';
import { resetAgents } from '../../../src/image/registry/transport.js';
import {
  buildImage,
  registryMissing,
  startRegistry,
  storeImage,
  type RegistryInstance,
} from '../../helpers/registry.js';
import { closeServer, listenLocal } from '../../helpers/servers.js';
import { scratchStores } from '../../helpers/stores.js';

const skip = registryMissing;
let plain: RegistryInstance;
let secure: RegistryInstance;
let proxy: Server;
let proxyPort: number;
const { dir: tmp, newStore } = scratchStores('berth-proxy-');
const seen: { kind: 'CONNECT' | 'HTTP'; target: string; auth?: string }[] = [];
let requireAuth: string | undefined;
// Tunnelled sockets leave the http server's bookkeeping (closeAllConnections
// does not see them), and the client keeps its idle tunnels open for reuse:
// both ends are tracked from the moment they exist and destroyed at the end.
const tunnels = new Set<Socket>();
function track(s: Socket): void {
  tunnels.add(s);
  s.once('close', () => tunnels.delete(s));
}

function mapTarget(hostport: string): { host: string; port: number } | undefined {
  const m = /^registry\.test:(\d+)$/.exec(hostport);
  return m ? { host: '127.0.0.1', port: Number(m[1]) } : undefined;
}

before(async () => {
  if (skip) return;
  plain = await startRegistry();
  secure = await startRegistry({ tls: true });
  proxy = createServer((req, res) => {
    const u = new URL(req.url ?? '/');
    seen.push({ kind: 'HTTP', target: u.host, auth: req.headers['proxy-authorization'] });
    if (requireAuth && req.headers['proxy-authorization'] !== requireAuth) {
      res.writeHead(407, { 'proxy-authenticate': 'Basic realm="p"' }).end();
      return;
    }
    const t = mapTarget(u.host);
    if (!t) {
      res.writeHead(502).end();
      return;
    }
    const headers = { ...req.headers };
    delete headers['proxy-authorization'];
    const up = request(
      { host: t.host, port: t.port, method: req.method, path: u.pathname + u.search, headers },
      (ur) => {
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        ur.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  proxy.on('connect', (req, socket, head) => {
    track(socket as Socket);
    seen.push({ kind: 'CONNECT', target: req.url ?? '', auth: req.headers['proxy-authorization'] });
    if (requireAuth && req.headers['proxy-authorization'] !== requireAuth) {
      socket.end('HTTP/1.1 407 Proxy Authentication Required\r\n\r\n');
      return;
    }
    const t = mapTarget(req.url ?? '');
    if (!t) {
      socket.end('HTTP/1.1 502 Bad Gateway\r\n\r\n');
      return;
    }
    const up = connect(t.port, t.host, () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length) up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    track(up);
    up.on('error', () => socket.destroy());
    socket.on('error', () => up.destroy());
  });
  proxyPort = await listenLocal(proxy);
});

after(async () => {
  try {
    // Before the registries stop, so that only this closes the tunnels: the
    // client's pooled connections (tunnels among them), then the proxy's.
    resetAgents();
    if (proxy) await closeServer(proxy, tunnels);
  } finally {
    await plain?.stop();
    await secure?.stop();
  }
});

test('https through a CONNECT tunnel, verified against the CA in certs.d', { skip }, async () => {
  const name = `registry.test:${secure.port}`;
  const certsDir = join(tmp, 'certs.d');
  mkdirSync(join(certsDir, name), { recursive: true });
  copyFileSync(secure.pki!.caCert, join(certsDir, name, 'ca.crt'));
  const opts = {
    credentials: async () => undefined,
    certsDir,
    insecureRegistries: [] as string[],
    retryBaseMs: 10,
    proxy: { httpsProxy: `http://127.0.0.1:${proxyPort}` },
  };
  const img = buildImage({ label: 'via-connect' });
  const src = newStore();
  await storeImage(src, img);
  seen.length = 0;
  await pushImage(`${name}/proxied/app:1`, { store: src, target: img.manifest, registryOptions: opts });
  const res = await pullImage(`${name}/proxied/app:1`, { store: newStore(), registryOptions: opts });
  assert.equal(res.manifest.digest, img.manifest.digest);
  assert.ok(seen.length > 0 && seen.every((s) => s.kind === 'CONNECT' && s.target === name));
});

test('plain http in absolute form, with proxy credentials', { skip }, async () => {
  const name = `registry.test:${plain.port}`;
  requireAuth = 'Basic ' + Buffer.from('px:secret word').toString('base64');
  try {
    const opts = {
      credentials: async () => undefined,
      insecureRegistries: [name],
      retryBaseMs: 10,
      proxy: {
        httpProxy: `http://px:secret%20word@127.0.0.1:${proxyPort}`,
        httpsProxy: `http://px:secret%20word@127.0.0.1:${proxyPort}`,
      },
    };
    const img = buildImage({ label: 'via-http' });
    const src = newStore();
    await storeImage(src, img);
    seen.length = 0;
    await pushImage(`${name}/proxied/plain:1`, { store: src, target: img.manifest, registryOptions: opts });
    const res = await pullImage(`${name}/proxied/plain:1`, { store: newStore(), registryOptions: opts });
    assert.equal(res.manifest.digest, img.manifest.digest);
    assert.ok(
      seen.some((s) => s.kind === 'HTTP'),
      'absolute-form requests',
    );
    assert.ok(seen.every((s) => s.auth === requireAuth));
  } finally {
    requireAuth = undefined;
  }
});

test('NO_PROXY and loopback hosts bypass the proxy', { skip }, async () => {
  const name = `registry.test:${plain.port}`;
  seen.length = 0;
  await assert.rejects(
    pullImage(`${name}/proxied/plain:1`, {
      store: newStore(),
      registryOptions: {
        credentials: async () => undefined,
        insecureRegistries: [name],
        retries: 0,
        proxy: {
          httpProxy: `http://127.0.0.1:${proxyPort}`,
          httpsProxy: `http://127.0.0.1:${proxyPort}`,
          noProxy: 'example.com,.test',
        },
      },
    }),
    /ENOTFOUND|getaddrinfo/,
  );
  assert.equal(seen.length, 0);
  await pullImage(`127.0.0.1:${plain.port}/proxied/plain:1`, {
    store: newStore(),
    registryOptions: {
      credentials: async () => undefined,
      proxy: { httpProxy: `http://127.0.0.1:${proxyPort}`, httpsProxy: `http://127.0.0.1:${proxyPort}` },
    },
  });
  assert.equal(seen.length, 0, 'loopback is never proxied (Go rule)');
});

test(
  'a proxy that never answers CONNECT, or a tunnel with no TLS at the far end, fails after the timeout',
  { skip },
  async () => {
    // Accepts connections and never says a word.
    const held = new Set<Socket>();
    const silent = createNetServer((s) => held.add(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const silentPort = (silent.address() as { port: number }).port;
    const opts = (httpsProxy: string) => ({
      credentials: async () => undefined,
      retries: 0,
      timeoutMs: 300,
      proxy: { httpsProxy },
    });
    try {
      await assert.rejects(
        pullImage('registry.test:5000/proxied/app:1', {
          store: newStore(),
          registryOptions: opts(`http://127.0.0.1:${silentPort}`),
        }),
        /no tunnel to registry\.test:5000 through proxy 127\.0\.0\.1:\d+ within 300 ms/,
      );
      // Our proxy answers CONNECT; the far end never starts the handshake.
      seen.length = 0;
      await assert.rejects(
        pullImage(`registry.test:${silentPort}/proxied/app:1`, {
          store: newStore(),
          registryOptions: opts(`http://127.0.0.1:${proxyPort}`),
        }),
        new RegExp(
          `no tunnel to registry\\.test:${silentPort} through proxy 127\\.0\\.0\\.1:${proxyPort} within 300 ms`,
        ),
      );
      assert.deepEqual(
        seen.map((s) => s.kind),
        ['CONNECT'],
      );
    } finally {
      for (const s of held) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  },
);
