// kill -9 at arbitrary instants of an import (blob streaming, gzip, config and
// manifest puts, lease and image transactions), then: the store opens, every
// blob hashes to its name, every image names content that is all there, and
// the same import run to the end followed by gc leaves exactly one image's blobs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { walkImage } from '../../../src/image/images.js';
import { collectGarbage } from '../../../src/storage/index.js';
import { openServices, tempDir, run, toolsMissing, type Services } from './fixtures.js';

const CHILD = join(import.meta.dirname, 'import-child.ts');

async function checkStore(s: Services): Promise<void> {
  for (const b of await s.content.list()) {
    const [alg, hex] = b.digest.split(':') as [string, string];
    assert.equal(
      createHash(alg)
        .update(readFileSync(s.content.blobPath(b.digest)))
        .digest('hex'),
      hex,
      `${b.digest} intact`,
    );
  }
  for (const img of s.images.list()) {
    await walkImage(s.content, img.target); // throws when anything is missing
  }
  for (const name of readdirSync(join(s.root, 'content/blobs/sha256'))) {
    assert.ok(!name.startsWith('.'), `no temp file left in blobs/: ${name}`);
  }
}

test('kill -9 at random instants of an import never leaves an inconsistent store', { skip: toolsMissing }, async () => {
  const t = tempDir('berth-crash-');
  try {
    const src = join(t.dir, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'blob.bin'), randomBytes(24 * 1024 * 1024));
    writeFileSync(join(src, 'small.txt'), 'x');
    const tarball = join(t.dir, 'rootfs.tar');
    run('tar', ['-C', src, '-cf', tarball, '.']);
    const root = join(t.dir, 'root');
    let killedBeforeDone = 0;
    for (let round = 0; round < 8; round++) {
      const child = spawn(process.execPath, ['--import', 'tsx', CHILD, root, tarball, 'crash/img:1'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      const exited = new Promise<void>((r) => child.on('exit', () => r()));
      await new Promise<void>((r) => {
        const poll = setInterval(() => {
          if (out.includes('start') || child.exitCode !== null) {
            clearInterval(poll);
            r();
          }
        }, 2);
      });
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 900)));
      child.kill('SIGKILL');
      await exited;
      if (!out.includes('done')) killedBeforeDone++;
      // The next open repairs what it must and never crashes.
      const s = openServices(root);
      try {
        await checkStore(s);
      } finally {
        s.close();
      }
    }
    assert.ok(killedBeforeDone > 0, 'at least one import was killed before it finished');
    const s = openServices(root);
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', CHILD, root, tarball, 'crash/img:1'], {
        stdio: 'ignore',
      });
      await new Promise<void>((r) => child.on('exit', () => r()));
      await checkStore(s);
      assert.equal(s.images.list().length, 1);
      // Leases left by killed imports expire (1 h); pretend time passed.
      for (const l of s.leases.list()) s.leases.delete(l.id);
      await collectGarbage(s);
      const kept = (await s.content.list()).map((b) => b.digest).sort();
      const reachable = (await walkImage(s.content, s.images.get('crash/img:1').target)).map((d) => d.digest).sort();
      assert.deepEqual(kept, reachable, 'gc leaves exactly the image');
      assert.deepEqual(readdirSync(join(root, 'content/ingest')), []);
      assert.ok(existsSync(join(root, 'metadata.db')));
    } finally {
      s.close();
    }
  } finally {
    t.cleanup();
  }
});
