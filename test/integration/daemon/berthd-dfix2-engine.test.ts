// More differences with dockerd 20.10 found by scripts/docker-differential.ts
// and in the gaps earlier sessions left (berthd on berth-engine, the real
// docker CLI and raw API calls). dockerd's answers, seen side by side, are the
// expected values; each test fails on berthd before its fix.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { type Berthd, pastEvents, rawRequest } from '../../helpers/berthd.js';
import { berthdSkip, startBerthdStack, type BerthdStack } from '../../helpers/berthd-stack.js';
import { sleep, waitUntil } from '../../helpers/wait.js';

const skip = berthdSkip('engine');
const V = '/v1.41';
const cgroupV2 = existsSync('/sys/fs/cgroup/cgroup.controllers');

let s: BerthdStack | undefined;
let b: Berthd;
let IMG = '';

before(async () => {
  if (skip) return;
  s = await startBerthdStack('engine', { prefix: 'berthd-dfix2-', pull: (h) => [`${h}/berth/busybox:latest`] });
  ({ b, img: IMG } = s);
});

after(() => s?.stop());

const hostConfig = (id: string) =>
  JSON.parse(b.ok(['inspect', '-f', '{{json .HostConfig}}', id])) as Record<string, unknown>;
/** The container's mount points (mountinfo's fifth field), read in the container. */
const mountPoints = (id: string) =>
  b
    .ok(['exec', id, 'cat', '/proc/self/mountinfo'])
    .trim()
    .split('\n')
    .map((l) => l.split(' ')[4]);

