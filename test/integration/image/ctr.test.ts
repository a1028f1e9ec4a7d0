import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { tempDir, busyboxTar, privateCtr, run, toolsMissing } from './fixtures.js';

const { ctr, ok } = privateCtr('ctr-test');

test(
  'berth-ctr: import, ls, tag, inspect, export, content, unpack, snapshots, gc',
  { skip: toolsMissing },
  async () => {
    const t = tempDir('berth-ctr-');
    const root = join(t.dir, 'root');
    try {
      busyboxTar(join(t.dir, 'rootfs.tar'));
      const imported = ok(root, [
        'images',
        'import',
        '--rootfs',
        '-c',
        'CMD ["/bin/sh"]',
        '--change',
        'ENV A=1',
        join(t.dir, 'rootfs.tar'),
        'localhost/ctr/busybox:1',
      ]);
      const [name, digest] = imported.trim().split(' ');
      assert.equal(name, 'localhost/ctr/busybox:1');
      assert.match(digest!, /^sha256:[a-f0-9]{64}$/);

      ok(root, ['images', 'tag', 'localhost/ctr/busybox:1', 'busybox:ctr']);
      assert.deepEqual(ok(root, ['images', 'ls', '-q']).trim().split('\n'), [
        'docker.io/library/busybox:ctr',
        'localhost/ctr/busybox:1',
      ]);
      const table = ok(root, ['images', 'ls']);
      assert.match(table, /^REF\s+TYPE\s+DIGEST\s+SIZE\s+PLATFORMS/);
      assert.match(table, /linux\/amd64|linux\/arm64/);

      const inspect = JSON.parse(ok(root, ['images', 'inspect', 'busybox:ctr']));
      assert.equal(inspect.target.digest, digest);
      assert.equal(inspect.familiarName, 'busybox:ctr');
      assert.equal(inspect.config.rootfs.diff_ids.length, 1);
      assert.deepEqual(inspect.config.config.Cmd, ['/bin/sh']);
      assert.deepEqual(inspect.config.config.Env, ['A=1']);
      const diffId: string = inspect.config.rootfs.diff_ids[0];
      assert.equal(
        diffId,
        'sha256:' +
          createHash('sha256')
            .update(readFileSync(join(t.dir, 'rootfs.tar')))
            .digest('hex'),
      );

      // content get returns the exact bytes; ls lists them.
      const manifest = ctr(root, ['content', 'get', digest!]);
      assert.equal(manifest.code, 0);
      assert.equal('sha256:' + createHash('sha256').update(manifest.raw).digest('hex'), digest);
      assert.equal(ok(root, ['content', 'ls', '-q']).trim().split('\n').length, 3);
      assert.equal(ok(root, ['content', 'label', digest!, 'a=1', 'b=2']).trim(), 'a=1,b=2');
      assert.equal(ok(root, ['content', 'label', digest!, 'a']).trim(), 'b=2');
      assert.match(ok(root, ['content', 'ls']), /b=2/);

      // export → skopeo reads it.
      const out = join(t.dir, 'out.tar');
      ok(root, ['images', 'export', out, 'busybox:ctr']);
      const sk = JSON.parse(run('skopeo', ['inspect', `oci-archive:${out}:ctr`]));
      assert.equal(sk.Digest, digest);

      // unpack and snapshots.
      const unpacked = ok(root, ['--snapshotter', 'native', 'images', 'unpack', 'busybox:ctr']);
      assert.ok(unpacked.includes(diffId), unpacked);
      assert.ok(ok(root, ['--snapshotter', 'native', 'snapshots', 'ls']).includes(diffId));
      const mounts = ok(root, ['--snapshotter', 'native', 'snapshots', 'prepare', '--mounts', 'c1', diffId]);
      assert.match(mounts, /^mount -t \S+ \S+ \/tmp\/mnt/);
      assert.match(ok(root, ['--snapshotter', 'native', 'snapshots', 'mount', '/target', 'c1']), /\/target/);
      ok(root, ['--snapshotter', 'native', 'snapshots', 'rm', 'c1']);

      // A lease keeps a blob through gc until it is removed.
      assert.equal(ok(root, ['leases', 'create', '--id', 'hold', '--expires', '1h']).trim(), 'hold');
      assert.match(ok(root, ['leases', 'ls']), /^hold\s/m);
      ok(root, ['leases', 'rm', 'hold']);
      assert.equal(ok(root, ['leases', 'ls']).trim().split('\n').length, 1);

      // rm + gc frees the content and the snapshot.
      ok(root, ['images', 'rm', 'busybox:ctr', 'localhost/ctr/busybox:1']);
      const gc = ok(root, ['--snapshotter', 'native', 'gc']);
      assert.match(gc, /removed 3 blob\(s\), 1 snapshot\(s\)/);
      assert.equal(ok(root, ['content', 'ls', '-q']).trim(), '');
    } finally {
      t.cleanup();
    }
  },
);

test('berth-ctr: errors are "berth-ctr: <message>" with a non-zero status', () => {
  const t = tempDir('berth-ctr-');
  try {
    const root = join(t.dir, 'root');
    const cases: [string[], number, RegExp][] = [
      [['images', 'rm', 'nope'], 1, /^berth-ctr: image "nope": not found$/m],
      [
        ['images', 'inspect', 'Bad_Name'],
        1,
        /^berth-ctr: invalid reference "Bad_Name": repository name must be lowercase/m,
      ],
      [['content', 'get', 'sha256:abc'], 1, /^berth-ctr: invalid digest "sha256:abc"/m],
      [['content', 'rm', 'sha256:' + 'a'.repeat(64)], 1, /^berth-ctr: content sha256:a+: not found/m],
      [['images', 'import', join(t.dir, 'missing.tar')], 1, /^berth-ctr: .*missing\.tar: no such file/m],
      [['frobnicate'], 2, /^berth-ctr: unknown command "frobnicate"/m],
      [['images', 'zap'], 2, /^berth-ctr: unknown command "images zap"/m],
      [['images', 'ls', '--bogus'], 2, /^berth-ctr: flag provided but not defined: -bogus/m],
      [['images', 'tag', 'one'], 2, /^berth-ctr: usage: berth-ctr images tag/m],
      [['images', 'export', '--format', 'zip', 'out', 'x'], 2, /--format must be/],
    ];
    for (const [args, code, re] of cases) {
      const r = ctr(root, args);
      assert.equal(r.code, code, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, re, args.join(' '));
    }
    assert.match(ctr(root, ['--help']).out, /USAGE/);
  } finally {
    t.cleanup();
  }
});
