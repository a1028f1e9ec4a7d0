// runc parity for the mount namespace, as the OCI validation suite runs it:
// a shared rootfsPropagation (pivot_root refuses a shared parent mount, so it
// is made private in the container's namespace first), a config without a
// mount namespace (the container shares the runtime's: its mounts go under
// the rootfs and are gone after delete), and a mount namespace joined by
// path. Each asserts what the kernel shows: the namespace the container is
// in, its root, and the host's mount table afterwards.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isRoot, runc, uniqueId, suiteBundles, type Bundle } from '../../helpers/runtime.js';
import { waitUntil } from '../../helpers/wait.js';

const skip = !isRoot() ? 'needs root' : false;

// The runtime's mounts that involve a bundle (the machine is shared: other
// runs mount and unmount their own things meanwhile).
const hostMounts = (dir: string): string[] =>
  readFileSync('/proc/self/mountinfo', 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.split(' ').slice(3).join(' '))
    .filter((l) => l.includes(dir))
    .sort();
const facts = (out: string): Map<string, string> =>
  new Map(
    out
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );

const REPORT =
  'echo mnt=$(readlink /proc/self/ns/mnt); echo marker=$(cat /marker); echo proc=$(stat -f -c %T /proc); echo dev=$(stat -c %t:%T /dev/null)';

describe('mount namespace parity with runc', { skip }, () => {
  const bundle = suiteBundles();
  const marked = (edit: (b: Bundle) => void): Bundle => {
    const b = bundle(REPORT);
    writeFileSync(join(b.rootfs, 'marker'), 'container-root\n');
    edit(b);
    b.write();
    return b;
  };

  for (const prop of ['shared', 'rshared'] as const) {
    it(`rootfsPropagation "${prop}": the container runs, in its own namespace, and the host's mounts are untouched`, () => {
      const b = marked((x) => (x.spec.linux!.rootfsPropagation = prop));
      const r = runc(b, ['run', '--bundle', b.dir, uniqueId()]);
      assert.equal(r.status, 0, r.stderr);
      const f = facts(r.stdout);
      assert.equal(f.get('marker'), 'container-root');
      assert.notEqual(f.get('mnt'), readlinkSync('/proc/self/ns/mnt'));
      assert.equal(f.get('proc'), 'proc');
      assert.deepEqual(hostMounts(b.dir), []);
    });
  }

  it("no mount namespace: the container is in the runtime's, chrooted in its rootfs with its mounts; delete removes them", () => {
    const b = bundle('exec sleep 100', (s) => {
      s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'mount');
      s.linux!.maskedPaths = [];
      s.linux!.readonlyPaths = [];
    });
    writeFileSync(join(b.rootfs, 'marker'), 'container-root\n');
    const id = uniqueId();
    const r = runc(b, ['run', '-d', '--bundle', b.dir, id]);
    assert.equal(r.status, 0, r.stderr);
    try {
      const pid = JSON.parse(runc(b, ['state', id]).stdout).pid as number;
      assert.equal(readlinkSync(`/proc/${pid}/ns/mnt`), readlinkSync('/proc/self/ns/mnt'));
      assert.equal(readlinkSync(`/proc/${pid}/root`), b.rootfs);
      // Its proc is mounted in the host's table, under the rootfs.
      assert.ok(
        hostMounts(b.dir).some((m) => m.includes(` ${b.rootfs}/proc `)),
        hostMounts(b.dir).join('\n'),
      );
      const e = runc(b, ['exec', id, 'sh', '-c', REPORT]);
      assert.equal(e.status, 0, e.stderr);
      const f = facts(e.stdout);
      assert.equal(f.get('marker'), 'container-root', 'exec runs in the container root too');
      assert.equal(f.get('proc'), 'proc');
      assert.equal(f.get('dev'), '1:3');
    } finally {
      assert.equal(runc(b, ['delete', '--force', id]).status, 0);
    }
    assert.deepEqual(hostMounts(b.dir), []);
  });

  it('a read-only root without a mount namespace binds the rootfs first: the host stays writable', () => {
    const b = bundle('touch /x 2>/dev/null && echo rw=yes || echo rw=no', (s) => {
      s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'mount');
      s.linux!.maskedPaths = [];
      s.linux!.readonlyPaths = [];
      s.root = { path: 'rootfs', readonly: true };
    });
    const r = runc(b, ['run', '--bundle', b.dir, uniqueId()]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(facts(r.stdout).get('rw'), 'no');
    assert.deepEqual(hostMounts(b.dir), []);
    writeFileSync(join(b.dir, 'host-writable'), 'yes'); // the filesystem under it was not remounted
  });

  it('a mount namespace joined by path: the container is in that namespace, the host is untouched', async () => {
    const holder = spawn('unshare', ['--mount', '--propagation', 'private', 'sleep', '100'], { stdio: 'ignore' });
    try {
      const ns = () => readlinkSync(`/proc/${holder.pid}/ns/mnt`);
      await waitUntil(
        'the holder is in its own mount namespace',
        () => {
          try {
            return ns() !== readlinkSync('/proc/self/ns/mnt');
          } catch {
            return false;
          }
        },
        5000,
        10,
      );
      const b = marked((x) => {
        x.spec.linux!.namespaces = x.spec.linux!.namespaces!.filter((n) => n.type !== 'mount');
        x.spec.linux!.namespaces.push({ type: 'mount', path: `/proc/${holder.pid}/ns/mnt` });
      });
      const r = runc(b, ['run', '--bundle', b.dir, uniqueId()]);
      assert.equal(r.status, 0, r.stderr);
      const f = facts(r.stdout);
      assert.equal(f.get('mnt'), ns());
      assert.equal(f.get('marker'), 'container-root');
      assert.equal(f.get('proc'), 'proc');
      assert.deepEqual(hostMounts(b.dir), []);
    } finally {
      holder.kill('SIGKILL');
    }
  });
});
