// berthd on a real containerd, driven by the real docker CLI (28.x, and
// Debian's 20.10 once), docker-py and dockerode: pull from a local registry,
// run with exit codes, env/workdir/user, logs, exec, ps, inspect, stop/kill/rm,
// security defaults as the kernel reports them, volumes and binds, dockerd's
// error statuses (berthd still serving after each), and kill -9 of berthd with
// a container running (live-restore). One containerd, one registry and one
// berthd for the whole file.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { type RegistryInstance } from '../../helpers/registry.js';
import { rawRequest, DOCKER_28, DOCKER_20, type Berthd, pastEvents } from '../../helpers/berthd.js';
import { sleep, waitUntil } from '../../helpers/wait.js';
import { berthdSkip, startBerthdStack, type BerthdStack } from '../../helpers/berthd-stack.js';
import { scratchDir } from '../../helpers/scratch.js';

const skip = berthdSkip('containerd');

let s: BerthdStack | undefined;
let reg: RegistryInstance;
let b: Berthd;
let IMG = '';
const scratch = scratchDir('/tmp/berthd-test-files-');

before(async () => {
  if (skip) return;
  s = await startBerthdStack('containerd', { prefix: 'berthd-ctrd-' });
  ({ b, reg, img: IMG } = s);
});

after(async () => {
  await s?.stop();
});

async function alive(): Promise<void> {
  const r = await rawRequest(b.sock, 'GET', '/_ping');
  assert.equal(r.status, 200, `berthd still serving:\n${b.logTail()}`);
}

const ctrIn = (args: string[]) => s!.ctr(args);

test('/_ping headers, version negotiation, version and info', { skip }, async () => {
  const ping = await rawRequest(b.sock, 'GET', '/_ping');
  assert.equal(ping.status, 200);
  assert.equal(ping.body, 'OK');
  assert.equal(ping.headers['api-version'], '1.50');
  assert.equal(ping.headers['ostype'], 'linux');
  assert.equal(ping.headers['docker-experimental'], 'false');
  assert.ok(ping.headers['builder-version']);
  const head = await rawRequest(b.sock, 'HEAD', '/_ping');
  assert.equal(head.status, 200);

  const tooNew = await rawRequest(b.sock, 'GET', '/v1.99/version');
  assert.equal(tooNew.status, 400);
  assert.match(
    JSON.parse(tooNew.body).message,
    /client version 1\.99 is too new\. Maximum supported API version is 1\.50/,
  );
  const tooOld = await rawRequest(b.sock, 'GET', '/v1.12/version');
  assert.equal(tooOld.status, 400);
  assert.match(JSON.parse(tooOld.body).message, /too old\. Minimum supported API version is 1\.24/);
  const unknown = await rawRequest(b.sock, 'GET', '/v1.41/no/such/thing');
  assert.equal(unknown.status, 404);
  assert.equal(JSON.parse(unknown.body).message, 'page not found');

  assert.equal(b.ok(['version', '--format', '{{.Server.APIVersion}} {{.Server.MinAPIVersion}}']).trim(), '1.50 1.24');
  // Debian's 20.10 CLI negotiates down to its own 1.41.
  if (existsSync(DOCKER_20))
    assert.equal(
      b.ok(['version', '--format', '{{.Client.APIVersion}}/{{.Server.APIVersion}}'], { cli: DOCKER_20 }).trim(),
      '1.41/1.50',
    );
  assert.equal(b.ok(['info', '--format', '{{.Driver}}']).trim(), 'overlayfs');
  const cg = existsSync('/sys/fs/cgroup/cgroup.controllers') ? '2' : '1';
  assert.equal(
    b.ok(['info', '--format', '{{.CgroupVersion}} {{.CgroupDriver}} {{.LiveRestoreEnabled}}']).trim(),
    `${cg} cgroupfs true`,
  );
  assert.match(b.ok(['info', '--format', '{{json .SecurityOptions}}']), /name=seccomp,profile=builtin/);
});

