// src/client's content writes into a real containerd.
//
// From a Bun process (as bin/berthd and bin/berth-ctr are): Bun's HTTP/2
// client keeps an open stream's send window when the server raises
// SETTINGS_INITIAL_WINDOW_SIZE, which grpc-go does as it measures the
// connection; a long Write stream of large messages then waited forever for a
// window update (4 MiB blobs stalled every time). WriteSession's answer (a
// connection per Write stream, 32 KiB messages) is checked where it matters:
// several blobs of several MiB at once, each read back byte for byte.
//
// And a blob another namespace holds: containerd's writer starts from the
// whole shared blob (STAT answers its size), so the client writes nothing more.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { ContainerdClient } from '../../../src/client/client.js';
import { RemoteContentStore } from '../../../src/client/content-store.js';
import { join } from 'node:path';
import { startContainerd, which, type Containerd } from '../../helpers/daemons.js';

const root = join(import.meta.dirname, '../../..');
const bun = join(root, 'node_modules/.bin/bun');
const bunRuns = spawnSync(bun, ['--version']).status === 0;
const skip =
  process.getuid?.() !== 0
    ? 'needs root'
    : !which('containerd')
      ? 'containerd is not installed'
      : !bunRuns
        ? 'Bun does not run on this machine'
        : false;

let ctrd: Containerd | undefined;
after(async () => {
  await ctrd?.stop();
});

test('Bun: 6 blobs of 6 MiB at once reach containerd whole, none stalls', { skip, timeout: 180_000 }, async () => {
  ctrd = await startContainerd({ prefix: 'berth-bunwrite-', namespace: `bunwrite-${process.pid}` });
  const size = 6 * 1024 * 1024;
  const r = spawnSync(
    bun,
    [join(root, 'test/integration/client/put-blobs-child.ts'), ctrd.sock, ctrd.namespace, String(size), '6'],
    { encoding: 'utf8', timeout: 120_000, cwd: root },
  );
  assert.equal(r.error, undefined, `the writes did not finish: ${String(r.error)}\n${r.stderr}`);
  assert.equal(r.status, 0, r.stderr);
  const { lease, blobs } = JSON.parse(r.stdout) as { lease: string; blobs: { digest: string; size: number }[] };
  assert.equal(blobs.length, 6);
  // containerd holds each one under the lease, with the bytes its digest names.
  assert.match(ctrd.ctr(['leases', 'ls']).stdout, new RegExp(lease));
  for (const b of blobs) {
    assert.equal(b.size, size);
    const got: SpawnSyncReturns<Buffer> = spawnSync(
      'ctr',
      ['-a', ctrd.sock, '-n', ctrd.namespace, 'content', 'get', b.digest],
      {
        maxBuffer: 2 * size,
      },
    );
    assert.equal(got.status, 0, String(got.stderr));
    assert.equal(got.stdout.length, size);
    assert.equal(`sha256:${createHash('sha256').update(got.stdout).digest('hex')}`, b.digest);
  }
});

test('a blob another namespace holds is written into this one whole (containerd shares it)', { skip }, async () => {
  ctrd ??= await startContainerd({ prefix: 'berth-bunwrite-', namespace: `bunwrite-${process.pid}` });
  const sock = ctrd.sock;
  const data = randomBytes(4096);
  const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
  for (const ns of ['share-a', 'share-b']) {
    const client: ContainerdClient = new ContainerdClient(sock, { namespace: ns });
    try {
      const lease = await client.leases.create(`share-${ns}`);
      const info: { size: number } = await new RemoteContentStore(client.conn, client.content, lease).put(data, {
        digest,
      });
      assert.equal(info.size, data.length);
      const got: SpawnSyncReturns<Buffer> = spawnSync('ctr', ['-a', sock, '-n', ns, 'content', 'get', digest]);
      assert.equal(got.status, 0, String(got.stderr));
      assert.ok(got.stdout.equals(data), `${ns}: containerd holds other bytes`);
    } finally {
      client.close();
    }
  }
});

test('a blob that is already there is leased before a pull uses it: a gc right after keeps it', { skip }, async () => {
  ctrd ??= await startContainerd({ prefix: 'berth-bunwrite-', namespace: `bunwrite-${process.pid}` });
  const client: ContainerdClient = new ContainerdClient(ctrd.sock, { namespace: `exist-${process.pid}` });
  try {
    const data = randomBytes(4096);
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    // The blob arrives under a lease of its own (an earlier pull)...
    const first = await client.leases.create(`exist-a-${process.pid}`);
    await new RemoteContentStore(client.conn, client.content, first).put(data, { digest });
    // ...and a second pull finds it there.
    const second = await client.leases.create(`exist-b-${process.pid}`);
    const w = await new RemoteContentStore(client.conn, client.content, second).ingest('exist', {
      digest,
      size: data.length,
    });
    assert.equal(w.alreadyExists, true);
    assert.deepEqual(
      (await client.leases.resources(second)).map((r) => [r.type, r.id]),
      [['content', digest]],
    );
    // The first lease goes with a synchronous gc (as an image removed just
    // before the pull would schedule one): the second lease alone keeps the blob.
    await client.leases.delete(first, true);
    const got: SpawnSyncReturns<Buffer> = spawnSync('ctr', [
      '-a',
      ctrd.sock,
      '-n',
      `exist-${process.pid}`,
      'content',
      'get',
      digest,
    ]);
    assert.equal(got.status, 0, `the gc removed a blob the pull had found: ${String(got.stderr)}`);
    assert.ok(got.stdout.equals(data));
    await client.leases.delete(second, true);
  } finally {
    client.close();
  }
});
