// Writes into /proc that a container could redirect (the class of runc's
// CVE-2023-27561 and CVE-2023-28642): a /proc that is a symlink, or a volume
// over /proc, is refused at create before anything is written; at exec the
// runtime's writes (oom_score_adj here) reach the kernel's file whatever the
// container has made of its /proc. Each test asserts what the kernel shows.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { isRoot, leftovers, runc, uniqueId, suiteBundles } from '../../helpers/runtime.js';

const skip = !isRoot() ? 'needs root' : false;

describe('procfs writes cannot be redirected', { skip }, () => {
  const bundle = suiteBundles();
  const temps: string[] = [];
  after(() => temps.forEach((t) => rmSync(t, { recursive: true, force: true })));

  it('a rootfs whose /proc is a symlink is refused at create, nothing mounted or written', () => {
    const b = bundle('exec sleep 100', (s) => {
      s.process!.oomScoreAdj = 300;
    });
    rmSync(join(b.rootfs, 'proc'), { recursive: true });
    mkdirSync(join(b.rootfs, 'realproc'));
    symlinkSync('/realproc', join(b.rootfs, 'proc'));
    const id = uniqueId();
    const r = runc(b, ['create', '--bundle', b.dir, id]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /mount proc on \/proc: \/proc must be an ordinary directory, not a symlink or a file/);
    assert.deepEqual(readdirSync(join(b.rootfs, 'realproc')), []);
    assert.deepEqual(leftovers(b, id), []);
  });

  it('a volume over /proc, or a mount inside /proc, is refused naming the mount', () => {
    const vol = mkdtempSync(join(tmpdir(), 'berth-procvol-'));
    temps.push(vol);
    mkdirSync(join(vol, 'self'));
    for (const [dest, why] of [
      ['/proc', /mounts\[\d+\]\.destination: \/proc cannot be mounted because it is not of type proc/],
      ['/proc/self', /mounts\[\d+\]\.destination: \/proc\/self cannot be mounted because it is inside \/proc/],
    ] as const) {
      const b = bundle('exec sleep 100', (s) => {
        s.mounts!.push({ destination: dest, type: 'bind', source: vol, options: ['rbind'] });
      });
      const id = uniqueId();
      const r = runc(b, ['create', '--bundle', b.dir, id]);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, why);
      assert.deepEqual(leftovers(b, id), []);
    }
    // A bind of a real procfs on /proc is what runc accepts, and so do we.
    const b = bundle('exec sleep 100', (s) => {
      s.mounts = s.mounts!.filter((m) => m.destination !== '/proc');
      s.mounts.push({ destination: '/proc', type: 'bind', source: '/proc', options: ['rbind'] });
      s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'pid');
    });
    const id = uniqueId();
    const r = runc(b, ['create', '--bundle', b.dir, id]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(runc(b, ['delete', '--force', id]).status, 0);
  });

  it("exec's oom_score_adj reaches the kernel even when the container's /proc is its own tree", () => {
    // No procfs at /proc: what is there is the container's own files, as a
    // container that repointed its /proc would have.
    const b = bundle('exec sleep 100', (s) => {
      s.mounts = s.mounts!.filter((m) => m.type !== 'proc');
      s.linux!.maskedPaths = [];
      s.linux!.readonlyPaths = [];
    });
    mkdirSync(join(b.rootfs, 'proc/self'), { recursive: true });
    const fake = join(b.rootfs, 'proc/self/oom_score_adj');
    writeFileSync(fake, '0\n');
    const id = uniqueId();
    const run = runc(b, ['run', '-d', '--bundle', b.dir, id]);
    assert.equal(run.status, 0, run.stderr);
    try {
      const pidFile = join(b.dir, 'exec.pid');
      const procFile = join(b.dir, 'exec.json');
      writeFileSync(procFile, JSON.stringify({ ...b.spec.process, args: ['sleep', '100'], oomScoreAdj: 456 }));
      const r = runc(b, ['exec', '-d', '--pid-file', pidFile, '-p', procFile, id]);
      assert.equal(r.status, 0, r.stderr);
      const pid = Number(readFileSync(pidFile, 'utf8'));
      assert.equal(readFileSync(`/proc/${pid}/oom_score_adj`, 'utf8'), '456\n');
      assert.equal(readFileSync(fake, 'utf8'), '0\n');
    } finally {
      assert.equal(runc(b, ['delete', '--force', id]).status, 0);
    }
  });
});
