// The known runc escapes, each impossible by construction (native/README.md).
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { CLI, REPO, isRoot, runc, uniqueId, suiteBundles } from '../../helpers/runtime.js';

const skip = !isRoot() ? 'needs root' : false;
const INIT = join(REPO, 'native/build/berth-init');
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

describe('security', { skip }, () => {
  const bundle = suiteBundles();
  const temps: string[] = [];
  after(() => temps.forEach((t) => rmSync(t, { recursive: true, force: true })));

  it('the init never exposes a writable host binary through /proc/<pid>/exe', () => {
    const before = sha(INIT);
    const b = bundle('true');
    const id = uniqueId();
    assert.equal(runc(b, ['create', '--bundle', b.dir, id]).status, 0);
    const pid = JSON.parse(runc(b, ['state', id]).stdout).pid as number;
    // While it waits for start, the container's pid 1 is berth-init running from a sealed memfd.
    assert.match(readlinkSync(`/proc/${pid}/exe`), /^\/memfd:/);
    assert.throws(() => openSync(`/proc/${pid}/exe`, 'r+'), /ETXTBSY|EPERM|EACCES/);
    // From inside the container (root, default capabilities): /proc/1 is out of reach (non-dumpable).
    const r = runc(b, [
      'exec',
      id,
      'sh',
      '-c',
      'echo pwned >> /proc/1/exe; cat /proc/1/environ >/dev/null; readlink /proc/1/exe; cat /proc/self/environ >/dev/null && echo own-ok',
    ]);
    assert.match(r.stderr, /\/proc\/1\/exe: (Permission denied|Text file busy|Operation not permitted)/);
    assert.match(r.stderr, /\/proc\/1\/environ'?: Permission denied/);
    assert.match(r.stdout, /own-ok/);
    assert.equal(sha(INIT), before, 'host berth-init binary unchanged');
    assert.equal(runc(b, ['delete', '--force', id]).status, 0);
  });

  it('no host file descriptor reaches the container; --preserve-fds passes exactly the ones asked', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'berth-fd-'));
    temps.push(tmp);
    const secret = join(tmp, 'secret');
    writeFileSync(secret, 'host secret');
    const b = bundle('exec sleep 1000');
    const fd3 = openSync(secret, 'r');
    const fd4 = openSync(secret, 'r');
    const out = openSync(join(tmp, 'out'), 'w');
    try {
      // Read the container process's descriptors from the host, where nothing
      // the container runs can add one of its own.
      const fdsOf = (extra: string[]) => {
        const id = uniqueId();
        const r = spawnSync(CLI, ['--root', b.root, 'run', '-d', ...extra, '--bundle', b.dir, id], {
          stdio: ['ignore', out, out, fd3, fd4],
        });
        assert.equal(r.status, 0, readFileSync(join(tmp, 'out'), 'utf8'));
        const pid = JSON.parse(runc(b, ['state', id]).stdout).pid as number;
        const fds = readdirSync(`/proc/${pid}/fd`)
          .map(Number)
          .sort((a, z) => a - z);
        const targets = fds.map((f) => readlinkSync(`/proc/${pid}/fd/${f}`));
        assert.equal(runc(b, ['delete', '--force', id]).status, 0);
        return { fds, targets };
      };
      let r = fdsOf([]);
      assert.deepEqual(r.fds, [0, 1, 2]);
      assert.ok(!r.targets.includes(secret));
      r = fdsOf(['--preserve-fds', '1']);
      assert.deepEqual(r.fds, [0, 1, 2, 3]);
      assert.equal(r.targets[3], secret);
    } finally {
      closeSync(fd3);
      closeSync(fd4);
      closeSync(out);
    }
  });

  it("the runtime's working directory never becomes the container's", () => {
    const tmp = mkdtempSync(join(tmpdir(), 'berth-cwd-'));
    temps.push(tmp);
    writeFileSync(join(tmp, 'host-only'), 'x');
    const b = bundle('readlink /proc/self/cwd; ls; ls .. | head -3');
    const r = spawnSync(CLI, ['--root', b.root, 'run', '--bundle', b.dir, uniqueId()], { encoding: 'utf8', cwd: tmp });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^\/\n/);
    assert.ok(!r.stdout.includes('host-only'));
    assert.match(r.stdout, /\bbin\b/);
  });

  it('a cwd that names a leaked descriptor (CVE-2024-21626) cannot reach the host', () => {
    const b = bundle('pwd; ls', (s) => {
      s.process!.cwd = '/proc/self/fd/7';
    });
    const dirFd = openSync(tmpdir(), 'r');
    try {
      const r = spawnSync(CLI, ['--root', b.root, 'run', '--bundle', b.dir, uniqueId()], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe', 'ignore', 'ignore', 'ignore', 'ignore', dirFd],
      });
      // Either refused, or the cwd is inside the container: never the host's /tmp.
      if (r.status === 0) assert.ok(!r.stdout.includes('berth-'), r.stdout);
      else assert.match(r.stderr, /cwd|chdir/);
    } finally {
      closeSync(dirFd);
    }
  });
});