test(
  'inspect shows what dockerd fills at create: Runtime, CgroupnsMode, MaskedPaths, ReadonlyPaths, unlimited as null',
  { skip },
  async () => {
    const ids: string[] = [];
    try {
      const plain = b.ok(['run', '-d', '--network', 'none', IMG, 'sleep', '300']).trim();
      ids.push(plain);
      const hc = hostConfig(plain);
      assert.equal(hc.Runtime, 'runc');
      assert.equal(hc.CgroupnsMode, cgroupV2 ? 'private' : 'host');
      for (const p of ['/proc/kcore', '/proc/keys', '/proc/timer_list', '/sys/firmware'])
        assert.ok((hc.MaskedPaths as string[]).includes(p), `MaskedPaths has ${p}`);
      assert.deepEqual(hc.ReadonlyPaths, ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']);
      // the CLI sends PidsLimit 0 and MemorySwappiness -1 for "not set": dockerd shows null
      assert.equal(hc.PidsLimit, null);
      assert.equal(hc.MemorySwappiness, null);
      // what inspect shows is what the container has: /proc/sys is a read-only mount of its own
      assert.ok(mountPoints(plain).includes('/proc/sys'));

      const priv = b.ok(['create', '--privileged', '--network', 'none', IMG, 'true']).trim();
      ids.push(priv);
      assert.equal(hostConfig(priv).MaskedPaths, null);
      assert.equal(hostConfig(priv).ReadonlyPaths, null);

      // --security-opt systempaths=unconfined: the CLI sends [] for both lists, and nothing is masked
      const open = b
        .ok(['run', '-d', '--security-opt', 'systempaths=unconfined', '--network', 'none', IMG, 'sleep', '300'])
        .trim();
      ids.push(open);
      assert.deepEqual([hostConfig(open).MaskedPaths, hostConfig(open).ReadonlyPaths], [[], []]);
      const points = mountPoints(open);
      assert.ok(!points.includes('/proc/sys') && !points.includes('/proc/kcore'), points.join(' '));

      // --cgroupns: the mode asked for is the namespace the container gets
      for (const mode of ['private', 'host']) {
        const id = b.ok(['run', '-d', '--cgroupns', mode, '--network', 'none', IMG, 'sleep', '300']).trim();
        ids.push(id);
        assert.equal(hostConfig(id).CgroupnsMode, mode);
        const own = b.ok(['exec', id, 'cat', '/proc/self/cgroup']);
        // in a private namespace the container's cgroup is its root; in the host's its path names it
        assert.equal(own.includes(id), mode === 'host', own);
      }
      const bad = await rawRequest(
        b.sock,
        'POST',
        `${V}/containers/create`,
        JSON.stringify({ Image: IMG, HostConfig: { NetworkMode: 'none', CgroupnsMode: 'x' } }),
      );
      assert.deepEqual([bad.status, bad.body.trim()], [400, '{"message":"invalid cgroup namespace mode: x"}']);

      // a raw create without a restart policy: dockerd keeps Name "" (the CLI sends "no")
      const r = await rawRequest(
        b.sock,
        'POST',
        `${V}/containers/create`,
        JSON.stringify({ Image: IMG, HostConfig: { NetworkMode: 'none' } }),
      );
      assert.equal(r.status, 201, r.body);
      const raw = (JSON.parse(r.body) as { Id: string }).Id;
      ids.push(raw);
      assert.deepEqual(hostConfig(raw).RestartPolicy, { Name: '', MaximumRetryCount: 0 });
      assert.equal(hostConfig(raw).Runtime, 'runc');
    } finally {
      if (ids.length) b.docker(['rm', '-f', ...ids]);
    }
  },
);

test('inspect lists the execs that have not ended in ExecIDs, as dockerd does', { skip }, () => {
  const id = b.ok(['run', '-d', '--network', 'none', IMG, 'sleep', '300']).trim();
  try {
    const ids = () => b.ok(['inspect', '-f', '{{json .ExecIDs}}', id]).trim();
    assert.equal(ids(), 'null');
    b.ok(['exec', '-d', id, 'sleep', '300']);
    const list = JSON.parse(ids()) as string[];
    assert.equal(list.length, 1);
    assert.match(list[0]!, /^[0-9a-f]{64}$/);
    assert.equal(b.ok(['exec', id, 'true']), '');
    assert.equal((JSON.parse(ids()) as string[]).length, 1, 'an ended exec is not listed');
  } finally {
    b.docker(['rm', '-f', id]);
  }
});

test(
  '/info names the runtimes as dockerd does: DefaultRuntime runc, io.containerd.runc.v2 runs runc',
  { skip },
  async () => {
    const info = JSON.parse((await rawRequest(b.sock, 'GET', `${V}/info`)).body) as {
      DefaultRuntime: string;
      Runtimes: Record<string, { path: string }>;
    };
    assert.equal(info.DefaultRuntime, 'runc');
    assert.deepEqual(info.Runtimes.runc, { path: 'runc' });
    assert.deepEqual(info.Runtimes['io.containerd.runc.v2'], { path: 'runc' });
    assert.equal(b.ok(['info', '--format', '{{.DefaultRuntime}}']).trim(), 'runc');
  },
);

test(
  "events as dockerd sends them: kill for stop's and rm -f's signals, volume mount/unmount, image labels and untag's id",
  { skip },
  () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const vol = `dfix2v${process.pid}`;
    const stopped = b.ok(['run', '-d', '--network', 'none', '-v', `${vol}:/data:ro`, IMG, 'sleep', '300']).trim();
    // sleep as pid 1 has no handler for SIGTERM: the kernel ignores it, and stop's SIGKILL follows after -t
    b.ok(['stop', '-t', '1', stopped]);
    const forced = b.ok(['run', '-d', '--network', 'none', IMG, 'sleep', '300']).trim();
    b.ok(['rm', '-f', forced]);
    const repo = `dfix2img${process.pid}`;
    b.ok(['commit', '--change', 'LABEL team=blue', stopped, `${repo}:a`]);
    const imageId = b.ok(['image', 'inspect', '-f', '{{.Id}}', `${repo}:a`]).trim();
    b.ok(['tag', `${repo}:a`, `${repo}:b`]);
    b.ok(['rmi', `${repo}:b`]);
    b.ok(['rmi', `${repo}:a`]);
    b.ok(['rm', stopped]);
    b.ok(['volume', 'rm', vol]);
    const events = JSON.parse(`[${pastEvents(b, since, [], '{{json .}}').trim().split('\n').join(',')}]`) as {
      Type: string;
      Action: string;
      Actor: { ID: string; Attributes: Record<string, string> };
    }[];
    const of = (type: string, action: string, id: string) =>
      events.filter((e) => e.Type === type && e.Action === action && e.Actor.ID === id).map((e) => e.Actor.Attributes);
    assert.deepEqual(
      of('container', 'kill', stopped).map((a) => a.signal),
      ['15', '9'],
    );
    assert.deepEqual(
      of('container', 'kill', forced).map((a) => a.signal),
      ['9'],
    );
    assert.deepEqual(of('volume', 'mount', vol), [
      { driver: 'local', container: stopped, destination: '/data', 'read/write': 'false', propagation: '' },
    ]);
    assert.deepEqual(of('volume', 'unmount', vol), [{ driver: 'local', container: stopped }]);
    // the none network's connect as it starts, disconnect after it died (berthd here runs with --bridge none)
    const none = b.ok(['network', 'inspect', '-f', '{{.Id}}', 'none']).trim();
    for (const action of ['connect', 'disconnect'])
      assert.deepEqual(
        of('network', action, none).filter((a) => a.container === stopped),
        [{ container: stopped, name: 'none', type: 'null' }],
        action,
      );
    // in order: mount before the container's start, unmount after its die
    // (the second before ours may hold an earlier test's events: the network ones are told apart by container)
    const at = (type: string, action: string, id: string) =>
      events.findIndex(
        (e) =>
          e.Type === type &&
          e.Action === action &&
          e.Actor.ID === id &&
          (type !== 'network' || e.Actor.Attributes.container === stopped),
      );
    assert.ok(at('volume', 'mount', vol) < at('container', 'start', stopped));
    assert.ok(at('volume', 'unmount', vol) > at('container', 'die', stopped));
    assert.ok(at('network', 'connect', none) < at('container', 'start', stopped));
    assert.ok(at('network', 'disconnect', none) > at('container', 'die', stopped));
    assert.deepEqual(of('image', 'tag', imageId), [
      { team: 'blue', name: `${repo}:a` },
      { team: 'blue', name: `${repo}:b` },
    ]);
    assert.deepEqual(of('image', 'untag', imageId), [
      { team: 'blue', name: imageId },
      { team: 'blue', name: imageId },
    ]);
    assert.deepEqual(of('image', 'delete', imageId), [{ name: imageId }]);
    assert.deepEqual(of('container', 'commit', stopped), [
      {
        comment: '',
        image: IMG,
        imageID: imageId,
        imageRef: `${repo}:a`,
        name: of('container', 'start', stopped)[0]!.name!,
      },
    ]);
  },
);

