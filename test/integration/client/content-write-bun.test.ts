// src/client's content writes to a real containerd from a Bun process (as
// bin/berthd and bin/berth-ctr are). Bun's HTTP/2 client keeps an open
// stream's send window when the server raises SETTINGS_INITIAL_WINDOW_SIZE,
// which grpc-go does as it measures the connection; a long Write stream of
// large messages then waited forever for a window update (4 MiB blobs stalled
// every time). WriteSession's answer (a connection per Write stream, 32 KiB
// messages) is checked here where it matters: several blobs of several MiB
// at once, each read back from containerd byte for byte.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
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