test('pull: Docker progress, and containerd shows the image and its snapshot', { skip }, async () => {
  const out = b.ok(['pull', IMG]);
  assert.match(out, /Pull complete/);
  assert.match(out, /Digest: sha256:[a-f0-9]{64}/);
  assert.match(out, /Status: Downloaded newer image for/);
  assert.match(b.ok(['pull', IMG]), /Image is up to date/);
  // containerd's own CLI sees what berthd pulled: image record and committed snapshot.
  const images = ctrIn(['images', 'ls', '-q']).stdout.trim().split('\n');
  assert.deepEqual(images, [IMG]);
  const snaps = ctrIn(['snapshots', 'ls']).stdout;
  assert.match(snaps, /sha256:[a-f0-9]{64}\s+Committed/);
  const ls = b.ok(['images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']).trim();
  assert.match(ls, new RegExp(`^${reg.host}/berth/busybox:latest [a-f0-9]{12}$`));
  const insp = JSON.parse(b.ok(['image', 'inspect', IMG]))[0];
  assert.deepEqual(insp.Config.Cmd, ['/bin/sh']);
  assert.equal(insp.RootFS.Layers.length, 1);
  b.ok(['tag', IMG, 'bb-alias:1']);
  assert.match(b.ok(['images', '--format', '{{.Repository}}:{{.Tag}}']), /bb-alias:1/);
  assert.match(b.ok(['rmi', 'bb-alias:1']), /Untagged: bb-alias:1/);
  assert.ok(b.ok(['history', '-q', IMG]).trim().length > 0);

  // Push back to the registry under another name: the registry serves the same manifest.
  const pushedRef = `${reg.host}/berth/pushed:v1`;
  b.ok(['tag', IMG, pushedRef]);
  const pushed = b.ok(['push', pushedRef]);
  const digest = /v1: digest: (sha256:[a-f0-9]{64})/.exec(pushed)?.[1];
  assert.ok(digest, pushed);
  const sk = JSON.parse(
    spawnSync('skopeo', ['inspect', '--tls-verify=false', `docker://${pushedRef}`], { encoding: 'utf8' }).stdout,
  ) as { Digest: string };
  assert.equal(sk.Digest, digest);
  b.ok(['rmi', pushedRef]);
  const missing = b.docker(['pull', `${reg.host}/berth/nope:latest`]);
  assert.notEqual(missing.status, 0);
  assert.match(missing.stderr, /nope/);
  await alive();
});

test('run: output, exit codes, -e -w -u, --rm leaves nothing in containerd', { skip }, async () => {
  const r = b.docker([
    'run',
    '--rm',
    '--network',
    'none',
    '-e',
    'FOO=bar baz',
    '-w',
    '/tmp',
    '-u',
    '65534:65534',
    IMG,
    'sh',
    '-c',
    'echo "$FOO"; pwd; id -u; id -g; echo to-err >&2; exit 3',
  ]);
  assert.equal(r.status, 3, r.stderr);
  assert.equal(r.stdout, 'bar baz\n/tmp\n65534\n65534\n');
  assert.match(r.stderr, /to-err/);
  // -u by name: resolved through the image's /etc/passwd.
  assert.equal(b.ok(['run', '--rm', '--network', 'none', '-u', 'nobody', IMG, 'id', '-un']).trim(), 'nobody');
  assert.equal(b.docker(['run', '--rm', '--network', 'none', IMG, 'no-such-binary']).status, 127);
  await waitUntil(
    'the --rm containers to go',
    () => b.ok(['ps', '-aq']).trim() === '' && ctrIn(['containers', 'ls', '-q']).stdout.trim() === '',
  );
  // Debian's docker 20.10 CLI (API 1.41) runs the same flow.
  if (existsSync(DOCKER_20)) {
    const old = b.docker(['run', '--rm', '--network', 'none', IMG, 'sh', '-c', 'echo from-20.10; exit 5'], {
      cli: DOCKER_20,
    });
    assert.equal(old.status, 5, old.stderr);
    assert.equal(old.stdout, 'from-20.10\n');
  }
  // stdin through attach.
  assert.equal(
    b.ok(['run', '-i', '--rm', '--network', 'none', IMG, 'sh', '-c', 'cat; echo end'], { input: 'piped\n' }),
    'piped\nend\n',
  );
});