test(
  "pull's progress as dockerd writes it: the repository's path, present layers only as 'Already exists', nothing for an image up to date; a missing tag is 'manifest ... not found'",
  { skip },
  () => {
    const host = s!.reg.host;
    const ref = `${host}/dfix2/two:${process.pid}`;
    const [user, pass] = Object.entries(s!.reg.users)[0]!;
    b.ok(['login', '-u', user, '--password-stdin', host], { input: `${pass}\n` });
    const id = b.ok(['create', '--network', 'none', IMG, 'sh', '-c', 'echo new > /new']).trim();
    try {
      b.ok(['start', '-a', id]);
      b.ok(['commit', id, ref]);
      b.ok(['push', ref]);
      b.ok(['rmi', ref]);
      const lines = b.ok(['pull', ref]).trim().split('\n');
      assert.equal(lines[0], `${process.pid}: Pulling from dfix2/two`);
      const present = lines.filter((l) => l.endsWith(': Already exists'));
      assert.equal(present.length, 1, lines.join('\n'));
      const presentId = present[0]!.split(':')[0]!;
      assert.ok(!lines.includes(`${presentId}: Pull complete`), 'a present layer is not pulled');
      assert.equal(lines.filter((l) => l.endsWith(': Pull complete')).length, 1, lines.join('\n'));
      const again = b.ok(['pull', ref]).trim().split('\n');
      assert.deepEqual(
        again.map((l) => l.replace(/sha256:[0-9a-f]{64}/, 'D')),
        [`${process.pid}: Pulling from dfix2/two`, 'Digest: D', `Status: Image is up to date for ${ref}`, ref],
      );
      const missing = b.docker(['pull', `${host}/dfix2/two:nosuchtag`]);
      assert.equal(missing.status, 1);
      assert.match(
        missing.stderr,
        new RegExp(`^Error response from daemon: manifest for ${host}/dfix2/two:nosuchtag not found: `),
      );
    } finally {
      b.docker(['rm', id]);
      b.docker(['rmi', ref]);
      b.docker(['logout', host]);
    }
  },
);

