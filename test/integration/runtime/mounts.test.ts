// Root filesystem and mounts: what the container sees, and that nothing a
// rootfs contains can send a mount outside it.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  readFileSync,
  existsSync,
} from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import { isRoot, runOut, suiteBundles } from '../../helpers/runtime.js';
import type { Spec } from '../../../src/runtime/spec/types.js';

const skip = !isRoot() ? 'needs root' : false;

function hostMounts(): string {
  return readFileSync('/proc/self/mountinfo', 'utf8');
}

describe('mounts', { skip }, () => {
  const made = suiteBundles();
  const temps: string[] = [];
  after(() => temps.forEach((t) => rmSync(t, { recursive: true, force: true })));
  const bundle = (script: string, edit?: (s: Spec, rootfs: string) => void) => {
    const b = made(script);
    edit?.(b.spec, b.rootfs);
    b.write();
    return b;
  };
  const tmp = () => {
    const t = mkdtempSync(join(tmpdir(), 'berth-host-'));
    temps.push(t);
    return t;
  };

  it('default mounts, devices and /dev symlinks', () => {
    const b = bundle(
      'grep -E " (/proc|/dev|/dev/pts|/dev/shm|/dev/mqueue|/sys) " /proc/self/mountinfo | cut -d" " -f5,8 | sort; ls -l /dev | grep -E "null|zero|full|random|tty|fd|stdin|ptmx" | sed "s/  */ /g" | cut -d" " -f1,5,6,9-',
    );
    const r = runOut(b);
    assert.equal(r.code, 0, r.err);
    for (const m of [
      '/dev tmpfs',
      '/dev/mqueue mqueue',
      '/dev/pts devpts',
      '/dev/shm tmpfs',
      '/proc proc',
      '/sys sysfs',
    ])
      assert.ok(r.out.includes(m), m);
    assert.match(r.out, /crw-rw-rw- 1, 3 .*null/);
    assert.match(r.out, /crw-rw-rw- 1, 9 .*urandom/);
    assert.match(r.out, /crw-rw-rw- 5, 0 .*tty/);
    assert.match(r.out, /fd -> \/proc\/self\/fd/);
    assert.match(r.out, /ptmx -> pts\/ptmx/);
  });

  it('tmpcopyup: the tmpfs starts with a copy of the directory under it (owners, modes, links, nodes); the rootfs is untouched', () => {
    const outside = tmp();
    writeFileSync(join(outside, 'secret'), 'host file\n');
    const b = bundle(
      [
        'grep " /seed " /proc/self/mountinfo | cut -d" " -f9',
        'cd /seed && for f in file sub sub/deep link fifo; do stat -c "%n %F %a %u:%g" $f; done',
        'cat /seed/file /seed/sub/deep; readlink /seed/link; readlink /seed/escape',
        'echo changed > /seed/file; echo new > /seed/new; echo via > /seed/escape 2>/dev/null; true',
      ].join('; '),
      (_s, rootfs) => {
        mkdirSync(join(rootfs, 'seed/sub'), { recursive: true });
        writeFileSync(join(rootfs, 'seed/file'), 'seeded\n', { mode: 0o604 });
        writeFileSync(join(rootfs, 'seed/sub/deep'), 'deep\n');
        execFileSync('chown', ['1000:1001', join(rootfs, 'seed/file')]);
        execFileSync('chmod', ['0711', join(rootfs, 'seed/sub')]);
        symlinkSync('sub/deep', join(rootfs, 'seed/link'));
        // A link out of the rootfs is copied as a link, never followed.
        symlinkSync(join(outside, 'secret'), join(rootfs, 'seed/escape'));
        execFileSync('mkfifo', ['-m', '0600', join(rootfs, 'seed/fifo')]);
        _s.mounts!.push({
          destination: '/seed',
          type: 'tmpfs',
          source: 'tmpfs',
          options: ['nosuid', 'nodev', 'tmpcopyup', 'mode=755'],
        });
      },
    );
    const r = runOut(b);
    assert.equal(r.code, 0, r.err);
    assert.equal(
      r.out,
      [
        'tmpfs',
        'file regular file 604 1000:1001',
        'sub directory 711 0:0',
        'sub/deep regular file 644 0:0',
        'link symbolic link 777 0:0',
        'fifo fifo 600 0:0',
        'seeded',
        'deep',
        'sub/deep',
        join(outside, 'secret'),
        '',
      ].join('\n'),
    );
    // What the container wrote went to its tmpfs, not to the rootfs, and not through the link.
    assert.equal(readFileSync(join(b.rootfs, 'seed/file'), 'utf8'), 'seeded\n');
    assert.ok(!existsSync(join(b.rootfs, 'seed/new')));
    assert.equal(readFileSync(join(outside, 'secret'), 'utf8'), 'host file\n');
  });

  it('recursive options (rro, rnosuid, rnoexec) reach the submounts too; plain ro does not', () => {
    const host = tmp();
    mkdirSync(join(host, 'sub'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'berth-sub', join(host, 'sub')]);
    try {
      const script =
        'for d in /rec /rec/sub /plain /plain/sub; do if touch $d/f 2>/dev/null; then echo "$d rw"; else echo "$d ro"; fi; done; grep -E " /(rec|plain)(/sub)? " /proc/self/mountinfo | cut -d" " -f5,6 | sort';
      const b = bundle(script, (s) => {
        s.mounts!.push({
          destination: '/rec',
          type: 'bind',
          source: host,
          options: ['rbind', 'rro', 'rnosuid', 'rnoexec'],
        });
        s.mounts!.push({ destination: '/plain', type: 'bind', source: host, options: ['rbind', 'ro'] });
      });
      const r = runOut(b);
      assert.equal(r.code, 0, r.err);
      const lines = r.out.trim().split('\n');
      assert.deepEqual(lines.slice(0, 4), ['/rec ro', '/rec/sub ro', '/plain ro', '/plain/sub rw']);
      const opts = new Map(lines.slice(4).map((l) => l.split(' ') as [string, string]));
      for (const m of ['/rec', '/rec/sub'])
        assert.match(opts.get(m) ?? '', /^ro,nosuid,[^ ]*noexec/, `${m}: ${opts.get(m)}`);
      assert.match(opts.get('/plain/sub') ?? '', /^rw/);
      // The host's mounts are not touched.
      assert.match(
        hostMounts()
          .split('\n')
          .find((l) => l.includes(` ${join(host, 'sub')} `)) ?? '',
        / rw,/,
      );
    } finally {
      execFileSync('umount', [join(host, 'sub')]);
    }
  });

  it('bind mounts: read-only, files, rbind; options reach the kernel', () => {
    const host = tmp();
    writeFileSync(join(host, 'file'), 'from host\n');
    mkdirSync(join(host, 'sub'));
    const b = bundle(
      'cat /data/file; echo x > /data/new && echo WROTE; cat /one; echo y > /rw/new; grep -E " /(data|rw) " /proc/self/mountinfo | cut -d" " -f5,6',
      (s) => {
        s.mounts!.push({ destination: '/data', type: 'bind', source: host, options: ['rbind', 'ro', 'nosuid'] });
        s.mounts!.push({ destination: '/one', type: 'bind', source: join(host, 'file'), options: ['bind'] });
        s.mounts!.push({ destination: '/rw', source: join(host, 'sub'), options: ['rbind', 'rw'] });
      },
    );
    const r = runOut(b);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^from host\n/);
    assert.ok(!r.out.includes('WROTE'));
    assert.match(r.err, /Read-only file system/);
    assert.match(r.out, /from host\n\/data ro,nosuid/);
    assert.match(r.out, /\/rw rw/);
    assert.equal(readFileSync(join(host, 'sub/new'), 'utf8'), 'y\n');
    assert.ok(!existsSync(join(host, 'new')));
  });

  it('tmpfs with size and mode data', () => {
    const b = bundle('grep " /scratch " /proc/self/mountinfo | cut -d" " -f6,9-; stat -c %a /scratch', (s) => {
      s.mounts!.push({
        destination: '/scratch',
        type: 'tmpfs',
        source: 'tmpfs',
        options: ['nosuid', 'noexec', 'size=1m', 'mode=1777'],
      });
    });
    const r = runOut(b);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /rw,nosuid,nodev?.*noexec.*tmpfs tmpfs rw,size=1024k,mode=1777|rw,nosuid,noexec/);
    assert.match(r.out, /1777$/m);
  });

  it('masked and read-only paths', () => {
    const b = bundle(
      'cat /proc/kcore | wc -c; ls /sys/kernel | wc -l; echo 1 > /proc/sys/kernel/ostype 2>&1 || echo RO; ls /sys/firmware | wc -l',
      (s) => {
        s.linux!.maskedPaths = ['/proc/kcore', '/sys/kernel', '/sys/firmware', '/does/not/exist'];
        s.linux!.readonlyPaths = ['/proc/sys', '/nope'];
      },
    );
    const r = runOut(b);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(r.out.trim().split('\n'), ['0', '0', 'RO', '0']);
  });

  it('a read-only root filesystem', () => {
    const b = bundle(
      'touch /x 2>/dev/null && echo WROTE; touch /tmp/y 2>/dev/null && echo WROTE-TMP; grep -E "^[0-9]+ [0-9]+ [^ ]+ [^ ]+ / " /proc/self/mountinfo | cut -d" " -f6',
      (s) => {
        s.root!.readonly = true;
      },
    );
    const r = runOut(b);
    assert.equal(r.code, 0, r.err);
    assert.ok(!r.out.includes('WROTE'));
    assert.match(r.out, /^ro/m);
  });

  it('mount targets that are symlinks out of the rootfs stay inside it', () => {
    const out1 = tmp();
    const out2 = tmp();
    const out3 = tmp();
    const source = tmp();
    writeFileSync(join(source, 'payload'), 'payload');
    writeFileSync(join(out3, 'secret'), 'secret');
    let rootfsDir = '';
    const b = bundle(
      'cat /evil/payload; echo; ls /deep/evil2; ls /abs/sub; cat /abs/secret 2>/dev/null; true',
      (s, rootfs) => {
        rootfsDir = rootfs;
        // Each target would land on a host directory if followed naively.
        symlinkSync(out1, join(rootfs, 'evil'));
        mkdirSync(join(rootfs, 'deep'));
        symlinkSync('../../../../../../..' + out2, join(rootfs, 'deep/evil2'));
        symlinkSync(out3, join(rootfs, 'abs'));
        s.mounts!.push({ destination: '/evil', type: 'bind', source, options: ['bind'] });
        s.mounts!.push({ destination: '/deep/evil2', type: 'tmpfs', source: 'tmpfs' });
        s.mounts!.push({ destination: '/abs/sub', type: 'tmpfs', source: 'tmpfs' });
        // A masked path through the same kind of symlink.
        s.linux!.maskedPaths = ['/abs/secret'];
      },
    );
    const before = hostMounts();
    const r = runOut(b);
    assert.equal(r.code, 0, r.err);
    // The host's secret is not reachable through the rootfs symlink at all.
    assert.equal(r.out, 'payload\n');
    // The host directories got nothing: no mount, no new entry.
    assert.deepEqual(readdirSync(out1), []);
    assert.deepEqual(readdirSync(out2), []);
    assert.deepEqual(readdirSync(out3), ['secret']);
    assert.equal(readFileSync(join(out3, 'secret'), 'utf8'), 'secret');
    // (Other processes may mount meanwhile: look only at what this test could have touched.)
    const after = hostMounts()
      .split('\n')
      .filter((l) => [out1, out2, out3, b.dir].some((d) => l.includes(d)));
    assert.deepEqual(
      after,
      before.split('\n').filter((l) => [out1, out2, out3, b.dir].some((d) => l.includes(d))),
    );
    assert.deepEqual(after, []);
    // The targets were made beneath the rootfs, where the symlinks point from its own root.
    for (const o of [out1, out2, join(out3, 'sub')]) assert.ok(existsSync(join(rootfsDir, o)), o);
  });

  it('a bind mount of a missing source is a clear error and leaves nothing', () => {
    const b = bundle('true', (s) => {
      s.mounts!.push({ destination: '/x', type: 'bind', source: '/nonexistent/source', options: ['bind'] });
    });
    const r = runOut(b);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /mounts\[\d+\]\.source: cannot bind \/nonexistent\/source/);
    assert.deepEqual(existsSync(b.root) ? readdirSync(b.root) : [], []);
  });

  it('an unknown filesystem type names the mount', () => {
    const b = bundle('true', (s) => {
      s.mounts!.push({ destination: '/x', type: 'nosuchfs', source: 'none' });
    });
    const r = runOut(b);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /berth-init: mount nosuchfs on \/x: no such device/);
    assert.deepEqual(existsSync(b.root) ? readdirSync(b.root) : [], []);
  });

  it('cgroup mount shows the container its own cgroups, read-only', () => {
    const b = bundle(
      'ls /sys/fs/cgroup; cat /sys/fs/cgroup/memory/memory.limit_in_bytes; touch /sys/fs/cgroup/memory/x 2>/dev/null && echo WROTE; true',
      (s) => {
        s.linux!.resources = { memory: { limit: 64 * 1024 * 1024 } };
      },
    );
    const r = runOut(b);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /memory/);
    assert.match(r.out, /^67108864$/m);
    assert.ok(!r.out.includes('WROTE'));
  });

  it('with a cgroup namespace the container sees its own cgroup as "/", and mounts it', () => {
    const v1 = readFileSync('/proc/self/cgroup', 'utf8').includes(':memory:');
    const limitFile = v1 ? '/sys/fs/cgroup/memory/memory.limit_in_bytes' : '/sys/fs/cgroup/memory.max';
    const b = bundle(`cat /proc/self/cgroup; echo limit=$(cat ${limitFile})`, (s) => {
      s.linux!.namespaces!.push({ type: 'cgroup' });
      s.linux!.resources = { memory: { limit: 64 * 1024 * 1024 } };
    });
    const r = runOut(b);
    assert.equal(r.code, 0, r.err);
    const lines = r.out.split('\n').filter((l) => /^\d+:/.test(l));
    assert.ok(lines.length > 0, r.out);
    // Every hierarchy: the namespace was made once the container was in its cgroups.
    for (const l of lines) assert.match(l, /^\d+:[^:]*:\/$/, r.out);
    // The cgroup filesystem mounted in the namespace is the container's cgroup.
    assert.match(r.out, /^limit=67108864$/m);
  });
});
