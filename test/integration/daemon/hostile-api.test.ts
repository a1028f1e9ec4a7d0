// Hostile input at berthd (on berth-engine), through the real docker CLI
// where it can send it and raw requests where no client would: an image
// whose VOLUMEs climb out of the root or are symlinks to host paths
// (containerd's CVE-2022-23648: copy-up must read the container's files,
// never the host's), and API bodies that are deeply nested, hold numbers no
// field can take, the wrong types, negative sizes, and names with unicode,
// "/" or "..". Each is refused with dockerd's status naming the field, or
// done as dockerd does; berthd keeps serving; nothing is left half-made.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  chownSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { rawRequest, type Berthd } from '../../helpers/berthd.js';
import { berthdSkip, startBerthdStack, type BerthdStack } from '../../helpers/berthd-stack.js';
import { makeBusyboxImageArchive } from '../../helpers/image-archive.js';

const skip = berthdSkip('engine');

let s: BerthdStack | undefined;
let b: Berthd;
let IMG = '';
const scratch = mkdtempSync('/tmp/berthd-hostile-');
const tag = (n: string) => `hostile-${process.pid}-${n}:latest`;

before(async () => {
  if (skip) return;
  s = await startBerthdStack('engine', { prefix: 'berthd-hostile-eng-' });
  ({ b, img: IMG } = s);
  b.ok(['pull', '-q', IMG]);
});

