// The container files berthd itself reads or writes outside docker cp:
// /etc/passwd and /etc/group (to turn `-u name` into numbers, at run, exec
// and healthchecks), and the /etc/hosts, /etc/resolv.conf, /etc/hostname it
// bind-mounts and rewrites on restart, rename and network changes. An image
// or a running container that makes them symlinks to host files, a FIFO or
// /dev/zero must give berthd neither the host's accounts, nor a hang, nor
// its memory; and nothing it writes may land on the host through them.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Berthd } from '../../helpers/berthd.js';
import { berthdSkip, startBerthdStack, type BerthdStack } from '../../helpers/berthd-stack.js';
import { makeBusyboxImageArchive } from '../../helpers/image-archive.js';

const skip = berthdSkip('engine');

let s: BerthdStack | undefined;
let b: Berthd;
let IMG = '';
const scratch = mkdtempSync('/tmp/berthd-hostile-files-');
const tag = (n: string) => `hostile-files-${process.pid}-${n}:latest`;
// Host files a container would like berthd to read or overwrite.
const hostPasswd = join(scratch, 'host-passwd');
const hostGroup = join(scratch, 'host-group');
const HOST_USER = `hostonly${process.pid}`;

before(async () => {
  if (skip) return;
  writeFileSync(hostPasswd, `${HOST_USER}:x:4242:4343::/:/bin/sh\n`);
  writeFileSync(hostGroup, `${HOST_USER}:x:4343:\n`);
  s = await startBerthdStack('engine', { prefix: 'berthd-hfiles-eng-' });
  ({ b, img: IMG } = s);
  b.ok(['pull', '-q', IMG]);
});

after(async () => {
  await s?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

test('-u name against an image whose /etc/passwd is a host symlink, a FIFO or /dev/zero', { skip }, () => {
  const cases: [string, (root: string) => void][] = [
    [
      'host-link',
      (root) => {
        unlinkSync(join(root, 'etc/passwd'));
        unlinkSync(join(root, 'etc/group'));
        symlinkSync(hostPasswd, join(root, 'etc/passwd'));
        symlinkSync(hostGroup, join(root, 'etc/group'));
      },
    ],
    [
      'fifo',
      (root) => {
        unlinkSync(join(root, 'etc/passwd'));
        execFileSync('mkfifo', [join(root, 'etc/passwd')]);
      },
    ],
    [
      'zero',
      (root) => {
        unlinkSync(join(root, 'etc/passwd'));
        symlinkSync('/dev/zero', join(root, 'etc/passwd'));
      },
    ],
  ];
  for (const [what, edit] of cases) {
    const img = tag(what);
    const archive = makeBusyboxImageArchive(scratch, img, `hostile-files-${what}`, { rootfs: edit });
    b.ok(['load', '-q', '-i', archive.file]);
    const t0 = Date.now();
    const r = b.docker(['run', '--rm', '--network', 'none', '-u', HOST_USER, img, 'id'], { timeout: 30000 });
    assert.notEqual(r.status, 0, `${what}: ${r.stdout}`);
    assert.match(r.stderr, new RegExp(`unable to find user ${HOST_USER}: no matching entries in passwd file`), what);
    assert.ok(Date.now() - t0 < 20000, `${what}: answered in ${Date.now() - t0} ms`);
    b.ok(['rmi', img]);
  }
});

test('docker exec -u name after the running container swapped its /etc/passwd for a host symlink', { skip }, () => {
  const name = `hostile-files-exec-${process.pid}`;
  b.ok(['run', '-d', '--name', name, '--network', 'none', IMG, 'sleep', '600']);
  try {
    b.ok(['exec', name, 'sh', '-c', `ln -sf ${hostPasswd} /etc/passwd && ln -sf ${hostGroup} /etc/group`]);
    const r = b.docker(['exec', '-u', HOST_USER, name, 'id', '-u'], { timeout: 30000 });
    assert.notEqual(r.status, 0, `the host's account was used: ${r.stdout}`);
    // dockerd's words, which the CLI prints on the exec's own output.
    assert.match(r.stdout + r.stderr, new RegExp(`unable to find user ${HOST_USER}: no matching entries`));
    // The container's own account still resolves (its passwd, inside it).
    b.ok(['exec', name, 'sh', '-c', `rm /etc/passwd && echo "inside:x:777:777::/:/bin/sh" > /etc/passwd`]);
    assert.equal(b.ok(['exec', '-u', 'inside', name, 'id', '-u']).trim(), '777');
  } finally {
    b.docker(['rm', '-f', name]);
  }
});

test(
  '/etc/hosts, resolv.conf, hostname replaced by host symlinks: restart and rename write only berthd files',
  { skip },
  () => {
    const name = `hostile-files-hosts-${process.pid}`;
    const canaries = ['hosts', 'resolv.conf', 'hostname'].map((f) => join(scratch, `canary-${f}`));
    for (const c of canaries) writeFileSync(c, 'host canary\n');
    // Privileged: it can unmount berthd's binds and put symlinks in their place in its rootfs.
    b.ok(['run', '-d', '--privileged', '--name', name, IMG, 'sleep', '600']);
    try {
      const files = ['hosts', 'resolv.conf', 'hostname'];
      const plant = files.map((f, i) => `umount /etc/${f}; rm -f /etc/${f}; ln -s ${canaries[i]} /etc/${f}`).join('; ');
      b.ok(['exec', name, 'sh', '-c', plant]);
      const paths = JSON.parse(
        b
          .ok(['inspect', '-f', '{{json .HostsPath}} {{json .ResolvConfPath}} {{json .HostnamePath}}', name])
          .trim()
          .replace(/ /g, ',')
          .replace(/^/, '[')
          .replace(/$/, ']'),
      ) as string[];
      b.ok(['restart', '-t', '0', name]);
      b.ok(['rename', name, `${name}-2`]);
      b.ok(['restart', '-t', '0', `${name}-2`]);
      for (const c of canaries) assert.equal(readFileSync(c, 'utf8'), 'host canary\n', `${c} untouched`);
      // berthd's own files, in its container directory.
      for (const p of paths) assert.ok(statSync(p).isFile(), p);
      // The runtime resolved the bind targets inside the container: the
      // symlinks lead to the canaries' paths in its own tree, where berthd's
      // files are mounted now.
      const inside = b.ok(['exec', `${name}-2`, 'cat', '/etc/hosts', canaries[0]!]);
      assert.match(inside, /localhost[\s\S]*localhost/);
    } finally {
      b.docker(['rm', '-f', `${name}-2`]);
      b.docker(['rm', '-f', name]);
    }
  },
);
