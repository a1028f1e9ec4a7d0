// pinned.ts, the resolution berthd uses for every path inside a container or
// a volume: symlinks resolved as the container resolves them (absolute
// targets re-rooted, ".." stopping at the root), and a directory once pinned
// staying the one written into even when it is swapped for a symlink to a
// host path afterwards; a tree removed without following a symlink in it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PinnedRoot, removeTree, type Spot } from '../../../src/daemon/containers/pinned.js';

const dir = mkdtempSync(join(tmpdir(), 'berthd-pinned-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

/** Where a spot is, as the kernel names its pinned directory. */
function where(s: Spot): string {
  const d = readlinkSync(`/proc/self/fd/${s.dir.handle.fd}`);
  return s.name === undefined ? d : join(d, s.name);
}

test('paths resolve inside the root: absolute links re-rooted, .. stops at the root, loops bounded', async () => {
  const root = join(dir, 'rootfs');
  mkdirSync(join(root, 'etc'), { recursive: true });
  mkdirSync(join(root, 'tmp'), { recursive: true });
  writeFileSync(join(root, 'etc/hostname'), 'inside\n');
  symlinkSync('/etc', join(root, 'tmp/abs'));
  symlinkSync('../../../../../etc', join(root, 'tmp/climb'));
  symlinkSync('/tmp/loop2', join(root, 'tmp/loop1'));
  symlinkSync('/tmp/loop1', join(root, 'tmp/loop2'));
  symlinkSync('/', join(root, 'tmp/top'));
  const tree = await PinnedRoot.open(root);
  try {
    const at = async (path: string, followLast = true) => {
      const s = await tree.locate(path, { followLast });
      try {
        return where(s);
      } finally {
        await s.dir.close();
      }
    };
    assert.equal(await at('/tmp/abs/hostname'), join(root, 'etc/hostname'));
    assert.equal(await at('/tmp/climb/hostname'), join(root, 'etc/hostname'));
    assert.equal(await at('/../../etc/hostname'), join(root, 'etc/hostname'));
    assert.equal(await at('/tmp/abs', false), join(root, 'tmp/abs'), 'the last link kept when asked');
    assert.equal(await at('/tmp/abs'), join(root, 'etc'), 'and followed otherwise');
    assert.equal(await at('/tmp/top'), root, 'a link to / is the root itself');
    assert.equal(await at('/'), root);
    assert.equal(await at('/tmp/missing'), join(root, 'tmp/missing'), 'a missing last name is where it would be made');
    await assert.rejects(tree.locate('/no/such/x', { followLast: true }), /no such file or directory/);
    await assert.rejects(tree.locate('/etc/hostname/x', { followLast: true }), /not a directory/);
    await assert.rejects(tree.locate('/tmp/loop1/x', { followLast: true }), /too many levels of symbolic links/);
    // create: missing directories made where the container would make them.
    const made = await tree.directory('/tmp/abs/new/deeper', true);
    assert.equal(readlinkSync(made.self), join(root, 'etc/new/deeper'));
    await made.close();
  } finally {
    await tree.close();
  }
});

test('a pinned directory swapped for a symlink to a host path: writes stay in the pinned directory', async () => {
  const root = join(dir, 'swap');
  const host = join(dir, 'host-canary');
  mkdirSync(join(root, 'data'), { recursive: true });
  mkdirSync(host);
  const tree = await PinnedRoot.open(root);
  try {
    const d = await tree.directory('/data');
    // The container's move: the directory goes, a symlink to the host path takes its name.
    renameSync(join(root, 'data'), join(root, 'moved'));
    symlinkSync(host, join(root, 'data'));
    await writeFile(d.at('file'), 'payload\n', { flag: 'wx' });
    await d.close();
    assert.deepEqual(readdirSync(host), [], 'nothing reached the host path');
    assert.deepEqual(readdirSync(join(root, 'moved')), ['file']);
    // Resolving again now follows the container's symlink inside the root (to /host-canary there, missing).
    await assert.rejects(tree.directory('/data'), /no such file or directory/);
    // removeTree unlinks the symlink, never what it points at.
    writeFileSync(join(host, 'keep'), 'host\n');
    symlinkSync(host, join(root, 'moved/link'));
    await removeTree(tree.root, 'moved');
    assert.deepEqual(readdirSync(host), ['keep']);
    assert.deepEqual(readdirSync(root), ['data']);
  } finally {
    await tree.close();
  }
});
