// berthd's fixes for issue 10, one flow each, driven by the docker CLI 28 and
// raw API calls, asserting what the daemon and the kernel show: OOM kills in
// State.OOMKilled (containerd's /tasks/oom), stdin that ends only on the
// client's close (CloseIO), exec records gone with their exec (berth-engine's
// shim directory); then the gaps the audit of the issue's list found:
// --volumes-from, /system/df's sizes, /events bounds and filters, /auth and
// push/pull against a registry with htpasswd; the same through docker-py and
// dockerode, archive HEAD, and streams a client cuts (berthd's descriptors
// counted in /proc). Registered by two files, one per engine below berthd
// (berthd-fixes.test.ts on containerd, berthd-fixes-engine.test.ts on
// berth-engine), each with one berthd for the whole file.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pastEvents, rawRequest, type Berthd } from '../../helpers/berthd.js';
import { startRegistry } from '../../helpers/registry.js';
import { waitUntil } from '../../helpers/wait.js';
import { V2 } from './lifecycle-common.js';

interface FixFixture {
  b: Berthd;
  /** busybox from the test's registry, pulled. */
  img: string;
  /** berth-engine's shim directories (<state>/shims), undefined on containerd. */
  shims?: string;
}

/** The OOM kill count the kernel keeps for a container's memory cgroup. */
function oomKills(b: Berthd, id: string): number {
  const text = V2
    ? readFileSync(`/sys/fs/cgroup/${b.namespace}/${id}/memory.events`, 'utf8')
    : readFileSync(`/sys/fs/cgroup/memory/${b.namespace}/${id}/memory.oom_control`, 'utf8');
  return Number(/^oom_kill (\d+)$/m.exec(text)?.[1] ?? 'NaN');
}