test(
  'an OOM kill while berthd is down is recorded at its restart (State.OOMKilled, the oom event)',
  { skip },
  async () => {
    const id = b
      .ok([
        'run',
        '-d',
        '--memory',
        '8m',
        '--network',
        'none',
        IMG,
        'sh',
        '-c',
        'sleep 2; dd if=/dev/zero of=/dev/null bs=64M count=1',
      ])
      .trim();
    try {
      await b.kill9();
      const counter = cgroupV2
        ? `/sys/fs/cgroup/${b.namespace}/${id}/memory.events`
        : `/sys/fs/cgroup/memory/${b.namespace}/${id}/memory.oom_control`;
      // the kernel's count, while no berthd listens
      await waitUntil('the OOM kill', () => /^oom_kill [1-9]/m.test(readFileSync(counter, 'utf8')), 20_000, 100);
      const since = Math.floor(Date.now() / 1000) - 1;
      await b.start();
      await waitUntil(
        'the exit handled',
        () => b.ok(['inspect', '-f', '{{.State.Status}}', id]).trim() === 'exited',
        20_000,
        100,
      );
      assert.equal(b.ok(['inspect', '-f', '{{.State.OOMKilled}} {{.State.ExitCode}}', id]).trim(), 'true 137');
      assert.match(pastEvents(b, since, [`container=${id}`], '{{.Action}}'), /^oom$/m);
    } finally {
      b.docker(['rm', '-f', id]);
    }
  },
);

/** Opens `path` on berthd's socket, waits for the first bytes of the answer, then hangs up. */
function hangUp(path: string, method = 'GET', body?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = connect(b.sock);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`${path}: no answer`));
    }, 20_000);
    sock.once('data', () => {
      clearTimeout(timer);
      sock.destroy();
      resolve();
    });
    sock.on('error', reject);
    const head = [`${method} ${path} HTTP/1.1`, 'Host: x', 'Content-Type: application/json'];
    if (body !== undefined) head.push(`Content-Length: ${Buffer.byteLength(body)}`);
    if (path.includes('/attach')) head.push('Connection: Upgrade', 'Upgrade: tcp');
    sock.write(`${head.join('\r\n')}\r\n\r\n${body ?? ''}`);
  });
}

const fds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;
/** The processes whose parent is `pid` (export's find and tar, ...). */
const children = (pid: number) =>
  readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ')[1] === String(pid);
      } catch {
        return false;
      }
    }).length;
const mounts = () => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').length;

test(
  'clients that hang up mid-stream (attach, logs -f, events, stats, export, pull): berthd keeps serving and leaks no fd',
  { skip },
  async () => {
    const id = b
      .ok(['run', '-d', '--network', 'none', IMG, 'sh', '-c', 'while true; do echo tick; sleep 0.1; done'])
      .trim();
    try {
      const streams: [string, string?, string?][] = [
        [`${V}/containers/${id}/attach?stream=1&stdout=1&stderr=1`, 'POST'],
        [`${V}/containers/${id}/logs?follow=1&stdout=1`],
        [`${V}/events`],
        [`${V}/containers/${id}/stats?stream=1`],
        [`${V}/containers/${id}/export`],
        [`${V}/images/create?fromImage=${encodeURIComponent(IMG)}`, 'POST'],
      ];
      const pid = b.proc().pid!;
      // one round first: whatever berthd opens once (lazy clients, caches) is not a leak
      for (const [path, method] of streams) await hangUp(path, method);
      await sleep(1000);
      const [before, kids, mounted] = [fds(pid), children(pid), mounts()];
      for (let round = 0; round < 5; round++) for (const [path, method] of streams) await hangUp(path, method);
      await waitUntil(`berthd's fds back to ${before}`, () => fds(pid) <= before, 10_000, 200);
      // export's rootfs mount and its find and tar went with the client
      await waitUntil('no process left', () => children(pid) <= kids, 10_000, 200);
      await waitUntil('no mount left', () => mounts() <= mounted, 10_000, 200);
      // still serving, the container untouched, and its stream still readable
      assert.equal(b.ok(['inspect', '-f', '{{.State.Status}}', id]).trim(), 'running');
      assert.match(b.ok(['logs', '--tail', '1', id]), /tick/);
      // and an export read to its end is whole (the hang-up's kill is not the end's)
      const tarFile = join(b.dir, 'export.tar');
      b.ok(['export', '-o', tarFile, id]);
      assert.match(spawnSync('tar', ['-tf', tarFile], { encoding: 'utf8' }).stdout, /^bin\/busybox$/m);
      const since = Math.floor(Date.now() / 1000) - 1;
      b.ok(['export', '-o', tarFile, id]);
      assert.match(pastEvents(b, since, [`container=${id}`, 'event=export'], '{{.Action}}'), /^export$/m);
      const info = await rawRequest(b.sock, 'GET', `${V}/info`);
      assert.equal(
        (JSON.parse(info.body) as { NEventsListener: number }).NEventsListener,
        0,
        'no events listener left',
      );
    } finally {
      b.docker(['rm', '-f', id]);
    }
  },
);