after(async () => {
  await s?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

async function waitFor(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !ok(); i++) await new Promise((r) => setTimeout(r, 100));
}

async function alive(): Promise<void> {
  const r = await rawRequest(b.sock, 'GET', '/_ping');
  assert.equal(r.status, 200, `berthd still serving:\n${b.logTail()}`);
}

const create = (body: unknown, query = '') =>
  rawRequest(
    b.sock,
    'POST',
    `/v1.50/containers/create${query}`,
    typeof body === 'string' ? body : JSON.stringify(body),
  );

/** Linux's dev_t split (glibc's gnu_dev_major/minor), for the small numbers a disk has. */
const major = (dev: number) => (dev >> 8) & 0xfff;
const minor = (dev: number) => (dev & 0xff) | ((dev >> 12) & 0xfff00);

const messageOf = (r: { body: string }) => (JSON.parse(r.body) as { message: string }).message;

test(
  'CVE-2022-23648: image VOLUMEs that climb out or are host symlinks copy up the container files only',
  { skip },
  () => {
    // On the host: what a hostile image would like to read into its volume.
    const host = join(scratch, 'host-secret');
    mkdirSync(host);
    writeFileSync(join(host, 'secret'), 'host-only\n');
    const img = tag('volumes');
    const archive = makeBusyboxImageArchive(scratch, img, 'hostile-volumes', {
      rootfs: (root) => {
        // An absolute symlink to the host path, a relative one that climbs,
        // and a directory reached by "..": all must resolve inside the root.
        symlinkSync(host, join(root, 'abs'));
        symlinkSync(`../../../../../../../..${host}`, join(root, 'rel'));
        mkdirSync(join(root, 'etc/inside'));
        writeFileSync(join(root, 'etc/inside/own'), 'image-file\n');
      },
      config: (c) => {
        c.Volumes = { '/abs': {}, '/rel': {}, '/../../../../../../etc/inside': {} };
      },
    });
    b.ok(['load', '-q', '-i', archive.file]);
    const before = b.ok(['volume', 'ls', '-q']).split('\n').filter(Boolean);
    const out = b.ok([
      'run',
      '--network',
      'none',
      img,
      'sh',
      '-c',
      'ls -A /abs /rel | tr "\\n" " "; echo; cat /etc/inside/own; grep -c host-only /abs/secret /rel/secret 2>&1 | tr "\\n" " "',
    ]);
    const lines = out.split('\n');
    assert.doesNotMatch(out, /host-only|secret:1/, out);
    assert.equal(
      lines[1],
      'image-file',
      "the climbing VOLUME is the container's /etc/inside, copied up from the image",
    );
    // The volumes, from the host: none holds the host's file.
    const made = b
      .ok(['volume', 'ls', '-q'])
      .split('\n')
      .filter((v) => v && !before.includes(v));
    assert.equal(made.length, 3, `three anonymous volumes: ${made.join(' ')}`);
    for (const v of made) {
      const mp = b.ok(['volume', 'inspect', '-f', '{{.Mountpoint}}', v]).trim();
      const files = readdirSync(mp);
      assert.ok(!files.includes('secret'), `volume ${v} got the host file`);
    }
    assert.ok(!existsSync('/etc/inside'), 'nothing made on the host at the climbing path');
    b.ok(['container', 'prune', '-f']);
    b.ok(['volume', 'rm', ...made]);
    b.ok(['rmi', img]);
  },
);

test('hostile image content: host device nodes in a layer, an environment execve cannot take', { skip }, () => {
  const img = tag('devices');
  const archive = makeBusyboxImageArchive(scratch, img, 'hostile-devices', {
    rootfs: (root) => {
      mkdirSync(join(root, 'evil'));
      // /dev/mem and the host's disk (its major:minor, whatever it is).
      execFileSync('mknod', ['-m', '0666', join(root, 'evil/mem'), 'c', '1', '1']);
      const disk = statSync('/').dev;
      execFileSync('mknod', ['-m', '0666', join(root, 'evil/disk'), 'b', String(major(disk)), String(minor(disk))]);
    },
  });
  b.ok(['load', '-q', '-i', archive.file]);
  // The nodes are there (dockerd keeps them too); the device cgroup denies them.
  const out = b.ok([
    'run',
    '--rm',
    '--network',
    'none',
    img,
    'sh',
    '-c',
    'stat -c %F /evil/mem /evil/disk; head -c1 /evil/mem >/dev/null 2>&1 || echo mem-denied; head -c1 /evil/disk >/dev/null 2>&1 || echo disk-denied',
  ]);
  assert.deepEqual(out.trim().split('\n'), [
    'character special file',
    'block special file',
    'mem-denied',
    'disk-denied',
  ]);
  b.ok(['rmi', img]);

  // A config whose Env is 7.5 MB (under the 16 MiB bound of a config):
  // loaded, and its run refused naming process.env, nothing left running.
  const envImg = tag('env');
  const envArchive = makeBusyboxImageArchive(scratch, envImg, 'hostile-env', {
    config: (c) => {
      c.Env = Array.from({ length: 50000 }, (_, i) => `V${i}=${'x'.repeat(150)}`);
    },
  });
  b.ok(['load', '-q', '-i', envArchive.file]);
  const name = `hostile-env-${process.pid}`;
  const run = b.docker(['run', '--name', name, '--network', 'none', envImg, 'true']);
  assert.notEqual(run.status, 0);
  assert.match(run.stderr, /process\.env: \d+ bytes of arguments and environment; execve takes at most/);
  assert.equal(b.ok(['inspect', '-f', '{{.State.Running}}', name]).trim(), 'false');
  b.ok(['rm', '-f', name]);
  b.ok(['rmi', envImg]);
});

test(
  'docker cp into a container: a tar member under a symlink the container planted never writes on the host',
  { skip },
  async () => {
    const canary = join(scratch, 'cp-canary');
    mkdirSync(canary);
    const name = `hostile-cp-${process.pid}`;
    // The container plants an absolute symlink to the host's canary path (and
    // a relative one that climbs): in the container both name its own files.
    b.ok([
      'run',
      '-d',
      '--name',
      name,
      '--network',
      'none',
      IMG,
      'sh',
      '-c',
      `mkdir -p ${canary} /home && ln -s ${canary} /home/abs && ln -s ../../../../..${canary} /home/rel && sleep 60`,
    ]);
    try {
      await waitFor(() => b.docker(['exec', name, 'test', '-L', '/home/rel']).status === 0);
      const src = join(scratch, 'cp-src');
      for (const dir of ['abs', 'rel']) {
        mkdirSync(join(src, dir), { recursive: true });
        writeFileSync(join(src, dir, 'pwned'), 'from the archive\n');
      }
      // Members under the symlinks, without their directory entries: what a
      // hostile client sends (the docker CLI would send the directories too).
      const tar = execFileSync('tar', ['-C', src, '--no-recursion', '-cf', '-', 'abs/pwned', 'rel/pwned']);
      const r = await rawRequest(b.sock, 'PUT', `/v1.50/containers/${name}/archive?path=/home`, tar, {
        'Content-Type': 'application/x-tar',
      });
      assert.equal(r.status, 200, r.body);
      assert.deepEqual(readdirSync(canary), [], 'nothing written on the host');
      // As dockerd (which chroots its tar): the members went where the
      // container's own symlinks lead, inside it.
      assert.equal(b.ok(['exec', name, 'cat', `${canary}/pwned`]), 'from the archive\n');
      b.ok(['exec', name, 'rm', `${canary}/pwned`]);
      // Through the CLI, with the path itself a symlink.
      const cli = b.docker(['cp', join(src, 'abs', 'pwned'), `${name}:/home/abs/`]);
      assert.equal(cli.status, 0, cli.stderr);
      assert.deepEqual(readdirSync(canary), [], 'docker cp to /home/abs/ wrote nothing on the host');
      assert.equal(
        b.ok(['exec', name, 'cat', `${canary}/pwned`]),
        'from the archive\n',
        "the container's own path got it",
      );
      // A member that climbs out of the extraction point is refused naming it.
      const climb = execFileSync('tar', ['-C', src, '-cf', '-', '--transform', 's,^abs/,../../abs/,', 'abs/pwned']);
      const up = await rawRequest(b.sock, 'PUT', `/v1.50/containers/${name}/archive?path=/home`, climb, {
        'Content-Type': 'application/x-tar',
      });
      assert.equal(up.status, 400, up.body);
      assert.match(messageOf(up), /archive member "\.\.\/\.\.\/abs\/pwned" is outside of \/home/);
      // A tree through the CLI: directories, modes, owners, a symlink and a hard link, as tar made them.
      const tree = join(scratch, 'tree');
      mkdirSync(join(tree, 'sub'), { recursive: true });
      writeFileSync(join(tree, 'sub/f'), 'f\n', { mode: 0o750 });
      chownSync(join(tree, 'sub/f'), 1234, 5678);
      symlinkSync('sub/f', join(tree, 'lnk'));
      linkSync(join(tree, 'sub/f'), join(tree, 'hard'));
      b.ok(['cp', '-a', tree, `${name}:/tmp/`]);
      assert.equal(
        b.ok([
          'exec',
          name,
          'sh',
          '-c',
          'cd /tmp/tree; stat -c "%n %a %u:%g %h" sub sub/f hard; readlink lnk; cat lnk',
        ]),
        'sub 755 0:0 2\nsub/f 750 1234:5678 2\nhard 750 1234:5678 2\nsub/f\nf\n',
      );
      // "/" of a running container is a directory (its root through /proc).
      b.ok(['cp', join(src, 'abs', 'pwned'), `${name}:/`]);
      assert.equal(b.ok(['exec', name, 'cat', '/pwned']), 'from the archive\n');
      await alive();
    } finally {
      b.docker(['rm', '-f', name]);
    }
  },
);

test('API bodies: deep nesting, huge numbers, wrong types and negative sizes are refused naming the field', async (t) => {
  if (skip) return t.skip(skip);
  const before = b.ok(['ps', '-aq']);
  const cases: [string, string | object, RegExp][] = [
    ['nesting', `{"Image":"x","Labels":${'['.repeat(100000)}${']'.repeat(100000)}}`, /./],
    ['nesting in an unknown field', `{"Image":"x","Junk":${'{"a":'.repeat(50000)}1${'}'.repeat(50000)}}`, /./],
    ['number beyond float', `{"Image":"${IMG}","HostConfig":{"Memory":1e400}}`, /Memory/],
    ['number beyond int64', `{"Image":"${IMG}","HostConfig":{"Memory":18446744073709551617}}`, /Memory/],
    ['fraction', { Image: IMG, HostConfig: { CpuShares: 1.5 } }, /CpuShares/],
    ['negative memory', { Image: IMG, HostConfig: { Memory: -5 } }, /[Mm]emory/],
    ['negative shm', { Image: IMG, HostConfig: { ShmSize: -1 } }, /ShmSize|SHM size/],
    ['negative pids', { Image: IMG, HostConfig: { NanoCpus: -1 } }, /NanoCpus|CPU/i],
    ['wrong type Env', { Image: IMG, Env: 'A=1' }, /Env/],
    ['wrong type Labels', { Image: IMG, Labels: ['a'] }, /Labels/],
    ['wrong type Binds', { Image: IMG, HostConfig: { Binds: { a: 1 } } }, /Binds/],
    ['wrong type Image', { Image: 42 }, /Image/],
    ['null body', 'null', /./],
    ['array body', '[]', /./],
  ];
  for (const [what, body, why] of cases) {
    const r = await create(body);
    assert.equal(r.status >= 400 && r.status < 500, true, `${what}: ${r.status} ${r.body.slice(0, 300)}`);
    assert.match(messageOf(r), why, what);
    await alive();
  }
  assert.equal(b.ok(['ps', '-aq']), before, 'no half-made container');

  // An environment the kernel cannot pass to execve (7.5 MB): dockerd creates
  // the container and its start fails (E2BIG); here the start is refused
  // naming process.env before anything runs.
  const env = Array.from({ length: 50000 }, (_, i) => `V${i}=${'x'.repeat(150)}`);
  const big = await create({ Image: IMG, Env: env, Cmd: ['true'], HostConfig: { NetworkMode: 'none' } });
  assert.equal(big.status, 201, big.body);
  const id = (JSON.parse(big.body) as { Id: string }).Id;
  const start = await rawRequest(b.sock, 'POST', `/v1.50/containers/${id}/start`);
  assert.ok(start.status >= 400, `${start.status} ${start.body.slice(0, 300)}`);
  assert.match(messageOf(start), /process\.env: \d+ bytes of arguments and environment; execve takes at most/);
  await alive();
  assert.equal(b.ok(['inspect', '-f', '{{.State.Running}}', id]).trim(), 'false');
  b.ok(['rm', '-f', id]);
  assert.equal(b.ok(['ps', '-aq']), before, 'nothing left');
});

test('names with unicode, "/" and ".." are refused for containers, volumes, networks and tags; nothing made', async (t) => {
  if (skip) return t.skip(skip);
  const before = {
    ps: b.ok(['ps', '-aq']),
    vols: b.ok(['volume', 'ls', '-q']),
    nets: b.ok(['network', 'ls', '-q']),
  };
  for (const name of ['ünïcode', 'a/b', '..', '../../etc', '-x', 'a\u0000b', 'a b']) {
    const r = await create({ Image: IMG }, `?name=${encodeURIComponent(name)}`);
    assert.equal(r.status, 400, `container ${name}: ${r.body}`);
    assert.match(messageOf(r), /Invalid container name/, name);
  }
  // Through the CLI as well: the words the user sees.
  const cli = b.docker(['create', '--name', 'bad/name', IMG]);
  assert.notEqual(cli.status, 0);
  assert.match(cli.stderr, /Invalid container name \(bad\/name\), only \[a-zA-Z0-9\]\[a-zA-Z0-9_.-\] are allowed/);
  for (const name of ['../../escape', '..', 'a/b', 'ü']) {
    const r = await rawRequest(b.sock, 'POST', '/v1.50/volumes/create', JSON.stringify({ Name: name }));
    assert.equal(r.status, 400, `volume ${name}: ${r.body}`);
    assert.match(messageOf(r), /includes invalid characters for a local volume name|too short/, name);
  }
  const vol = b.docker(['volume', 'create', '../../escape']);
  assert.notEqual(vol.status, 0);
  // Network names are free text for dockerd (bridges are named from the
  // id), but an empty one is refused, and so is a bridge name that is no
  // interface name; refused before any link is made.
  const noName = await rawRequest(b.sock, 'POST', '/v1.50/networks/create', JSON.stringify({ Name: '' }));
  assert.equal(noName.status, 400, noName.body);
  for (const br of ['../x', 'a/b', 'x'.repeat(16), 'a b']) {
    const r = await rawRequest(
      b.sock,
      'POST',
      '/v1.50/networks/create',
      JSON.stringify({ Name: `hostile-${process.pid}`, Options: { 'com.docker.network.bridge.name': br } }),
    );
    assert.equal(r.status, 400, `bridge name ${br}: ${r.body}`);
    assert.match(messageOf(r), /bridge name/);
  }
  for (const repo of ['../../x', 'UPPER', 'a//b', 'ü']) {
    const r = await rawRequest(
      b.sock,
      'POST',
      `/v1.50/images/${encodeURIComponent(IMG)}/tag?repo=${encodeURIComponent(repo)}&tag=t`,
    );
    assert.equal(r.status, 400, `tag ${repo}: ${r.body}`);
  }
  // Ids in paths: climbing ones are unknown ids, never files.
  for (const path of ['/v1.50/containers/..%2F..%2Fetc/json', '/v1.50/volumes/..%2F..%2Fetc']) {
    const r = await rawRequest(b.sock, 'GET', path);
    assert.equal(r.status, 404, `${path}: ${r.body}`);
  }
  // An image name that climbs is no reference at all (dockerd's 400).
  const img = await rawRequest(b.sock, 'GET', '/v1.50/images/..%2F..%2Fetc/json');
  assert.equal(img.status, 400, img.body);
  assert.match(messageOf(img), /invalid reference format/);
  await alive();
  assert.equal(b.ok(['ps', '-aq']), before.ps, 'no container made');
  assert.equal(b.ok(['volume', 'ls', '-q']), before.vols, 'no volume made');
  assert.equal(b.ok(['network', 'ls', '-q']), before.nets, 'no network made');
});