test('detached container: ps, inspect, logs, exec, top, stop, kill, rm', { skip }, async () => {
  const id = b
    .ok([
      'run',
      '-d',
      '--name',
      'ticker',
      '--network',
      'none',
      '--label',
      'berth.test=1',
      IMG,
      'sh',
      '-c',
      'trap "exit 7" TERM; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done',
    ])
    .trim();
  assert.match(id, /^[a-f0-9]{64}$/);
  assert.equal(
    b.ok(['ps', '--filter', 'label=berth.test=1', '--format', '{{.Names}} {{.State}}']).trim(),
    'ticker running',
  );
  const insp = JSON.parse(b.ok(['inspect', 'ticker']))[0];
  assert.equal(insp.Id, id);
  assert.equal(insp.Name, '/ticker');
  assert.equal(insp.State.Running, true);
  // The pid berthd reports is a real process, in the cgroup berthd asked for.
  const pid = insp.State.Pid as number;
  assert.ok(pid > 0);
  assert.match(readFileSync(`/proc/${pid}/cgroup`, 'utf8'), new RegExp(`/${b.namespace}/${id}`));
  assert.equal(readFileSync(`/proc/${pid}/comm`, 'utf8').trim(), 'sh');
  await waitUntil('some log lines', () => b.ok(['logs', 'ticker']).split('\n').length > 5);
  assert.deepEqual(b.ok(['logs', '--tail', '2', 'ticker']).trim().split('\n').length, 2);
  assert.match(b.ok(['logs', '-t', '--tail', '1', 'ticker']), /^\d{4}-\d\d-\d\dT[\d:.]+Z tick \d+\n$/);
  // The json-file log on disk is dockerd's format.
  const first = JSON.parse(readFileSync(insp.LogPath, 'utf8').split('\n')[0]!);
  assert.equal(first.log, 'tick 0\n');
  assert.equal(first.stream, 'stdout');

  const ex = b.docker(['exec', 'ticker', 'sh', '-c', 'cat /proc/1/comm; echo e >&2; exit 4']);
  assert.equal(ex.status, 4);
  assert.equal(ex.stdout, 'sh\n');
  assert.equal(ex.stderr, 'e\n');
  assert.equal(b.ok(['exec', '-u', 'nobody', 'ticker', 'id', '-u']).trim(), '65534');
  assert.equal(b.ok(['exec', '-i', 'ticker', 'cat'], { input: 'through exec\n' }), 'through exec\n');
  assert.match(b.ok(['top', 'ticker']), /sh -c trap/);

  b.ok(['stop', 'ticker']);
  assert.equal(b.ok(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'ticker']).trim(), 'exited 7');
  assert.equal(existsSync(`/proc/${pid}`) && readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sh', false);
  b.ok(['start', 'ticker']);
  b.ok(['kill', 'ticker']);
  await waitUntil('the kill to land', () => b.ok(['inspect', '-f', '{{.State.Status}}', 'ticker']).trim() === 'exited');
  assert.equal(b.ok(['inspect', '-f', '{{.State.ExitCode}}', 'ticker']).trim(), '137');
  b.ok(['rename', 'ticker', 'ticker2']);
  b.ok(['rm', 'ticker2']);
  assert.equal(b.docker(['inspect', 'ticker2']).status, 1);
  assert.equal(ctrIn(['snapshots', 'ls']).stdout.includes(id), false, 'the rootfs snapshot is gone');
});

