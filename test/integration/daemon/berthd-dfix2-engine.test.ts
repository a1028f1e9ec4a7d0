// More differences with dockerd 20.10 found by scripts/docker-differential.ts
// and in the gaps earlier sessions left (berthd on berth-engine, the real
// docker CLI and raw API calls). dockerd's answers, seen side by side, are the
// expected values; each test fails on berthd before its fix.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { type Berthd, pastEvents, rawRequest } from '../../helpers/berthd.js';
import { berthdSkip, startBerthdStack, type BerthdStack } from '../../helpers/berthd-stack.js';

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
      // dockerd's JSON encoder ends the body with a newline
      assert.deepEqual([bad.status, bad.body], [400, '{"message":"invalid cgroup namespace mode: x"}\n']);

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
    // in order: mount before the container's start, unmount after its die
    const at = (type: string, action: string, id: string) =>
      events.findIndex((e) => e.Type === type && e.Action === action && e.Actor.ID === id);
    assert.ok(at('volume', 'mount', vol) < at('container', 'start', stopped));
    assert.ok(at('volume', 'unmount', vol) > at('container', 'die', stopped));
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
