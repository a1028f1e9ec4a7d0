// runc's CVE-2021-30465: a component of a mount's destination swapped for a
// symlink while the runtime mounts (renameat2 RENAME_EXCHANGE in a loop, as
// the exploit did through a shared volume). berth-init opens each target with
// openat2(RESOLVE_IN_ROOT) and mounts through that handle, so whatever the
// swap, the mount lands inside the rootfs. Observed on the host itself: the
// config has no mount namespace, so the container's mounts are made in the
// host's table, where a mount on the host path the symlink names would show.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { isRoot, runc, uniqueId, suiteBundles } from '../../helpers/runtime.js';

const skip = !isRoot() ? 'needs root' : false;

// The other half is delete: the runtime removes those mounts from the host's
// table, and the swap must not send that unmount to a mount of the host's
// (here a tmpfs the test made where the symlink points).

// renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) until killed.
const SWAPPER = `
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
a, b = sys.argv[1].encode(), sys.argv[2].encode()
print('SWAPPING', flush=True)
while True:
    libc.renameat2(-100, a, -100, b, 2)
`;

const mountPoints = () =>
  readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '');

describe('a mount destination swapped for a symlink mid-create', { skip }, () => {
  const bundle = suiteBundles();

  it('CVE-2021-30465: every mount lands inside the rootfs whatever the race', async () => {
    const host = mkdtempSync(join(tmpdir(), 'berth-race-host-'));
    const vol = mkdtempSync(join(tmpdir(), 'berth-race-vol-'));
    writeFileSync(join(vol, 'marker'), 'volume\n');
    try {
      mkdirSync(join(host, 'mnt'));
      execFileSync('mount', ['-t', 'tmpfs', 'berth-race-host', join(host, 'mnt')]);
      const hostMounted = () => mountPoints().includes(join(host, 'mnt'));
      const b = bundle('true', (s) => {
        s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'mount');
        s.linux!.maskedPaths = [];
        s.linux!.readonlyPaths = [];
        s.mounts = [{ destination: '/a/b/mnt', type: 'bind', source: vol, options: ['rbind', 'ro'] }];
      });
      // /a/b a directory, /a/sw an absolute symlink to the host's directory;
      // the same path exists inside the rootfs, where it must resolve.
      mkdirSync(join(b.rootfs, 'a/b/mnt'), { recursive: true });
      mkdirSync(join(b.rootfs, host.slice(1), 'mnt'), { recursive: true });
      symlinkSync(host, join(b.rootfs, 'a/sw'));
      const swapper = spawn('python3', ['-c', SWAPPER, join(b.rootfs, 'a/b'), join(b.rootfs, 'a/sw')], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      try {
        await new Promise<void>((resolve) => swapper.stdout.once('data', () => resolve()));
        let created = 0;
        for (let i = 0; i < 40; i++) {
          const id = uniqueId('race');
          const r = runc(b, ['create', '--bundle', b.dir, id]);
          if (r.status === 0) {
            created++;
            const inside = mountPoints().filter((m) => m.startsWith(b.rootfs));
            assert.deepEqual(
              mountPoints().filter((m) => m.startsWith(host)),
              [join(host, 'mnt')],
              `a mount escaped to the host at ${host}: ${inside.join(' ')}`,
            );
            assert.ok(inside.length > 0, 'the bind is mounted, under the rootfs');
          }
          runc(b, ['delete', '--force', id]);
          // A mount the race kept delete from reaching stays (reported);
          // the host's is never the one unmounted.
          assert.ok(hostMounted(), `delete of ${id} unmounted the host's mount`);
        }
        // The race must have let some creates through, or the test proved nothing.
        assert.ok(created > 0, 'no create succeeded while swapping');
      } finally {
        swapper.kill('SIGKILL');
        await new Promise((r) => swapper.once('close', r));
        // What the race left under the rootfs, removed by the test.
        for (const m of mountPoints()
          .filter((x) => x.startsWith(b.rootfs))
          .reverse())
          spawnSync('umount', ['-l', m]);
      }
      // Without the race, delete removes everything it mounted.
      if (lstatSync(join(b.rootfs, 'a/b')).isSymbolicLink())
        execFileSync('python3', [
          '-c',
          `${SWAPPER.replace('while True:', 'if True:')}`,
          join(b.rootfs, 'a/b'),
          join(b.rootfs, 'a/sw'),
        ]);
      const id = uniqueId('race');
      assert.equal(runc(b, ['create', '--bundle', b.dir, id]).status, 0);
      assert.ok(mountPoints().some((m) => m.startsWith(join(b.rootfs, 'a/b/mnt'))));
      runc(b, ['delete', '--force', id]);
      assert.deepEqual(
        mountPoints().filter((m) => m.startsWith(b.rootfs)),
        [],
      );
    } finally {
      spawnSync('umount', ['-l', join(host, 'mnt')]);
      rmSync(host, { recursive: true, force: true });
      rmSync(vol, { recursive: true, force: true });
    }
  });
});