test('security defaults and options, as the kernel reports them', { skip }, async () => {
  const dflt = b.ok([
    'run',
    '--rm',
    '--network',
    'none',
    IMG,
    'sh',
    '-c',
    'grep -E "^(CapEff|Seccomp|NoNewPrivs):" /proc/self/status',
  ]);
  // Docker's 14 default capabilities.
  assert.match(dflt, /CapEff:\s+00000000a80425fb/);
  assert.match(dflt, /Seccomp:\s+2/);
  assert.match(dflt, /NoNewPrivs:\s+0/);
  // The default seccomp profile refuses what it lists as blocked (unshare needs CAP_SYS_ADMIN).
  const un = b.docker(['run', '--rm', '--network', 'none', IMG, 'unshare', '-U', 'true']);
  assert.notEqual(un.status, 0);
  const opts = b.ok([
    'run',
    '--rm',
    '--network',
    'none',
    '--cap-drop',
    'ALL',
    '--cap-add',
    'NET_ADMIN',
    '--security-opt',
    'no-new-privileges',
    '--read-only',
    '--tmpfs',
    '/run:size=1m',
    '--ulimit',
    'nofile=100:200',
    '--sysctl',
    'net.ipv4.ip_forward=1',
    '--shm-size',
    '2m',
    IMG,
    'sh',
    '-c',
    'grep -E "^(CapEff|NoNewPrivs):" /proc/self/status; touch /x 2>/dev/null || echo ro; touch /run/y && echo tmpfs; ulimit -n; ulimit -Hn; cat /proc/sys/net/ipv4/ip_forward; df -k /dev/shm | tail -1',
  ]);
  assert.match(opts, /CapEff:\s+0000000000001000/);
  assert.match(opts, /NoNewPrivs:\s+1/);
  assert.match(opts, /^ro$/m);
  assert.match(opts, /^tmpfs$/m);
  assert.match(opts, /^100\n200\n1$/m);
  assert.match(opts, /shm\s+2048\s/);
  const priv = b.ok([
    'run',
    '--rm',
    '--network',
    'none',
    '--privileged',
    IMG,
    'sh',
    '-c',
    'grep -E "^Seccomp:" /proc/self/status',
  ]);
  assert.match(priv, /Seccomp:\s+0/);
  // Resources reach the cgroup the kernel enforces.
  const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers');
  const mem = b.ok([
    'run',
    '--rm',
    '--network',
    'none',
    '-m',
    '64m',
    '--pids-limit',
    '50',
    IMG,
    'sh',
    '-c',
    v2
      ? 'cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max'
      : 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max',
  ]);
  assert.equal(mem, `${64 * 1024 * 1024}\n50\n`);
  // The CLI refuses a non-namespaced sysctl itself; berthd refuses it too, from any client.
  const ctrBefore = b.ok(['ps', '-aq']);
  const bad = await rawRequest(
    b.sock,
    'POST',
    '/v1.50/containers/create',
    JSON.stringify({ Image: IMG, HostConfig: { NetworkMode: 'none', Sysctls: { 'kernel.panic': '1' } } }),
  );
  assert.equal(bad.status, 400);
  assert.match(JSON.parse(bad.body).message, /sysctl "kernel\.panic" is not allowed: not namespaced/);
  assert.equal(b.ok(['ps', '-aq']), ctrBefore, 'nothing created');
  await alive();
});