test(
  "more of dockerd's answers: name filters are regular expressions, refusals in dockerd's words",
  { skip },
  async () => {
    // `-f name=^(none|host)$`: dockerd's filters match a regular expression (a plain name is one too)
    assert.equal(b.ok(['network', 'ls', '--format', '{{.Name}}', '-f', 'name=^(none|host)$']).trim(), 'host\nnone');
    const vol = `dfix2re${process.pid}`;
    b.ok(['volume', 'create', vol]);
    b.ok(['volume', 'create', `${vol}x`]);
    try {
      assert.equal(b.ok(['volume', 'ls', '-q', '-f', `name=^${vol}$`]).trim(), vol);
      assert.equal(
        b
          .ok(['volume', 'ls', '-q', '-f', `name=${vol}`])
          .trim()
          .split('\n').length,
        2,
      );
    } finally {
      b.docker(['volume', 'rm', vol, `${vol}x`]);
    }
    const before = b.ok(['ps', '-aq']);
    for (const [flags, want] of [
      [['--mount', 'type=bogus,dst=/x'], 'invalid mount config for type "bogus": mount type unknown'],
      [['--cpus', '-1'], /^Range of CPUs is from 0\.01 to \d+\.00, as there are only \d+ CPUs available$/],
    ] as [string[], string | RegExp][]) {
      const r = b.docker(['create', '--network', 'none', ...flags, IMG, 'true']);
      assert.equal(r.status, 1, flags.join(' '));
      const msg = /Error response from daemon: (.*)/.exec(r.stderr)?.[1] ?? r.stderr;
      if (typeof want === 'string') assert.equal(msg, want);
      else assert.match(msg, want);
    }
    // the CLI sends --kernel-memory below API 1.42 only (as dockerd 20.10 is spoken to)
    const kmem = await rawRequest(
      b.sock,
      'POST',
      `${V}/containers/create`,
      JSON.stringify({ Image: IMG, HostConfig: { NetworkMode: 'none', KernelMemory: 4 * 1024 * 1024 } }),
    );
    assert.deepEqual(
      [kmem.status, JSON.parse(kmem.body)],
      [400, { message: 'Minimum kernel memory limit allowed is 6MB' }],
    );
    const plain = await rawRequest(b.sock, 'POST', `${V}/containers/create`, JSON.stringify({ Image: IMG }), {
      'Content-Type': 'text/plain',
    });
    assert.deepEqual(
      [plain.status, JSON.parse(plain.body)],
      [400, { message: "Content-Type specified (text/plain) must be 'application/json'" }],
    );
    assert.equal(b.ok(['ps', '-aq']), before, 'nothing made');
    const id = b.ok(['run', '-d', '--network', 'none', IMG, 'sleep', '300']).trim();
    try {
      const r = b.docker(['network', 'disconnect', 'host', id]);
      assert.equal(r.status, 1);
      assert.equal(r.stderr.trim(), `Error response from daemon: container ${id} is not connected to network host`);
    } finally {
      b.docker(['rm', '-f', id]);
    }
  },
);
