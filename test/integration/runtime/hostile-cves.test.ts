// Known runc escapes that a hostile rootfs or config drives, one test each,
// asserting what the kernel shows: CVE-2025-31133 (a /dev/null that is not
// the null device, used as the source of every masked path), CVE-2025-52565
// (a /dev/console in the rootfs that the runtime would mount over),
// CVE-2022-29162 (inheritable capabilities the config did not ask for).
// The others of the README's table have their tests in security.test.ts,
// hardening-procfs.test.ts, mounts.test.ts and native/init-security.test.ts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  lstatSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { CLI, REPO, isRoot, leftovers, runc, runOut, uniqueId, suiteBundles } from '../../helpers/runtime.js';
import { startPeer } from '../../helpers/peer.js';
import type { Spec } from '../../../src/runtime/spec/types.js';

const skip = !isRoot() ? 'needs root' : false;
const RECVFD = join(REPO, 'test/helpers/recvfd.py');

/** The config without the runtime's own /dev: the rootfs's /dev is what the container gets. */
const imageDev = (s: Spec) => {
  s.mounts = s.mounts!.filter((m) => m.destination !== '/dev');
  s.linux!.devices = [];
};

describe('hostile rootfs and config: known runc escapes', { skip }, () => {
  const bundle = suiteBundles();

  it('CVE-2025-31133: only the null device itself is ever bound over a masked path', () => {
    const mask = (s: Spec) => {
      s.linux!.maskedPaths = ['/proc/timer_list'];
    };
    // Planted in the image as a symlink or a file: the runtime makes its own
    // node there (as runc does), and that node masks.
    for (const plant of ['symlink', 'file'] as const) {
      const b = bundle('wc -c < /proc/timer_list; stat -c %F:%t:%T /proc/timer_list', (s) => {
        imageDev(s);
        mask(s);
      });
      writeFileSync(join(b.rootfs, 'secret'), 'planted\n');
      rmSync(join(b.rootfs, 'dev/null'), { force: true });
      if (plant === 'symlink') symlinkSync('/secret', join(b.rootfs, 'dev/null'));
      else writeFileSync(join(b.rootfs, 'dev/null'), 'planted\n');
      const r = runOut(b);
      assert.equal(r.code, 0, r.err);
      assert.deepEqual(r.out.trim().split('\n'), ['0', 'character special file:1:3'], plant);
      assert.equal(readFileSync(join(b.rootfs, 'secret'), 'utf8'), 'planted\n');
    }
    // Swapped for a symlink after the runtime made its node and before the
    // masks (in the CVE, a race through a /dev shared with another
    // container; here a createContainer hook does it at that very point):
    // refused, naming the mask, and nothing left.
    const b = bundle('cat /proc/timer_list', (s) => {
      imageDev(s);
      mask(s);
    });
    writeFileSync(join(b.rootfs, 'secret'), 'planted\n');
    const swap = `rm -f ${b.rootfs}/dev/null && ln -s /secret ${b.rootfs}/dev/null`;
    b.spec.hooks = { createContainer: [{ path: '/bin/sh', args: ['sh', '-c', swap] }] };
    b.write();
    const id = uniqueId();
    const r = runc(b, ['run', '--bundle', b.dir, id]);
    assert.notEqual(r.status, 0, `the container ran: ${r.stdout}`);
    assert.doesNotMatch(r.stdout, /planted/);
    assert.match(r.stderr, /mask \/proc\/timer_list: \/dev\/null in the container is not the null device/);
    assert.deepEqual(leftovers(b, id), []);
  });

  it('CVE-2025-52565: a /dev/console planted in the rootfs is neither mounted over nor followed', async () => {
    const b = bundle('grep -c -e console -e secret /proc/self/mountinfo; tty', (s) => {
      imageDev(s);
      s.process!.terminal = true;
    });
    writeFileSync(join(b.rootfs, 'secret'), 'planted\n');
    symlinkSync('/secret', join(b.rootfs, 'dev/console'));
    const sock = join(b.dir, 'console.sock');
    const p = await startPeer('python3', [RECVFD, sock, 'console', ''], 'READY\n');
    const id = uniqueId();
    let r = runc(b, ['create', '--bundle', b.dir, '--console-socket', sock, id]);
    assert.equal(r.status, 0, r.stderr);
    r = runc(b, ['start', id]);
    assert.equal(r.status, 0, r.stderr);
    const out = await p.output;
    runc(b, ['delete', '--force', id]);
    assert.match(out, /GOTPTY/);
    // No mount names the console or the file it points to; the process's
    // terminal is its own pty.
    assert.match(out, /^0\r?$/m);
    assert.match(out, /\/dev\/pts\/\d+/);
    assert.equal(readFileSync(join(b.rootfs, 'secret'), 'utf8'), 'planted\n');
    assert.ok(lstatSync(join(b.rootfs, 'dev/console')).isSymbolicLink());
  });

  it('CVE-2022-29162: no inheritable or ambient capability the config does not list', () => {
    const status = "grep -E '^Cap(Inh|Amb|Bnd):' /proc/self/status | tr -d '\\t'";
    // The default config (as `spec` writes it) lists no inheritable set.
    let b = bundle(status);
    assert.equal(b.spec.process!.capabilities!.inheritable, undefined);
    let r = runOut(b);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^CapInh:0000000000000000$/m);
    assert.match(r.out, /^CapAmb:0000000000000000$/m);
    assert.doesNotMatch(r.out, /^CapBnd:0000000000000000$/m);
    // A non-root user with a full bounding set still inherits nothing.
    b = bundle(status, (s) => {
      s.process!.user = { uid: 1000, gid: 1000 };
    });
    r = runOut(b);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^CapInh:0000000000000000$/m);
    assert.match(r.out, /^CapAmb:0000000000000000$/m);
  });

  it('a setuid file of an image in a user namespace: setuid only to ids the namespace maps', () => {
    // A static program that prints its real and effective uid (busybox
    // drops a setuid bit by itself, so it would show nothing).
    const b = bundle('/suid-host; /suid-mapped', (s) => {
      s.linux!.namespaces!.push({ type: 'user' });
      s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      s.mounts = s.mounts!.filter((m) => m.destination !== '/sys' && m.destination !== '/sys/fs/cgroup');
      s.process!.user = { uid: 1000, gid: 1000 };
      s.process!.noNewPrivileges = false;
    });
    const src = join(b.dir, 'euid.c');
    writeFileSync(
      src,
      '#include <stdio.h>\n#include <unistd.h>\nint main(void){printf("%d %d\\n",(int)getuid(),(int)geteuid());return 0;}\n',
    );
    execFileSync('cc', ['-static', '-O2', '-o', join(b.rootfs, 'suid-host'), src]);
    copyFileSync(join(b.rootfs, 'suid-host'), join(b.rootfs, 'suid-mapped'));
    // setuid to the host's root (unmapped in the container), and to the
    // container's root (host uid 100000).
    chownSync(join(b.rootfs, 'suid-mapped'), 100000, 100000);
    chmodSync(join(b.rootfs, 'suid-host'), 0o4755);
    chmodSync(join(b.rootfs, 'suid-mapped'), 0o4755);
    // The container's root must pass through the bundle to its rootfs.
    chmodSync(b.dir, 0o755);
    const r = runOut(b);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(r.out.trim().split('\n'), ['1000 1000', '1000 0']);
  });

  it('CVE-2023-25809: no rootless container, so no host cgroup tree to write; a non-root create leaves nothing', () => {
    const b = bundle('true');
    // Everything readable and writable by nobody, so only the runtime refuses.
    for (const p of [b.dir, b.rootfs]) chmodSync(p, 0o777);
    chmodSync(join(b.dir, 'config.json'), 0o666);
    const id = uniqueId();
    const r = spawnSync(CLI, ['--root', b.root, 'create', '--bundle', b.dir, id], {
      encoding: 'utf8',
      uid: 65534,
      gid: 65534,
      timeout: 30000,
    });
    assert.notEqual(r.status, 0, r.stdout);
    assert.match(r.stderr, /linux\.cgroupsPath: creating the container's cgroups: EACCES/);
    assert.deepEqual(leftovers(b, id), []);
    // As root, the cgroup mount the container gets is read-only.
    const ro = bundle('touch /sys/fs/cgroup/x 2>&1; grep " /sys/fs/cgroup " /proc/self/mountinfo | cut -d" " -f6');
    const out = runOut(ro);
    assert.equal(out.code, 0, out.err);
    assert.match(out.out, /Read-only file system/);
    assert.match(out.out, /^ro,/m);
  });
});