test('volumes and binds', { skip }, async () => {
  const host = join(scratch, 'hostdir');
  spawnSync('mkdir', ['-p', host]);
  writeFileSync(join(host, 'f'), 'from host\n');
  assert.equal(
    b.ok([
      'run',
      '--rm',
      '--network',
      'none',
      '-v',
      `${host}:/data:ro`,
      IMG,
      'sh',
      '-c',
      'cat /data/f; touch /data/x 2>/dev/null || echo ro',
    ]),
    'from host\nro\n',
  );
  b.ok(['run', '--rm', '--network', 'none', '-v', `${host}:/data`, IMG, 'sh', '-c', 'echo back > /data/g']);
  assert.equal(readFileSync(join(host, 'g'), 'utf8'), 'back\n');
  b.ok(['volume', 'create', '--label', 'k=v', 'bvol']);
  b.ok(['run', '--rm', '--network', 'none', '-v', 'bvol:/v', IMG, 'sh', '-c', 'echo kept > /v/a']);
  assert.equal(b.ok(['run', '--rm', '--network', 'none', '-v', 'bvol:/v', IMG, 'cat', '/v/a']), 'kept\n');
  const vi = JSON.parse(b.ok(['volume', 'inspect', 'bvol']))[0];
  assert.equal(readFileSync(join(vi.Mountpoint, 'a'), 'utf8'), 'kept\n');
  assert.deepEqual(vi.Labels, { k: 'v' });
  assert.equal(b.ok(['volume', 'ls', '--filter', 'label=k=v', '-q']).trim(), 'bvol');
  b.ok(['create', '--name', 'holder', '--network', 'none', '-v', 'bvol:/v', IMG, 'true']);
  const busy = b.docker(['volume', 'rm', 'bvol']);
  assert.notEqual(busy.status, 0);
  assert.match(busy.stderr, /volume is in use/);
  b.ok(['rm', 'holder']);
  b.ok(['volume', 'rm', 'bvol']);
  assert.equal(existsSync(vi.Mountpoint), false);
  // Copy-up: an empty volume mounted over image content gets that content; nocopy leaves it empty.
  assert.match(
    b.ok(['run', '--rm', '--network', 'none', '-v', 'seeded:/etc', IMG, 'cat', '/etc/passwd']),
    /^root:x:0:0:/,
  );
  const seeded = JSON.parse(b.ok(['volume', 'inspect', 'seeded']))[0].Mountpoint as string;
  assert.match(readFileSync(join(seeded, 'group'), 'utf8'), /^root:x:0:/);
  b.ok(['run', '--rm', '--network', 'none', '-v', 'unseeded:/etc:nocopy', IMG, 'true']);
  const unseeded = JSON.parse(b.ok(['volume', 'inspect', 'unseeded']))[0].Mountpoint as string;
  assert.equal(existsSync(join(unseeded, 'passwd')), false);
  b.ok(['volume', 'rm', 'seeded', 'unseeded']);
  const missing = b.docker(['run', '--rm', '--mount', 'type=bind,source=/nonexistent-berthd,target=/x', IMG, 'true']);
  assert.equal(missing.status, 125);
  assert.match(missing.stderr, /bind source path does not exist: \/nonexistent-berthd/);
  await alive();
});

