// berthd against what dockerd answers the same docker CLI commands with:
// each case here was a difference found by scripts/docker-differential.ts
// (the real docker CLI and docker-py against berthd on berth-engine and
// against Debian's dockerd 20.10, side by side). The expected exit codes and
// words are dockerd's, as seen there; each test fails on berthd before its fix.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type Berthd, pastEvents, rawRequest } from '../../helpers/berthd.js';
import { berthdSkip, startBerthdStack, type BerthdStack } from '../../helpers/berthd-stack.js';
import { waitUntil } from '../../helpers/wait.js';
import { V2 } from './lifecycle-common.js';

const skip = berthdSkip('engine');

let s: BerthdStack | undefined;
let b: Berthd;
let IMG = '';
const tag = `dfix${process.pid}`;

before(async () => {
  if (skip) return;
  s = await startBerthdStack('engine', { prefix: 'berthd-dfix-', pull: (h) => [`${h}/berth/busybox:latest`] });
  ({ b, img: IMG } = s);
});

after(() => s?.stop());

const all = () => b.ok(['ps', '-aq']).trim().split('\n').filter(Boolean).sort();

test(
  'a start that fails before its task: run --rm ends with 125 and leaves nothing, the error is kept',
  { skip },
  () => {
    const before = all();
    for (const flags of [
      ['--user', 'nosuchuser'],
      ['--user', '1:nosuchgroup'],
    ]) {
      // before the fix the CLI waited for a removal that never came
      const r = b.docker(['run', '--rm', '--network', 'none', ...flags, IMG, 'true'], { timeout: 30000 });
      assert.equal(r.status, 125, `${flags.join(' ')}: ${r.stderr}`);
      assert.match(
        r.stderr,
        /unable to find (user nosuchuser|group nosuchgroup): no matching entries in (passwd|group) file/,
      );
      assert.deepEqual(all(), before, 'the --rm container is gone');
    }
    const id = b.ok(['create', '--network', 'none', '--user', 'nosuchuser', IMG, 'true']).trim();
    assert.equal(b.docker(['start', id]).status, 1);
    assert.equal(
      b.ok(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}} {{.State.Error}}', id]).trim(),
      'created 128 unable to find user nosuchuser: no matching entries in passwd file',
    );
    b.ok(['rm', id]);
  },
);