/** `onEngine`: berthd runs on berth-engine (whose shim directories the tests can read). */
export function fixesTests(name: string, fx: () => FixFixture, skip: string | false, onEngine: boolean): void {
  const t = (title: string, fn: () => Promise<void>, only?: string | false): void => {
    test(`${name}: ${title}`, { skip: skip || only }, fn);
  };
  const state = (b: Berthd, c: string) =>
    b.ok(['inspect', '-f', '{{.State.Status}} {{.State.OOMKilled}} {{.State.ExitCode}}', c]).trim();

  t(
    'an OOM kill sets State.OOMKilled (a child while the container runs, the init at its exit); a start clears it',
    async () => {
      const { b, img } = fx();
      const mem = ['--memory', '16m', '--memory-swap', '16m', '--network', 'none'];
      const since = Math.floor(Date.now() / 1000) - 1;
      // tail reads /dev/zero for a newline that never comes: it grows until the kernel kills it
      const child = b
        .ok(['run', '-d', ...mem, img, 'sh', '-c', 'tail /dev/zero; echo "tail: $?"; exec sleep 300'])
        .trim();
      await waitUntil('OOMKilled on the running container', () => state(b, child) === 'running true 0', 20000, 100);
      assert.ok(oomKills(b, child) >= 1, 'the kernel counted the kill');
      assert.match(b.ok(['logs', child]), /^tail: 137$/m, 'tail died of SIGKILL, the container went on');
      const ev = pastEvents(b, since, []);
      assert.match(ev, new RegExp(`container oom ${child}`), 'an oom event as dockerd sends it');
      b.ok(['rm', '-f', child]);

      // the init itself: a first run is killed, the next one (a marker in the rootfs) sleeps
      const init = b
        .ok(['run', '-d', ...mem, img, 'sh', '-c', '[ -e /ran ] && exec sleep 300; touch /ran; exec tail /dev/zero'])
        .trim();
      await waitUntil('the OOM-killed exit', () => state(b, init) === 'exited true 137', 20000, 100);
      assert.equal(b.ok(['wait', init]).trim(), '137');
      b.ok(['start', init]);
      assert.equal(state(b, init), 'running false 0', 'a new run starts with OOMKilled false');
      assert.equal(oomKills(b, init), 0, "the new run's cgroup saw no kill");
      b.ok(['rm', '-f', init]);

      // a container that is not killed never shows it
      const fine = b.ok(['run', '-d', ...mem, img, 'sh', '-c', 'exit 3']).trim();
      await waitUntil('the exit', () => state(b, fine).startsWith('exited'), 20000, 100);
      assert.equal(state(b, fine), 'exited false 3');
      b.ok(['rm', '-f', fine]);
    },
  );

  t(
    "stdin ends at the client's end only: run -i, exec -i, and a detached -i container across a client's exit",
    async () => {
      const { b, img } = fx();
      const none = ['--network', 'none'];
      // docker run -i: the CLI's end of input is the container's EOF (CloseIO once the bytes are in)
      assert.equal(
        b.ok(['run', '-i', '--rm', ...none, img, 'sh', '-c', 'cat; echo end'], { input: 'piped\n' }),
        'piped\nend\n',
      );
      const d = b
        .ok([
          'run',
          '-d',
          '-i',
          ...none,
          img,
          'sh',
          '-c',
          'while read l; do echo "got $l"; done; echo "stdin ended"; sleep 300',
        ])
        .trim();
      assert.equal(
        b.ok(['exec', '-i', d, 'sh', '-c', 'cat; echo exec-end'], { input: 'via exec\n' }),
        'via exec\nexec-end\n',
      );
      // an attach that writes and goes away is not the container's EOF (dockerd: only with StdinOnce)
      for (const word of ['one', 'two']) {
        const att = spawn('/usr/local/bin/docker', ['attach', d], { env: b.env, stdio: ['pipe', 'pipe', 'pipe'] });
        let out = '';
        att.stdout.on('data', (c: Buffer) => (out += c.toString()));
        await new Promise((r) => setTimeout(r, 300));
        att.stdin.write(`${word}\n`);
        await waitUntil(`"got ${word}" through attach`, () => out.includes(`got ${word}`), 15000, 50);
        att.kill('SIGKILL');
        await new Promise((r) => att.once('exit', r));
      }
      await new Promise((r) => setTimeout(r, 500));
      assert.doesNotMatch(b.ok(['logs', d]), /stdin ended/);
      assert.equal(b.ok(['inspect', '-f', '{{.State.Status}}', d]).trim(), 'running');
      b.ok(['rm', '-f', d]);
    },
  );

  t(
    'a deleted exec leaves no record behind (docker exec, exec -d, healthcheck probes)',
    async () => {
      const { b, img } = fx();
      const shims = fx().shims!;
      const id = b
        .ok([
          'run',
          '-d',
          '--network',
          'none',
          '--health-cmd',
          'true',
          '--health-interval',
          '50ms',
          img,
          'sleep',
          '300',
        ])
        .trim();
      const execFiles = () =>
        readdirSync(shims).flatMap((d) =>
          readdirSync(join(shims, d))
            .filter((f) => f.startsWith('exec-'))
            .map((f) => `${d}/${f}`),
        );
      for (let i = 0; i < 5; i++) assert.equal(b.ok(['exec', id, 'sh', '-c', `echo ${i}`]), `${i}\n`);
      b.ok(['exec', '-d', id, 'sh', '-c', 'exit 2']);
      await waitUntil(
        'healthy after many probes',
        () => b.ok(['inspect', '-f', '{{.State.Health.Status}}', id]).trim() === 'healthy',
        15000,
        100,
      );
      await new Promise((r) => setTimeout(r, 1000)); // some 20 probes more, each an exec
      // paused, the monitor stops: the probe in flight, if any, ends and goes like the others
      b.ok(['pause', id]);
      await waitUntil('no exec record left', () => execFiles().length === 0, 10000, 100).catch(() => {
        assert.deepEqual(execFiles(), [], 'exec records of deleted execs');
      });
      b.ok(['unpause', id]);
      b.ok(['rm', '-f', id]);
    },
    !onEngine && "containerd's shim keeps its own state: nothing of Berth's to count",
  );

  t(
    "--volumes-from: the other container's volumes and binds, :ro, a -v over one, the volume kept while used",
    async () => {
      const { b, img } = fx();
      const none = ['--network', 'none'];
      const src = `vf-src-${process.pid}`;
      const vol = `vf-named-${process.pid}`;
      b.ok([
        'run',
        '-d',
        ...none,
        '--name',
        src,
        '-v',
        '/data',
        '-v',
        `${vol}:/named`,
        img,
        'sh',
        '-c',
        'echo anon > /data/f; echo named > /named/g; sleep 300',
      ]);
      await waitUntil(
        'the source wrote',
        () => b.docker(['exec', src, 'cat', '/named/g']).stdout === 'named\n',
        10000,
        100,
      );
      // the same volumes, read-write: a write lands in the source's volume
      assert.equal(
        b.ok([
          'run',
          '--rm',
          ...none,
          '--volumes-from',
          src,
          img,
          'sh',
          '-c',
          'cat /data/f /named/g; echo from-consumer > /data/w',
        ]),
        'anon\nnamed\n',
      );
      assert.equal(b.ok(['exec', src, 'cat', '/data/w']), 'from-consumer\n');
      // :ro: the kernel refuses the write (a read-only mount in the consumer)
      const ro = b.docker([
        'run',
        '--rm',
        ...none,
        '--volumes-from',
        `${src}:ro`,
        img,
        'sh',
        '-c',
        'touch /data/x; grep " /data " /proc/mounts',
      ]);
      assert.match(ro.stderr, /Read-only file system/);
      assert.match(ro.stdout, / \/data \S+ ro[, ]/);
      // a named -v of the same destination replaces the inherited mount (dockerd's order), no duplicate error;
      // an anonymous one (-v /data, as an image's VOLUME) does not: the destination is mounted already
      assert.equal(
        b.ok(['run', '--rm', ...none, '--volumes-from', src, '-v', `${vol}-over:/data`, img, 'ls', '/data']),
        '',
      );
      b.ok(['volume', 'rm', `${vol}-over`]);
      assert.equal(b.ok(['run', '--rm', ...none, '--volumes-from', src, '-v', '/data', img, 'ls', '/data']), 'f\nw\n');
      // inspect shows the inherited mounts and the option
      const cons = b.ok(['create', ...none, '--volumes-from', src, img, 'true']).trim();
      const mounts = JSON.parse(b.ok(['inspect', '-f', '{{json .Mounts}}', cons])) as {
        Name?: string;
        Destination: string;
      }[];
      assert.deepEqual(mounts.map((m) => m.Destination).sort(), ['/data', '/named']);
      assert.equal(b.ok(['inspect', '-f', '{{json .HostConfig.VolumesFrom}}', cons]).trim(), JSON.stringify([src]));
      // the source goes with -v: its anonymous volume stays while the consumer holds it
      const anon = mounts.find((m) => m.Destination === '/data')!.Name!;
      b.ok(['rm', '-f', '-v', src]);
      assert.equal(b.ok(['volume', 'inspect', '-f', '{{.Name}}', anon]).trim(), anon);
      b.ok(['rm', '-v', cons]);
      assert.equal(b.docker(['volume', 'inspect', anon]).status, 1, 'gone with its last user');
      b.ok(['volume', 'rm', vol]);
      // dockerd's 400s, and nothing is left of a failed create
      const before = b.ok(['volume', 'ls', '-q']);
      const nope = b.docker([
        'create',
        ...none,
        '-v',
        `vf-half-${process.pid}:/a`,
        '--volumes-from',
        'no-such-container-here',
        img,
        'true',
      ]);
      assert.equal(nope.status, 1);
      assert.match(nope.stderr, /No such container: no-such-container-here/);
      assert.doesNotMatch(nope.stderr, /Unable to find image/, 'a 400, not a 404 the CLI would answer with a pull');
      assert.match(
        b.docker(['create', ...none, '--volumes-from', `${cons}:shared`, img, 'true']).stderr,
        /invalid mode: shared/,
      );
      assert.equal(b.ok(['volume', 'ls', '-q']), before);
    },
  );

  t('/system/df: images shared size, reclaimable, local volume sizes as the kernel stores them', async () => {
    const { b, img } = fx();
    const vol = `df-vol-${process.pid}`;
    const c = b
      .ok([
        'run',
        '-d',
        '--network',
        'none',
        '-v',
        `${vol}:/v`,
        img,
        'sh',
        '-c',
        'head -c 12345 /dev/zero > /v/a; ln /v/a /v/hard; mkdir /v/d; echo -n 12 > /v/d/b; sleep 300',
      ])
      .trim();
    await waitUntil('the files', () => b.docker(['exec', c, 'cat', '/v/d/b']).stdout === '12', 10000, 100);
    b.ok(['volume', 'create', '-d', 'local', '-o', 'type=tmpfs', '-o', 'device=tmpfs', `df-opt-${process.pid}`]);
    const df = JSON.parse((await rawRequest(b.sock, 'GET', '/system/df')).body) as {
      LayersSize: number;
      Images: { RepoTags: string[]; Size: number; SharedSize: number; Containers: number }[];
      Volumes: { Name: string; UsageData: { Size: number; RefCount: number } }[];
    };
    const mine = df.Images.find((i) => i.RepoTags.includes(img))!;
    assert.equal(mine.SharedSize, 0, 'computed (not -1): one image holds its layers alone');
    assert.ok(mine.Containers >= 1);
    const v = df.Volumes.find((x) => x.Name === vol)!;
    assert.deepEqual(v.UsageData, { Size: 12345 + 2, RefCount: 1 }, 'a hard link counted once, directories not at all');
    assert.equal(
      df.Volumes.find((x) => x.Name === `df-opt-${process.pid}`),
      undefined,
      'a volume with driver options is not listed (dockerd)',
    );
    // the CLI's summary: nothing reclaimable of an image a container uses (no negative size either)
    const images = b
      .ok(['system', 'df', '--format', '{{.Type}}|{{.Reclaimable}}'])
      .split('\n')
      .find((l) => l.startsWith('Images|'));
    assert.match(images ?? '', /^Images\|0B \(0%\)$/);
    b.ok(['rm', '-f', c]);
    b.ok(['volume', 'rm', `df-opt-${process.pid}`]);
    b.ok(['volume', 'create', '--label', `bfx.prune=${process.pid}`, `df-prune-${process.pid}`]);
    // the volume prune's SpaceReclaimed counts the same way (12347 bytes in the unused one)
    b.ok([
      'run',
      '--rm',
      '--network',
      'none',
      '-v',
      `${vol}:/v`,
      '-v',
      `df-prune-${process.pid}:/p`,
      img,
      'cp',
      '-a',
      '/v/.',
      '/p/',
    ]);
    const pruned = await rawRequest(
      b.sock,
      'POST',
      `/volumes/prune?filters=${encodeURIComponent(JSON.stringify({ all: ['true'], label: [`bfx.prune=${process.pid}`] }))}`,
    );
    assert.deepEqual(JSON.parse(pruned.body), {
      VolumesDeleted: [`df-prune-${process.pid}`],
      SpaceReclaimed: 12345 + 2,
    });
    b.ok(['volume', 'rm', vol]);
  });

  t(
    '/events: until alone replays, since after until is a 400, filters by volume, image and label as dockerd',
    async () => {
      const { b, img } = fx();
      const t0 = Math.floor(Date.now() / 1000) - 1;
      const n = `ev-${process.pid}`;
      b.ok(['run', '--rm', '--network', 'none', '--name', n, '--label', 'ev.k=v1', img, 'true']);
      b.ok(['volume', 'create', `evvol-${process.pid}`]);
      b.ok(['volume', 'rm', `evvol-${process.pid}`]);
      const t1 = Math.ceil(Date.now() / 1000) + 1;
      const ev = (args: string[]) =>
        b
          .ok(['events', ...args, '--format', '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}'])
          .trim()
          .split('\n')
          .filter(Boolean);
      // --until alone: the past up to it, then the end of the stream (dockerd replays when either bound is set)
      assert.ok(ev(['--until', String(t1)]).includes(`container die ${n}`));
      assert.deepEqual(
        ev(['--since', String(t0), '--until', String(t1), '--filter', `container=${n}`, '--filter', 'event=die']),
        [`container die ${n}`],
      );
      assert.deepEqual(
        ev(['--since', String(t0), '--until', String(t1), '--filter', 'label=ev.k=v1', '--filter', 'event=start']),
        [`container start ${n}`],
      );
      assert.deepEqual(ev(['--since', String(t0), '--until', String(t1), '--filter', 'label=ev.k=other']), []);
      // a volume filter keeps the events of that volume only (not every container's, as before)
      const vols = ev(['--since', String(t0), '--until', String(t1), '--filter', `volume=evvol-${process.pid}`]);
      assert.ok(vols.length >= 2 && vols.every((l) => l.startsWith('volume ')), vols.join('; '));
      // image= matches a container's image without its tag too (dockerd's stripTag)
      const repo = img.replace(/:[^:/]+$/, '');
      assert.ok(
        ev([
          '--since',
          String(t0),
          '--until',
          String(t1),
          '--filter',
          `image=${repo}`,
          '--filter',
          'type=container',
        ]).includes(`container die ${n}`),
      );
      const bad = await rawRequest(b.sock, 'GET', `/events?since=${t1}&until=${t0}`);
      assert.equal(bad.status, 400);
      assert.match(bad.body, /`since` time \(\d+\) cannot be after `until` time \(\d+\)/);
      assert.equal((await rawRequest(b.sock, 'GET', '/events?since=yesterday&until=1')).status, 400);
    },
  );

  t(
    "/auth and push/pull against a registry with htpasswd: dockerd's answers, credentials from X-Registry-Auth",
    async () => {
      const { b, img } = fx();
      const reg = await startRegistry({ auth: 'htpasswd', users: { alice: 'right-pass' } });
      try {
        const wrong = b.docker(['login', '-u', 'alice', '--password-stdin', reg.host], { input: 'wrong-pass\n' });
        assert.equal(wrong.status, 1);
        assert.match(wrong.stderr, /Error response from daemon: login attempt to \S+ failed/);
        const raw = await rawRequest(
          b.sock,
          'POST',
          '/auth',
          JSON.stringify({ username: 'alice', password: 'wrong-pass', serveraddress: reg.host }),
        );
        assert.equal(raw.status, 401, "dockerd's status for refused credentials");
        const ref = `${reg.host}/berth/authed:1`;
        b.ok(['tag', img, ref]);
        const anon = b.docker(['push', ref]);
        assert.notEqual(anon.status, 0, 'no credentials: refused');
        assert.match(anon.stderr + anon.stdout, /no basic auth credentials|unauthorized|authentication required/i);
        assert.match(
          b.ok(['login', '-u', 'alice', '--password-stdin', reg.host], { input: 'right-pass\n' }),
          /Login Succeeded/,
        );
        b.ok(['push', ref]);
        // the registry has it now, as skopeo (another client) sees it with the same credentials
        b.ok(['rmi', ref]);
        b.ok(['pull', ref]);
        assert.equal(
          b.ok(['image', 'inspect', '-f', '{{.Id}}', ref]).trim(),
          b.ok(['image', 'inspect', '-f', '{{.Id}}', img]).trim(),
        );
        b.ok(['logout', reg.host]);
        b.ok(['rmi', ref]);
        const denied = b.docker(['pull', ref]);
        assert.notEqual(denied.status, 0);
      } finally {
        b.docker(['rmi', `${reg.host}/berth/authed:1`]);
        await reg.stop();
      }
    },
  );

  t(
    'the SDKs: docker-py (volumes_from, df, events with bounds and filters), dockerode (archive HEAD, streams cut by the client)',
    async () => {
      const { b, img } = fx();
      const tag = `sdk${process.pid}`;
      const py = spawnSync(
        'python3',
        [
          '-c',
          `
import docker, time, sys
c = docker.DockerClient(base_url='unix://${b.sock}')
t0 = int(time.time()) - 1
src = c.containers.run('${img}', ['sh', '-c', 'echo -n py-data > /vol/f; sleep 300'], network_mode='none', detach=True,
                       name='${tag}-src', volumes={'${tag}-vol': {'bind': '/vol', 'mode': 'rw'}})
while src.exec_run(['cat', '/vol/f']).output != b'py-data':
    time.sleep(0.1)
print(c.containers.run('${img}', ['cat', '/vol/f'], network_mode='none', remove=True, volumes_from=[src.id]).decode())
df = c.df()
print([v['UsageData']['Size'] for v in df['Volumes'] if v['Name'] == '${tag}-vol'][0])
src.remove(force=True)
t1 = int(time.time()) + 1
evs = list(c.events(since=t0, until=t1, filters={'container': '${tag}-src', 'event': 'destroy'}, decode=True))
print(len(evs), evs[0]['Actor']['Attributes']['name'])
c.volumes.get('${tag}-vol').remove()
`,
        ],
        { encoding: 'utf8', timeout: 120000 },
      );
      assert.equal(py.status, 0, py.stderr + b.logTail());
      assert.equal(py.stdout, `py-data\n7\n1 ${tag}-src\n`);

      const Docker = (await import('dockerode')).default;
      const d = new Docker({ socketPath: b.sock });
      const c = await d.createContainer({
        Image: img,
        name: `${tag}-node`,
        Cmd: ['sh', '-c', 'echo -n 0123456789 > /tmp/ten; while true; do echo tick; sleep 0.05; done'],
        HostConfig: { NetworkMode: 'none' },
      });
      await c.start();
      await waitUntil(
        'the file',
        () => b.docker(['exec', `${tag}-node`, 'cat', '/tmp/ten']).stdout === '0123456789',
        10000,
        100,
      );
      await new Promise((r) => setTimeout(r, 300));
      // HEAD /archive: dockerd's stat header (base64 JSON), no body; a missing path is a 404 (dockerode sees it too)
      const head = await rawRequest(b.sock, 'HEAD', `/containers/${tag}-node/archive?path=/tmp/ten`);
      assert.equal(head.status, 200);
      assert.equal(head.body, '');
      const st = JSON.parse(
        Buffer.from(String(head.headers['x-docker-container-path-stat']), 'base64').toString('utf8'),
      ) as { name: string; size: number; mode: number; linkTarget: string };
      assert.deepEqual([st.name, st.size, st.mode & 0o777, st.linkTarget], ['ten', 10, 0o644, '']);
      await c.infoArchive({ path: '/tmp/ten' });
      await assert.rejects(c.infoArchive({ path: '/tmp/none' }), (e: { statusCode?: number }) => e.statusCode === 404);
      // streams the client cuts: berthd's descriptors come back to where they were, and it serves on
      const pid = b.proc().pid!;
      const fds = () => readdirSync(`/proc/${pid}/fd`).length;
      const base = fds();
      for (let i = 0; i < 5; i++) {
        const streams = [
          (await d.getEvents({})) as unknown as NodeJS.ReadableStream & { destroy(): void },
          (await c.logs({ follow: true, stdout: true })) as unknown as NodeJS.ReadableStream & { destroy(): void },
          (await c.attach({ stream: true, stdout: true })) as unknown as NodeJS.ReadableStream & { destroy(): void },
          (await c.stats({ stream: true })) as unknown as NodeJS.ReadableStream & { destroy(): void },
        ];
        // each has sent something (an exec makes an event) before the client goes
        await c.exec({ Cmd: ['true'] });
        await Promise.race([
          Promise.all(streams.map((s) => new Promise((r) => s.once('data', r)))),
          new Promise((_, rej) => setTimeout(() => rej(new Error('a stream sent nothing in 10 s')), 10000)),
        ]);
        for (const s of streams) s.destroy();
      }
      await waitUntil(`berthd's descriptors back near ${base}`, () => fds() <= base + 2, 10000, 100);
      assert.equal((await d.ping()).toString(), 'OK');
      await c.remove({ force: true });
    },
  );
}
