// src/client's own unary calls (src/client/unary.ts, over node:http2) against
// a grpc-js server on a unix socket serving containerd's service definitions:
// answers decoded as grpc-js decodes them, a status and its (percent-encoded)
// words mapped as before, the namespace header sent, a deadline kept, an
// absent socket reported as unreachable, and a client that ends its work
// does not keep its process alive.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { serviceDefinition } from '../../../src/api/load.js';
import { ContainerdClient, isNotFound, isUnreachable } from '../../../src/client/index.js';
import { BerthError } from '../../../src/common/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-unary-'));
const sock = join(dir, 'api.sock');
const server = new grpc.Server();
const seen: string[] = [];

before(async () => {
  server.addService(serviceDefinition('containerd.services.version.v1.Version'), {
    Version: (_call: grpc.ServerUnaryCall<object, object>, cb: grpc.sendUnaryData<object>) =>
      cb(null, { version: 'v9.9.9-test', revision: 'abc' }),
  });
  server.addService(serviceDefinition('containerd.services.images.v1.Images'), {
    Get: (call: grpc.ServerUnaryCall<{ name: string }, object>, cb: grpc.sendUnaryData<object>) => {
      seen.push(String(call.metadata.get('containerd-namespace')[0]));
      if (call.request.name === 'slow') return; // never answered: the deadline's case
      cb({ code: grpc.status.NOT_FOUND, details: `image "${call.request.name}": not found (100% sure)` });
    },
    List: (_call: grpc.ServerUnaryCall<object, object>, cb: grpc.sendUnaryData<object>) =>
      cb(null, {
        images: [
          {
            name: 'busybox:latest',
            labels: { a: 'b' },
            target: {
              media_type: 'application/vnd.oci.image.index.v1+json',
              digest: 'sha256:' + '1'.repeat(64),
              size: 1234,
            },
          },
        ],
      }),
  });
  await new Promise<void>((res, rej) =>
    server.bindAsync(`unix://${sock}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? rej(e) : res())),
  );
});

after(() => {
  server.forceShutdown();
  rmSync(dir, { recursive: true, force: true });
});

test('an answer is decoded as grpc-js decodes it (defaults, numbers, maps)', async () => {
  const c = new ContainerdClient(sock, { namespace: 'unary-test' });
  try {
    assert.deepEqual(await c.version.version(), { version: 'v9.9.9-test', revision: 'abc' });
    const [img] = await c.images.list();
    assert.equal(img?.name, 'busybox:latest');
    assert.deepEqual(img?.labels, { a: 'b' });
    assert.equal(img?.target?.size, 1234);
    assert.equal(typeof img?.target?.size, 'number');
    assert.equal(img?.created_at, null); // an absent message field, as grpc-js's conversion gives it
  } finally {
    c.close();
  }
});

test("a status and its words come back as a BerthError of that kind, with the call's name and the namespace sent", async () => {
  const c = new ContainerdClient(`unix://${sock}`, { namespace: 'ns-sent' });
  try {
    const e = await c.images.get('nope').then(
      () => undefined,
      (x: unknown) => x,
    );
    assert.ok(e instanceof BerthError, String(e));
    assert.ok(isNotFound(e));
    assert.match(e.message, /^Images\.Get: image "nope": not found \(100% sure\)$/);
    assert.equal(seen.at(-1), 'ns-sent');
  } finally {
    c.close();
  }
});

test('a deadline ends a call the server never answers', async () => {
  const c = new ContainerdClient(sock, { namespace: 'x', timeoutMs: 200 });
  try {
    const t = Date.now();
    const e = await c.images.get('slow').then(
      () => undefined,
      (x: unknown) => x,
    );
    assert.ok(e instanceof BerthError && e.code === 'deadline-exceeded', String(e));
    assert.ok(Date.now() - t < 5000);
    // the connection still serves after a cancelled call
    assert.equal((await c.version.version()).version, 'v9.9.9-test');
  } finally {
    c.close();
  }
});

test('no socket: unreachable, naming the connect error', async () => {
  const c = new ContainerdClient(join(dir, 'absent.sock'), { namespace: 'x' });
  try {
    const e = await c.version.version().then(
      () => undefined,
      (x: unknown) => x,
    );
    assert.ok(isUnreachable(e), String(e));
    assert.match(String((e as Error).message), /containerd is not reachable: .*ENOENT/);
  } finally {
    c.close();
  }
});

test('a process that made its calls and did not close the client still ends', async () => {
  const script = `
    import { ContainerdClient } from ${JSON.stringify(join(import.meta.dirname, '../../../src/client/index.js'))};
    const c = new ContainerdClient(${JSON.stringify(sock)}, { namespace: 'x' });
    console.log((await c.version.version()).version);
  `;
  // spawned, not spawnSync: the server answering it is in this process
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: join(import.meta.dirname, '../../..'),
    timeout: 20000,
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
  assert.equal(code, 0, err);
  assert.equal(out.trim(), 'v9.9.9-test');
});