test('docker cp both ways, running and stopped; symlinks resolve inside the container', { skip }, async () => {
  const src = join(scratch, 'cp-in.txt');
  writeFileSync(src, 'payload\n');
  const id = b.ok(['run', '-d', '--network', 'none', IMG, 'sleep', '100']).trim();
  b.ok(['cp', src, `${id}:/tmp/`]);
  assert.equal(b.ok(['exec', id, 'cat', '/tmp/cp-in.txt']), 'payload\n');
  b.ok(['cp', `${id}:/etc/passwd`, join(scratch, 'passwd')]);
  assert.equal(
    readFileSync(join(scratch, 'passwd'), 'utf8'),
    readFileSync(
      b.ok(['inspect', '-f', '{{.State.Pid}}', id]).trim().replace(/^/, '/proc/') + '/root/etc/passwd',
      'utf8',
    ),
  );
  // An absolute symlink inside the container points into the container, never at the host.
  b.ok(['exec', id, 'ln', '-s', '/etc', '/tmp/escape']);
  b.ok(['cp', `${id}:/tmp/escape/hostname`, join(scratch, 'hostname')]);
  assert.equal(readFileSync(join(scratch, 'hostname'), 'utf8'), `${id.slice(0, 12)}\n`);
  b.ok(['rm', '-f', id]);
  // A stopped container: through its rootfs snapshot.
  const c2 = b.ok(['create', '--network', 'none', IMG, 'cat', '/cp-in.txt']).trim();
  b.ok(['cp', src, `${c2}:/`]);
  assert.equal(b.ok(['start', '-a', c2]), 'payload\n');
  const tar = spawnSync(DOCKER_28, ['cp', `${c2}:/cp-in.txt`, '-'], { env: b.env });
  assert.equal(spawnSync('tar', ['-tv'], { input: tar.stdout, encoding: 'utf8' }).stdout.includes('cp-in.txt'), true);
  // docker export: the whole rootfs as a tar, with what was copied in.
  const exp = spawnSync(DOCKER_28, ['export', c2], { env: b.env, maxBuffer: 64 * 1024 * 1024 });
  assert.equal(exp.status, 0);
  const listing = spawnSync('tar', ['-t'], {
    input: exp.stdout,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  }).stdout.split('\n');
  // Named as dockerd names them: no `./` prefix, no entry for the root.
  assert.ok(listing.includes('cp-in.txt') && listing.includes('bin/busybox'), listing.slice(0, 10).join(' '));
  assert.ok(!listing.some((n) => n.startsWith('./')), listing.slice(0, 10).join(' '));
  const gone = b.docker(['cp', `${c2}:/no/such`, join(scratch, 'x')]);
  assert.notEqual(gone.status, 0);
  assert.match(gone.stderr, /Could not find the file \/no\/such in container/);
  b.ok(['rm', c2]);
});

test("stats: docker stats reads containerd's metrics", { skip }, async () => {
  const id = b.ok(['run', '-d', '--network', 'none', '-m', '64m', IMG, 'sh', '-c', 'while true; do :; done']).trim();
  const line = b.ok(['stats', '--no-stream', '--format', '{{.MemUsage}}|{{.PIDs}}|{{.CPUPerc}}', id]).trim();
  const [mem, pids, cpu] = line.split('|') as [string, string, string];
  assert.match(mem, /\/ 64MiB$/);
  assert.equal(pids, '1');
  assert.ok(parseFloat(cpu) > 5, `a busy loop uses CPU: ${cpu}`);
  const one = JSON.parse(
    (await rawRequest(b.sock, 'GET', `/v1.50/containers/${id}/stats?stream=false&one-shot=true`)).body,
  ) as { memory_stats: { limit: number }; cpu_stats: { cpu_usage: { total_usage: number } } };
  assert.equal(one.memory_stats.limit, 64 * 1024 * 1024);
  assert.ok(one.cpu_stats.cpu_usage.total_usage > 0);
  b.ok(['rm', '-f', id]);
});

test('restart policies, events', { skip }, async () => {
  const since = Math.floor(Date.now() / 1000) - 1;
  const id = b.ok(['run', '-d', '--restart', 'on-failure:2', '--network', 'none', IMG, 'sh', '-c', 'exit 3']).trim();
  await waitUntil(
    'two restarts',
    () => b.ok(['inspect', '-f', '{{.RestartCount}} {{.State.Status}}', id]).trim() === '2 exited',
    30000,
    200,
  );
  assert.equal(b.ok(['inspect', '-f', '{{.State.ExitCode}}', id]).trim(), '3');
  b.ok(['rm', id]);
  const ev = pastEvents(b, since, [`container=${id}`], '{{.Action}}');
  const actions = ev.trim().split('\n');
  assert.deepEqual(actions.filter((a) => a === 'start').length, 3, ev);
  assert.deepEqual(actions.filter((a) => a === 'die').length, 3, ev);
  assert.equal(actions[0], 'create');
  assert.equal(actions.at(-1), 'destroy');
});