test("create refuses what dockerd refuses, in dockerd's words, and makes nothing", { skip }, () => {
  const before = all();
  const cases: [string[], RegExp][] = [
    [['--pid', 'container:nosuchctr'], /No such container: nosuchctr/],
    [['--ipc', 'container:nosuchctr'], /No such container: nosuchctr/],
    [['--ipc', 'bogus'], /invalid IPC mode: bogus/],
    [['--link', 'nosuchctr:alias'], /could not get container for nosuchctr: No such container: nosuchctr/],
    [['--stop-signal', 'BOGUS'], /Invalid signal: BOGUS/],
    [['--workdir', 'relative'], /the working directory 'relative' is invalid, it needs to be an absolute path/],
    [['--oom-score-adj', '5000'], /Invalid value 5000, range for oom score adj is \[-1000, 1000\]/],
    [['--memory', '1k'], /Minimum memory limit allowed is 6MB/],
    [['--memory', '64m', '--memory-swap', '32m'], /Minimum memoryswap limit should be larger than memory limit/],
    [['--memory-reservation', '1k'], /Minimum memory reservation allowed is 6MB/],
    [['--cpus', '999'], /Range of CPUs is from 0.01 to \d+\.00, as there are only \d+ CPUs available/],
    [['--cpu-period', '10'], /CPU cfs period can not be less than 1ms/],
    [['--cpuset-cpus', 'x'], /Invalid value x for cpuset cpus: invalid format: x/],
    [['--cpuset-cpus', '999'], /Requested CPUs are not available - requested 999, available: /],
    [['--runtime', 'nosuchrt'], /Unknown runtime specified nosuchrt/],
    [['--isolation', 'hyperv'], /Invalid isolation: "hyperv" - linux only supports 'default'/],
    [['--storage-opt', 'size=1G'], /--storage-opt is supported only for overlay over xfs/],
    [['--gpus', 'all'], /could not select device driver "" with capabilities: \[\[gpu\]\]/],
    [['--ip', '10.0.0.5'], /user specified IP address is supported on user defined networks only/],
  ];
  for (const [flags, want] of cases) {
    const r = b.docker(['run', '--rm', '--network', 'none', ...flags, IMG, 'true'], { timeout: 30000 });
    assert.equal(r.status, 125, `${flags.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, want, flags.join(' '));
    assert.doesNotMatch(r.stderr, /Unable to find image/, 'a 400, not a 404 that makes the CLI pull');
  }
  assert.deepEqual(all(), before);
  // what is valid still runs
  b.ok([
    'run',
    '--rm',
    '--network',
    'none',
    '--runtime',
    'runc',
    '--cpuset-cpus',
    '0',
    '--stop-signal',
    'USR1',
    IMG,
    'true',
  ]);
});

test('exec that cannot start: docker exec exits 126 with the reason on stdout, as with dockerd', { skip }, () => {
  const id = b.ok(['run', '-d', '--network', 'none', IMG, 'sleep', '300']).trim();
  try {
    for (const [args, want] of [
      [['/nonexistent'], /\/nonexistent.*no such file or directory/],
      [['/etc/passwd'], /permission denied/],
      [['-u', 'nosuch', 'true'], /unable to find user nosuch: no matching entries in passwd file/],
    ] as [string[], RegExp][]) {
      const argv = args[0] === '-u' ? ['exec', '-u', 'nosuch', id, 'true'] : ['exec', id, ...args];
      const r = b.docker(argv);
      assert.equal(r.status, 126, `${args.join(' ')}: ${r.stdout} ${r.stderr}`);
      assert.match(r.stdout, want);
      assert.doesNotMatch(r.stderr, /error from daemon in stream|unable to upgrade/);
    }
    // and a command that runs keeps its own code
    assert.equal(b.docker(['exec', id, 'sh', '-c', 'exit 4']).status, 4);
  } finally {
    b.ok(['rm', '-f', id]);
  }
});

test('kill and unpause of a paused container, kill and rename errors: as dockerd', { skip }, () => {
  const id = b.ok(['run', '-d', '--network', 'none', IMG, 'sleep', '300']).trim();
  try {
    assert.match(b.docker(['unpause', id]).stderr, new RegExp(`Container ${id} is not paused`));
    b.ok(['pause', id]);
    // SIGKILL (or the stop signal) to a paused container resumes it so that the signal lands
    b.ok(['kill', id]);
    assert.equal(b.ok(['wait', id]).trim(), '137');
    assert.equal(b.ok(['inspect', '-f', '{{.State.Status}} {{.State.Paused}}', id]).trim(), 'exited false');
    assert.match(
      b.docker(['kill', id]).stderr,
      new RegExp(`cannot kill container: ${id}: Container ${id} is not running`),
    );
    assert.match(
      b.docker(['kill', 'nosuchctr']).stderr,
      /cannot kill container: nosuchctr: No such container: nosuchctr/,
    );
    assert.match(
      b.docker(['rename', id, 'bad/name']).stderr,
      /Error when allocating new name: Invalid container name \(\/bad\/name\)/,
    );
    const other = b.ok(['create', '--name', `${tag}-taken`, IMG, 'true']).trim();
    assert.match(
      b.docker(['rename', id, `${tag}-taken`]).stderr,
      /Error when allocating new name: Conflict. The container name "\/dfix\d+-taken" is already in use/,
    );
    b.ok(['rm', other]);
  } finally {
    b.ok(['rm', '-f', id]);
  }
});

test('logs --tail with a non-number is the whole log, as dockerd', { skip }, () => {
  const id = b.ok(['run', '-d', '--network', 'none', IMG, 'sh', '-c', 'echo a; echo b']).trim();
  b.ok(['wait', id]);
  assert.equal(b.ok(['logs', '--tail', 'x', id]), 'a\nb\n');
  assert.equal(b.ok(['logs', '--tail', '1', id]), 'b\n');
  b.ok(['rm', id]);
});

test(
  'system and builder prune answer (no build cache); volume prune before API 1.42 takes named volumes',
  { skip },
  async () => {
    assert.match(b.ok(['builder', 'prune', '-f']), /Total reclaimed space: 0B/);
    assert.match(b.ok(['system', 'prune', '-f']), /Total reclaimed space/);
    const named = `${tag}-named`;
    b.ok(['volume', 'create', named]);
    // the newest API prunes anonymous volumes only
    assert.doesNotMatch(b.ok(['volume', 'prune', '-f']), new RegExp(named));
    assert.match(b.ok(['volume', 'ls', '-q']), new RegExp(named));
    const old = await rawRequest(b.sock, 'POST', '/v1.41/volumes/prune');
    assert.equal(old.status, 200, old.body);
    assert.ok((JSON.parse(old.body) as { VolumesDeleted: string[] }).VolumesDeleted.includes(named), old.body);
    assert.doesNotMatch(b.ok(['volume', 'ls', '-q']), new RegExp(named));
  },
);

test('image events carry the deprecated id and status fields, as dockerd fills them', { skip }, () => {
  const since = Math.floor(Date.now() / 1000) - 1;
  b.ok(['tag', IMG, `${tag}:t`]);
  b.ok(['rmi', `${tag}:t`]);
  const lines = pastEvents(b, since, ['type=image'], '{{json .}}')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { status?: string; id?: string; Action: string; Actor: { ID: string } })
    // the second before ours may hold an earlier test's pull of the same image
    .filter((e) => e.Action !== 'pull');
  assert.deepEqual(
    lines.map((e) => [e.status, e.Action]),
    [
      ['tag', 'tag'],
      ['untag', 'untag'],
    ],
  );
  for (const e of lines) assert.equal(e.id, e.Actor.ID);
});

test(
  '--device: the host node in the container and allowed by its device cgroup; a bad path fails the start',
  { skip },
  () => {
    const run = (args: string[]) => b.docker(['run', '--rm', '--network', 'none', ...args], { timeout: 30000 });
    const open = 'ls -l /dev/lc; exec 3</dev/lc && echo opened';
    const withDev = run(['--device', '/dev/loop-control:/dev/lc', IMG, 'sh', '-c', open]);
    assert.equal(withDev.status, 0, withDev.stderr);
    // the host's node: /dev/loop-control is 10, 237
    assert.match(withDev.stdout, /^crw------- .* 10,\s+237 .*\/dev\/lc\nopened\n$/);
    // without --device the same node, made in the container, cannot be opened: the rule is the device's own
    const without = run([IMG, 'sh', '-c', 'mknod /dev/lc c 10 237; exec 3</dev/lc && echo opened']);
    assert.notEqual(without.status, 0);
    assert.match(without.stderr, /can't open \/dev\/lc: Operation not permitted/);
    const missing = run(['--device', '/nonexistent/dfix', IMG, 'true']);
    assert.equal(missing.status, 127, missing.stderr);
    assert.match(
      missing.stderr,
      /error gathering device information while adding custom device "\/nonexistent\/dfix": no such file or directory/,
    );
    const notDev = run(['--device', '/etc/passwd', IMG, 'true']);
    assert.equal(notDev.status, 125, notDev.stderr);
    assert.match(notDev.stderr, /adding custom device "\/etc\/passwd": not a device node/);
  },
);

test(
  'inspect .Mounts: --tmpfs mounts are not listed (HostConfig.Tmpfs is), volumes and --mount tmpfs are',
  { skip },
  () => {
    const id = b
      .ok([
        'create',
        '--network',
        'none',
        '-v',
        '/data',
        '--tmpfs',
        '/tm',
        '--mount',
        'type=tmpfs,dst=/mt',
        IMG,
        'true',
      ])
      .trim();
    const mounts = JSON.parse(b.ok(['inspect', '-f', '{{json .Mounts}}', id])) as {
      Type: string;
      Destination: string;
    }[];
    assert.deepEqual(mounts.map((m) => `${m.Type} ${m.Destination}`).sort(), ['tmpfs /mt', 'volume /data']);
    assert.equal(b.ok(['inspect', '-f', '{{json .HostConfig.Tmpfs}}', id]).trim(), '{"/tm":""}');
    b.ok(['rm', '-v', id]);
  },
);

test("stats: blkio_stats from the task's cgroup (docker stats' BLOCK I/O), not left null", { skip }, async () => {
  const id = b
    .ok([
      'run',
      '-d',
      '--network',
      'none',
      IMG,
      'sh',
      '-c',
      'dd if=/dev/zero of=/f bs=1M count=8 oflag=direct 2>/dev/null; sync; touch /done; sleep 300',
    ])
    .trim();
  try {
    await waitUntil('the writes', () => b.docker(['exec', id, 'test', '-e', '/done']).status === 0, 30000);
    const r = await rawRequest(b.sock, 'GET', `/containers/${id}/stats?stream=false`);
    const blk = (JSON.parse(r.body) as { blkio_stats: Record<string, { op: string; value: number }[] | null> })
      .blkio_stats;
    const written = (blk.io_service_bytes_recursive ?? [])
      .filter((e) => e.op.toLowerCase() === 'write')
      .reduce((a, e) => a + e.value, 0);
    assert.ok(written >= 8 * 1024 * 1024, JSON.stringify(blk));
    // dockerd on cgroup v1 gives every list, empty ones as []
    if (!V2) for (const [k, v] of Object.entries(blk)) assert.ok(Array.isArray(v), k);
    assert.match(b.ok(['stats', '--no-stream', '--format', '{{.BlockIO}}', id]), / \/ [89]\.\d+MB/);
  } finally {
    b.ok(['rm', '-f', id]);
  }
});

test('ps -s and /system/df: SizeRw and SizeRootFs (the image counted in), as dockerd', { skip }, async () => {
  const id = b
    .ok(['run', '-d', '--network', 'none', IMG, 'sh', '-c', 'head -c 300000 /dev/zero > /blob; sleep 300'])
    .trim();
  try {
    await waitUntil('the write', () => b.docker(['exec', id, 'test', '-s', '/blob']).status === 0, 20000);
    const imageSize = Number(b.ok(['image', 'inspect', '-f', '{{.Size}}', IMG]).trim());
    const list = await rawRequest(
      b.sock,
      'GET',
      `/containers/json?size=1&filters=${encodeURIComponent(`{"id":["${id}"]}`)}`,
    );
    const [c] = JSON.parse(list.body) as { SizeRw?: number; SizeRootFs?: number }[];
    assert.ok(c!.SizeRw! >= 300000, list.body);
    assert.equal(c!.SizeRootFs, c!.SizeRw! + imageSize);
    assert.match(
      b.ok(['ps', '-s', '--format', '{{.Size}}', '-f', `id=${id}`]),
      /^\d+(\.\d+)?kB \(virtual \d+(\.\d+)?MB\)$/m,
    );
    const df = JSON.parse((await rawRequest(b.sock, 'GET', '/v1.41/system/df')).body) as {
      Containers: { Id: string; SizeRootFs: number }[];
      BuilderSize?: number;
    };
    assert.equal(df.Containers.find((x) => x.Id === id)?.SizeRootFs, c!.SizeRootFs);
    assert.equal(df.BuilderSize, 0, 'API 1.41 has BuilderSize (docker-py reads it)');
    const img = JSON.parse((await rawRequest(b.sock, 'GET', `/v1.41/images/${IMG}/json`)).body) as {
      VirtualSize?: number;
    };
    assert.equal(img.VirtualSize, imageSize);
    const newest = JSON.parse((await rawRequest(b.sock, 'GET', `/images/${IMG}/json`)).body) as Record<string, unknown>;
    assert.equal('VirtualSize' in newest, false, 'removed in API 1.44');
  } finally {
    b.ok(['rm', '-f', id]);
  }
});

test('/info: the open descriptors counted, the proxy fields present', { skip }, async () => {
  const info = JSON.parse((await rawRequest(b.sock, 'GET', '/info')).body) as Record<string, unknown>;
  assert.ok((info.NFd as number) > 3, String(info.NFd));
  for (const k of ['HttpProxy', 'HttpsProxy', 'NoProxy']) assert.equal(typeof info[k], 'string', k);
  assert.equal(info.GenericResources, null);
});

test("events of docker run (attach) and docker cp (extract-to-dir, archive-path), as dockerd's", { skip }, () => {
  const since = Math.floor(Date.now() / 1000) - 1;
  const n = `${tag}-ev`;
  b.ok(['run', '--name', n, '--network', 'none', IMG, 'true']);
  b.ok(['cp', `${n}:/etc/hostname`, '-']);
  const file = join(mkdtempSync('/tmp/dfix-cp-'), 'f');
  writeFileSync(file, 'x');
  b.ok(['cp', file, `${n}:/tmp/`]);
  rmSync(dirname(file), { recursive: true });
  const actions = pastEvents(b, since, [`container=${n}`], '{{.Action}}')
    .trim()
    .split('\n');
  b.ok(['rm', n]);
  // the CLI attaches before it starts the container
  assert.deepEqual(actions.slice(0, 3), ['create', 'attach', 'start'], actions.join(' '));
  assert.ok(actions.includes('archive-path') && actions.includes('extract-to-dir'), actions.join(' '));
});

test("network create of a predefined name or a single-instance driver: dockerd's 403 and words", { skip }, () => {
  for (const [args, want] of [
    [['none'], /operation is not permitted on predefined none network/],
    [['bridge'], /operation is not permitted on predefined bridge network/],
    [['-d', 'host', `${tag}-h`], /only one instance of "host" network is allowed/],
    [['-d', 'null', `${tag}-n`], /only one instance of "null" network is allowed/],
  ] as [string[], RegExp][]) {
    const r = b.docker(['network', 'create', ...args]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, want);
  }
  assert.doesNotMatch(b.ok(['network', 'ls', '--format', '{{.Name}}']), new RegExp(tag));
});

test(
  'create: a missing network is no reason to pull; another platform is a 404; rmi wording by reference',
  { skip },
  () => {
    const before = all();
    const net = b.docker(['run', '--rm', '--network', `${tag}-nonet`, IMG, 'true']);
    assert.equal(net.status, 125);
    assert.doesNotMatch(net.stderr, /Unable to find image|Pulling/);
    assert.match(net.stderr, new RegExp(`network ${tag}-nonet not found`));
    const plat = b.docker(['create', '--network', 'none', '--platform', 'windows/amd64', IMG, 'true']);
    assert.equal(plat.status, 1, plat.stderr);
    assert.match(
      plat.stderr,
      /was found but does not match the specified platform: wanted windows\/amd64, actual: linux\//,
    );
    assert.deepEqual(all(), before);
    const arch = b.ok(['image', 'inspect', '-f', '{{.Os}}/{{.Architecture}}', IMG]).trim();
    const ok = b.ok(['create', '--network', 'none', '--platform', arch, IMG, 'true']).trim();
    assert.match(
      b.docker(['rmi', IMG]).stderr,
      /conflict: unable to remove repository reference ".*busybox:latest" \(must force\) - container [0-9a-f]{12} is using/,
    );
    b.ok(['rm', ok]);
  },
);

test("volume and mount errors in dockerd's words", { skip }, () => {
  const v = `${tag}-v`;
  for (const [args, want] of [
    [
      ['volume', 'create', 'bad/name'],
      /create bad\/name: "bad\/name" includes invalid characters .* If you intended to pass a host directory, use absolute path/,
    ],
    [['volume', 'create', '-o', 'bogus=1', v], new RegExp(`create ${v}: invalid option: "bogus"`)],
    [
      ['volume', 'create', '-d', 'nosuchdriver', v],
      new RegExp(`create ${v}: error looking up volume plugin nosuchdriver: plugin "nosuchdriver" not found`),
    ],
    [
      ['run', '--rm', '--network', 'none', '-v', '/tmp:relative', IMG, 'true'],
      /invalid volume specification: '\/tmp:relative': invalid mount config for type "bind": invalid mount path: 'relative' mount path must be absolute/,
    ],
    [
      ['run', '--rm', '--network', 'none', '--tmpfs', 'relative', IMG, 'true'],
      /Error response from daemon: invalid mount path: 'relative' mount path must be absolute/,
    ],
  ] as [string[], RegExp][]) {
    const r = b.docker(args);
    assert.notEqual(r.status, 0, args.join(' '));
    assert.match(r.stderr, want, args.join(' '));
  }
  assert.doesNotMatch(b.ok(['volume', 'ls', '-q']), new RegExp(v));
});
