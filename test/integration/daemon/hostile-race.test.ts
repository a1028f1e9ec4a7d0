// A running container that races berthd: a loop inside it swaps a directory
// for a symlink to a host path and back (rename, as fast as busybox can),
// while berthd copies into it (PUT /archive), out of it (GET and HEAD
// /archive), walks it (/changes) and exports it. berthd used to resolve a
// path and then use the path string again (tar -C, createWriteStream, lstat,
// readdir): a swap between the two sent the write or the read to the host.
// Now every directory is reached through a descriptor pinned as it is
// resolved. Each phase is bounded in time; the host path must never be
// written, and no byte or name of it may come back.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rawRequest, type Berthd } from '../../helpers/berthd.js';
import { makeBusyboxImageArchive } from '../../helpers/image-archive.js';
import { berthdSkip, startBerthdStack, type BerthdStack } from '../../helpers/berthd-stack.js';

const skip = berthdSkip('engine');

let s: BerthdStack | undefined;
let b: Berthd;
let IMG = '';
const scratch = mkdtempSync('/tmp/berthd-race-');
// The host side: what a swapped symlink points at.
const hostDir = join(scratch, 'host-dir');
const HOST_MARK = `host-secret-${process.pid}-`;
const HOST_NAME = `host-only-name-${process.pid}`;
const HOST_SIZE = 4321;
const name = `hostile-race-${process.pid}`;
/** How long each phase races. */
const PHASE_MS = 6000;
// renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) until killed.
const SWAPPER = `
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
a, b = sys.argv[1].encode(), sys.argv[2].encode()
print('SWAPPING', flush=True)
while True:
    libc.renameat2(-100, a, -100, b, 2)
`;
let swapper: ChildProcess | undefined;

before(async () => {
  if (skip) return;
  mkdirSync(hostDir);
  writeFileSync(join(hostDir, 'secret'), HOST_MARK.padEnd(HOST_SIZE, 'x'));
  writeFileSync(join(hostDir, HOST_NAME), HOST_MARK);
  s = await startBerthdStack('engine', { prefix: 'berthd-race-eng-' });
  ({ b, img: IMG } = s);
  b.ok(['pull', '-q', IMG]);
  // /race/d is a directory holding the container's own "secret", /race/l an
  // absolute symlink to the host directory's path; the swapper exchanges the
  // two names (renameat2 RENAME_EXCHANGE, through the container's root: the
  // very dentries a process inside would swap), so /race/d is at any instant
  // either the directory or the symlink.
  const setup = `mkdir -p /race/d && echo inside > /race/d/secret && ln -s ${hostDir} /race/l && exec sleep 600`;
  b.ok(['run', '-d', '--name', name, '--network', 'none', IMG, 'sh', '-c', setup]);
  for (let i = 0; i < 100 && b.docker(['exec', name, 'test', '-L', '/race/l']).status !== 0; i++)
    await new Promise((r) => setTimeout(r, 100));
  const pid = b.ok(['inspect', '-f', '{{.State.Pid}}', name]).trim();
  swapper = spawn('python3', ['-c', SWAPPER, `/proc/${pid}/root/race/d`, `/proc/${pid}/root/race/l`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve) => swapper!.stdout!.once('data', () => resolve()));
});