test('bad input: dockerd statuses and messages, berthd keeps serving, nothing half-made', { skip }, async () => {
  const malformed = await rawRequest(b.sock, 'POST', '/v1.50/containers/create', '{"Image": ');
  assert.equal(malformed.status, 400);
  // Go's decoder's words, as dockerd answers
  assert.equal(JSON.parse(malformed.body).message, 'unexpected EOF');
  const wrongType = await rawRequest(
    b.sock,
    'POST',
    '/v1.50/containers/create',
    JSON.stringify({ Image: IMG, Cmd: 42 }),
  );
  assert.equal(wrongType.status, 400);
  assert.match(JSON.parse(wrongType.body).message, /Cmd/);
  await alive();

  const noImage = await rawRequest(
    b.sock,
    'POST',
    '/v1.50/containers/create',
    JSON.stringify({ Image: 'nope-not-here' }),
  );
  assert.equal(noImage.status, 404);
  assert.equal(JSON.parse(noImage.body).message, 'No such image: nope-not-here:latest');
  const before = b.ok(['ps', '-aq']);
  b.ok(['create', '--name', 'dup', '--network', 'none', IMG, 'true']);
  const dup = b.docker(['create', '--name', 'dup', '--network', 'none', IMG, 'true']);
  assert.notEqual(dup.status, 0);
  assert.match(dup.stderr, /Conflict\. The container name "\/dup" is already in use/);
  const raw409 = await rawRequest(b.sock, 'POST', '/v1.50/containers/create?name=dup', JSON.stringify({ Image: IMG }));
  assert.equal(raw409.status, 409);
  b.ok(['rm', 'dup']);
  assert.equal(b.ok(['ps', '-aq']), before, 'no half-made container');
  const noCtr = await rawRequest(b.sock, 'POST', '/v1.50/containers/nope/start');
  assert.equal(noCtr.status, 404);
  assert.equal(JSON.parse(noCtr.body).message, 'No such container: nope');

  // A 100 MB body is answered before it is all sent, never buffered: at its first syntax error with
  // dockerd's 400 (its decoder reads as it goes), or by its size once it is valid past the bound.
  const answer = (chunks: Buffer[]) =>
    new Promise<string>((resolve) => {
      const s = connect(b.sock);
      let got = '';
      s.on('data', (d) => {
        got += d.toString();
        const end = got.indexOf('\r\n\r\n');
        const len = /Content-Length: (\d+)/i.exec(got)?.[1];
        if (end >= 0 && len && got.length >= end + 4 + Number(len)) {
          resolve(`${got.split('\r\n')[0]!} ${got.slice(end + 4).trim()}`);
          s.destroy();
        }
      });
      s.on('error', () => undefined);
      s.on('close', () => resolve(got.split('\r\n')[0] ?? ''));
      s.write(
        `POST /v1.50/containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${100 * 1024 * 1024}\r\n\r\n`,
      );
      for (const c of chunks) s.write(c);
    });
  assert.equal(
    await answer([Buffer.alloc(1024 * 1024, 0x20), Buffer.from('xyz')]),
    'HTTP/1.1 400 Bad Request {"message":"invalid character \'x\' looking for beginning of value"}',
  );
  const status = await answer([Buffer.from(`{"Image":"${IMG}","Labels":{"x":"`), Buffer.alloc(17 * 1024 * 1024, 0x61)]);
  assert.match(status, /^HTTP\/1\.1 413 /);
  await alive();
  const stillNothing = b.ok(['ps', '-aq']);
  assert.equal(stillNothing, before);
});

test('docker-py and dockerode drive berthd', { skip }, async () => {
  const py = spawnSync(
    'python3',
    [
      '-c',
      `
import docker, sys
c = docker.DockerClient(base_url='unix://${b.sock}')
assert c.ping()
out = c.containers.run('${IMG}', ['sh', '-c', 'echo py-$((6*7))'], network_mode='none', remove=True)
sys.stdout.write(out.decode())
ctr = c.containers.run('${IMG}', ['sleep', '30'], network_mode='none', detach=True, name='pyctr')
ctr.reload()
print(ctr.status)
r = ctr.exec_run(['echo', 'exec-py'])
print(r.exit_code, r.output.decode().strip())
ctr.kill()
print(ctr.wait()['StatusCode'])
ctr.remove()
print(len(c.images.list()) >= 1)
`,
    ],
    { encoding: 'utf8', timeout: 120000 },
  );
  if (py.status !== 0 && /No module named 'docker'/.test(py.stderr)) {
    assert.fail('python3-docker is not installed (scripts/setup.sh installs it)');
  }
  assert.equal(py.status, 0, py.stderr + b.logTail());
  assert.equal(py.stdout, 'py-42\nrunning\n0 exec-py\n137\nTrue\n');

  const Docker = (await import('dockerode')).default;
  const d = new Docker({ socketPath: b.sock });
  const c = await d.createContainer({
    Image: IMG,
    Cmd: ['sh', '-c', 'echo node-ok; exit 9'],
    HostConfig: { NetworkMode: 'none' },
  });
  await c.start();
  const w = (await c.wait()) as { StatusCode: number };
  assert.equal(w.StatusCode, 9);
  const logs = await c.logs({ stdout: true, stderr: true });
  // Multiplexed frames: stream 1, length 8, "node-ok\n".
  assert.equal(logs[0], 1);
  assert.equal(logs.readUInt32BE(4), 8);
  assert.equal(logs.subarray(8).toString(), 'node-ok\n');
  const info = await c.inspect();
  assert.equal(info.State.ExitCode, 9);
  await c.remove();
  await alive();
});

test('kill -9 of berthd with a container running: still there, running, logging (live-restore)', { skip }, async () => {
  const id = b
    .ok([
      'run',
      '-d',
      '--name',
      'survivor',
      '--network',
      'none',
      IMG,
      'sh',
      '-c',
      'i=0; while true; do echo line $i; i=$((i+1)); sleep 0.1; done',
    ])
    .trim();
  const pid = Number(b.ok(['inspect', '-f', '{{.State.Pid}}', id]).trim());
  await sleep(300);
  await b.kill9();
  await sleep(300);
  assert.equal(readFileSync(`/proc/${pid}/comm`, 'utf8').trim(), 'sh', 'the container runs while berthd is down');
  await b.start();
  assert.equal(
    b.ok(['ps', '--format', '{{.Names}} {{.State}}', '--filter', 'name=survivor']).trim(),
    'survivor running',
  );
  assert.equal(Number(b.ok(['inspect', '-f', '{{.State.Pid}}', id]).trim()), pid);
  const n1 = b.ok(['logs', id]).split('\n').length;
  await waitUntil('the log to keep growing after the restart', () => b.ok(['logs', id]).split('\n').length > n1 + 3);
  assert.equal(b.ok(['exec', id, 'echo', 'after-restart']).trim(), 'after-restart');
  b.ok(['stop', '-t', '1', id]);
  assert.equal(b.ok(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', id]).trim(), 'exited 137');
  b.ok(['rm', id]);
});

test('restart policy across a berthd kill -9: a container that died meanwhile is restarted', { skip }, async () => {
  const id = b.ok(['run', '-d', '--restart', 'always', '--network', 'none', IMG, 'sleep', '1000']).trim();
  const pid = Number(b.ok(['inspect', '-f', '{{.State.Pid}}', id]).trim());
  await b.kill9();
  process.kill(pid, 'SIGKILL'); // the container dies while berthd is away
  await waitUntil(
    'the container process to go',
    () => !existsSync(`/proc/${pid}`) || readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z'),
  );
  await b.start();
  await waitUntil(
    'the restart',
    () => {
      const [status, p] = b.ok(['inspect', '-f', '{{.State.Status}} {{.State.Pid}}', id]).trim().split(' ');
      return status === 'running' && Number(p) !== pid && Number(p) > 0;
    },
    20000,
    200,
  );
  assert.ok(Number(b.ok(['inspect', '-f', '{{.RestartCount}}', id]).trim()) >= 1);
  b.ok(['rm', '-f', id]);
});