after(async () => {
  swapper?.kill('SIGKILL');
  if (s) b.docker(['rm', '-f', name]);
  await s?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

function hostUntouched(): void {
  assert.deepEqual(readdirSync(hostDir).sort(), [HOST_NAME, 'secret'].sort(), 'nothing written in the host dir');
}

async function race(fn: (i: number) => Promise<void>): Promise<number> {
  const end = Date.now() + PHASE_MS;
  let i = 0;
  while (Date.now() < end) await fn(i++);
  return i;
}

test('docker cp into the racing container (PUT /archive) never writes on the host', { skip }, async () => {
  const src = join(scratch, 'src');
  mkdirSync(join(src, 'd'), { recursive: true });
  const statuses = new Map<number, number>();
  const errors = new Set<string>();
  const n = await race(async (i) => {
    writeFileSync(join(src, 'd', `pwned-${i}`), 'from the archive\n');
    const tar = execFileSync('tar', ['-C', src, '--no-recursion', '-cf', '-', `d/pwned-${i}`]);
    const r = await rawRequest(b.sock, 'PUT', `/v1.50/containers/${name}/archive?path=/race`, tar, {
      'Content-Type': 'application/x-tar',
    });
    statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    if (r.status !== 200) errors.add(r.body.trim());
    hostUntouched();
  });
  // The race was run: every copy is in the container, some in its own
  // directory, some through its symlink (resolved inside it, at the host
  // directory's path there).
  const count = (cmd: string) => Number(b.ok(['exec', name, 'sh', '-c', `${cmd} | grep -c pwned || true`]).trim());
  // find walks by name: with the swapper running it misses a directory that is
  // a link at the moment it looks, so the swapper holds still while it counts
  swapper!.kill('SIGSTOP');
  let total: number;
  let throughLink: number;
  try {
    total = count('find / -xdev -name "pwned-*"');
    throughLink = count(`ls ${hostDir}`);
  } finally {
    swapper!.kill('SIGCONT');
  }
  assert.ok(n >= 20, `${n} copies in ${PHASE_MS} ms`);
  assert.equal(statuses.get(200), n, JSON.stringify([...statuses, ...errors]));
  assert.equal(total, n, `the copies are in the container (${total} of ${n})`);
  assert.ok(throughLink > 0 && throughLink < n, `some landed through the swapped link, inside: ${throughLink}/${n}`);
  hostUntouched();
});

test('docker cp out of the racing container (GET, HEAD /archive) never reads the host file', { skip }, async () => {
  let leaks = 0;
  let found = 0;
  const n = await race(async () => {
    const get = await rawRequest(b.sock, 'GET', `/v1.50/containers/${name}/archive?path=/race/d/secret`);
    if (get.body.includes(HOST_MARK)) leaks++;
    if (get.status === 200) found++;
    const head = await rawRequest(b.sock, 'HEAD', `/v1.50/containers/${name}/archive?path=/race/d/secret`);
    const stat = head.headers['x-docker-container-path-stat'];
    if (typeof stat === 'string') {
      const size = (JSON.parse(Buffer.from(stat, 'base64').toString()) as { size: number }).size;
      if (size === HOST_SIZE) leaks++;
    }
  });
  assert.ok(n >= 20, `${n} rounds`);
  assert.ok(found > 0, `the container's file was read ${found} times`);
  assert.equal(leaks, 0, `the host file was read ${leaks} times in ${n} rounds`);
});

test('docker diff and export of the racing container never list or read the host dir', { skip }, async () => {
  let leaks = 0;
  const n = await race(async () => {
    const diff = await rawRequest(b.sock, 'GET', `/v1.50/containers/${name}/changes`);
    assert.equal(diff.status, 200, diff.body);
    if (diff.body.includes(HOST_NAME)) leaks++;
    const exp = await rawRequest(b.sock, 'GET', `/v1.50/containers/${name}/export`);
    assert.equal(exp.status, 200);
    if (exp.body.includes(HOST_MARK) || exp.body.includes(HOST_NAME)) leaks++;
  });
  assert.ok(n >= 3, `${n} rounds`);
  assert.equal(leaks, 0, `the host dir showed ${leaks} times in ${n} rounds`);
  hostUntouched();
});

test('volume copy-up while another container of the volume swaps its directories for host symlinks', { skip }, () => {
  // An image with many files under /data/sub: the copy takes long enough
  // for the racer, which shares the named volume, to rename the directory
  // the copy just made and put a symlink to the host directory in its place.
  const img = `hostile-race-${process.pid}-copyup:latest`;
  const archive = makeBusyboxImageArchive(scratch, img, 'hostile-race-copyup', {
    rootfs: (root) => {
      mkdirSync(join(root, 'data/sub'), { recursive: true });
      for (let i = 0; i < 2000; i++) writeFileSync(join(root, 'data/sub', `f${i}`), `image file ${i}\n`);
    },
  });
  b.ok(['load', '-q', '-i', archive.file]);
  const racer = `while :; do mv /v/sub /v/moved-$$-$RANDOM 2>/dev/null && ln -s ${hostDir} /v/sub; done`;
  let swapped = 0;
  let copied = 0;
  try {
    for (let i = 0; i < 4; i++) {
      const vol = `hostile-race-${process.pid}-${i}`;
      b.ok(['volume', 'create', vol]);
      const r = b.ok(['run', '-d', '--network', 'none', '-v', `${vol}:/v`, IMG, 'sh', '-c', racer]).trim();
      try {
        // The copy either completes or stops at the member the racer moved, saying so.
        const run = b.docker(['run', '--rm', '--network', 'none', '-v', `${vol}:/data`, img, 'true']);
        hostUntouched();
        if (run.status !== 0) assert.match(run.stderr, /copying \/data of the image into its volume: /);
        else copied++;
        const mp = b.ok(['volume', 'inspect', '-f', '{{.Mountpoint}}', vol]).trim();
        if (readdirSync(mp).some((n) => n.startsWith('moved-'))) swapped++;
      } finally {
        b.docker(['rm', '-f', r]);
        b.docker(['volume', 'rm', vol]);
      }
    }
  } finally {
    b.docker(['rmi', img]);
  }
  assert.ok(swapped > 0, `the racer renamed a directory the copy made (${swapped} of 4 runs, ${copied} copied whole)`);
  hostUntouched();
});

test("docker system df counts a volume's files, never the host dir a swapped symlink names", { skip }, async () => {
  const vol = `hostile-race-df-${process.pid}`;
  const c = `hostile-race-df-${process.pid}`;
  const setup = `mkdir -p /v/d && echo inside > /v/d/secret && ln -s ${hostDir} /v/l && exec sleep 600`;
  b.ok(['run', '-d', '--name', c, '--network', 'none', '-v', `${vol}:/v`, IMG, 'sh', '-c', setup]);
  let swap: ChildProcess | undefined;
  try {
    for (let i = 0; i < 100 && b.docker(['exec', c, 'test', '-L', '/v/l']).status !== 0; i++)
      await new Promise((r) => setTimeout(r, 100));
    const mp = b.ok(['volume', 'inspect', '-f', '{{.Mountpoint}}', vol]).trim();
    swap = spawn('python3', ['-c', SWAPPER, join(mp, 'd'), join(mp, 'l')], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => swap!.stdout!.once('data', () => resolve()));
    const sizes = new Set<number>();
    const n = await race(async () => {
      const df = await rawRequest(b.sock, 'GET', '/v1.50/system/df?type=volume');
      assert.equal(df.status, 200, df.body);
      const v = (JSON.parse(df.body) as { Volumes: { Name: string; UsageData: { Size: number } }[] }).Volumes.find(
        (x) => x.Name === vol,
      );
      sizes.add(v?.UsageData.Size ?? -2);
    });
    // "inside\n" and the symlink (its target's length), either missed when
    // the swap moved it between the listing and the look: never the host's.
    const own = [0, 7, hostDir.length, 7 + hostDir.length];
    assert.ok(
      [...sizes].every((x) => own.includes(x)),
      `${n} rounds: sizes ${[...sizes].join(' ')}, the volume's own: ${own.join(' ')}`,
    );
    assert.ok(sizes.has(7 + hostDir.length), 'the whole volume counted at least once');
  } finally {
    swap?.kill('SIGKILL');
    b.docker(['rm', '-f', c]);
    b.docker(['volume', 'rm', vol]);
  }
});
