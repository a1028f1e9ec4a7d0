// The flows of berthd's healthchecks, `docker update`, `docker diff`, restart
// policies across berthd restarts, wait conditions, prune and checkpoints,
// driven by the docker CLI 28 and raw API calls, each asserting what the
// kernel shows (cgroup files, processes) or the snapshot holds. Registered by
// two files, one per engine below berthd (containerd and berth-engine), each
// with one berthd for the whole file.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rawRequest, pastEvents } from '../../helpers/berthd.js';
import { withBerthdStack, type Backend } from '../../helpers/berthd-stack.js';
import { sleep, waitUntil } from '../../helpers/wait.js';
import { cg, pidOf, seedLifecycleImages, V2, type Fixture } from './lifecycle-common.js';
import { containerdRecordTests } from './lifecycle-ctrd.js';
import { healthTests } from './lifecycle-health.js';

/**
 * The flows on `backend`, for one test file: one backend, one registry with
 * the lifecycle images and one berthd (its own namespace) for the file.
 */
export function lifecycleOn(backend: Backend): void {
  const short = backend === 'engine' ? 'eng' : 'ctrd';
  let imgs = { img: '', hcImg: '' };
  const opts = {
    prefix: `berthd-lc-${short}-`,
    seed: (host: string) => void (imgs = seedLifecycleImages(host)),
    pull: () => [imgs.img, imgs.hcImg],
    berthd: { namespace: `berthd-lc-${short}-${process.pid}` },
  };
  withBerthdStack(backend, opts, (get, skip) => {
    const fx = (): Fixture => ({ b: get().b, ...imgs, ctr: (args) => get().ctr(args).stdout });
    const name = backend === 'engine' ? 'berth-engine' : 'containerd';
    lifecycleTests(name, fx, skip);
    containerdRecordTests(name, fx, skip);
  });
}

function lifecycleTests(name: string, fx: () => Fixture, skip: string | false): void {
  const t = (title: string, fn: () => Promise<void>): void => {
    test(`${name}: ${title}`, { skip }, fn);
  };
  const run = (args: string[]) =>
    fx()
      .b.ok(['run', '-d', '--network', 'none', ...args])
      .trim();

  healthTests(t, fx, run);

  t('docker update: cgroup files of a running task, the record, and dockerd errors', async () => {
    const { b, img } = fx();
    const id = run(['--name', 'upd1', img, 'sleep', '300']);
    const noSwap = b.docker(['update', '--memory', '64m', id]);
    assert.equal(noSwap.status, 1);
    assert.match(
      noSwap.stderr,
      new RegExp(
        `Cannot update container ${id}: Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time`,
      ),
    );
    b.ok([
      'update',
      '--memory',
      '64m',
      '--memory-swap',
      '128m',
      '--memory-reservation',
      '32m',
      '--cpus',
      '0.5',
      '--cpu-shares',
      '512',
      '--cpuset-cpus',
      '0',
      '--pids-limit',
      '50',
      id,
    ]);
    const mib = 1024 * 1024;
    if (V2) {
      assert.equal(cg(b, id, ['', ''], 'memory.max'), String(64 * mib));
      assert.equal(cg(b, id, ['', ''], 'memory.swap.max'), String(64 * mib));
      assert.equal(cg(b, id, ['', ''], 'memory.low'), String(32 * mib));
      assert.equal(cg(b, id, ['', ''], 'cpu.max'), '50000 100000');
    } else {
      assert.equal(cg(b, id, ['memory', 'memory.limit_in_bytes'], ''), String(64 * mib));
      assert.equal(cg(b, id, ['memory', 'memory.soft_limit_in_bytes'], ''), String(32 * mib));
      if (existsSync(`/sys/fs/cgroup/memory/${b.namespace}/${id}/memory.memsw.limit_in_bytes`))
        assert.equal(cg(b, id, ['memory', 'memory.memsw.limit_in_bytes'], ''), String(128 * mib));
      assert.equal(cg(b, id, ['cpu', 'cpu.cfs_quota_us'], ''), '50000');
      assert.equal(cg(b, id, ['cpu', 'cpu.cfs_period_us'], ''), '100000');
      assert.equal(cg(b, id, ['cpu', 'cpu.shares'], ''), '512');
    }
    assert.equal(cg(b, id, ['cpuset', 'cpuset.cpus'], 'cpuset.cpus'), '0');
    assert.equal(cg(b, id, ['pids', 'pids.max'], 'pids.max'), '50');
    const hc = JSON.parse(b.ok(['inspect', '-f', '{{json .HostConfig}}', id]));
    assert.equal(hc.Memory, 64 * mib);
    assert.equal(hc.MemorySwap, 128 * mib);
    assert.equal(hc.NanoCpus, 5e8);
    assert.equal(hc.PidsLimit, 50);
    // The record carries the limits into the next start.
    b.ok(['stop', '-t', '0', id]);
    b.ok(['update', '--pids-limit', '77', id]);
    b.ok(['start', id]);
    assert.equal(cg(b, id, ['pids', 'pids.max'], 'pids.max'), '77');
    assert.equal(
      cg(b, id, ['memory', 'memory.limit_in_bytes'], 'memory.max'),
      String(64 * mib),
      'limits set by update are in the new task',
    );
    // Conflicts are 409 "Cannot update container", bad values 400 with dockerd's words.
    const quota = await rawRequest(b.sock, 'POST', `/containers/${id}/update`, JSON.stringify({ CpuQuota: 20000 }));
    assert.equal(quota.status, 409);
    assert.equal(
      JSON.parse(quota.body).message,
      `Cannot update container ${id}: Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set`,
    );
    const tiny = await rawRequest(b.sock, 'POST', `/containers/${id}/update`, JSON.stringify({ Memory: 1024 }));
    assert.equal(tiny.status, 400);
    assert.equal(JSON.parse(tiny.body).message, 'Minimum memory limit allowed is 6MB');
    const badType = await rawRequest(b.sock, 'POST', `/containers/${id}/update`, '{"Memory":"lots"}');
    assert.equal(badType.status, 400);
    assert.match(JSON.parse(badType.body).message, /Memory/);
    const rt = await rawRequest(b.sock, 'POST', `/containers/${id}/update`, '{"CpuRealtimePeriod":1000000}');
    assert.equal(rt.status, 400);
    assert.match(JSON.parse(rt.body).message, /^CpuRealtimePeriod: /);
    const none = await rawRequest(b.sock, 'POST', '/containers/no-such-upd/update', '{}');
    assert.equal(none.status, 404);
    assert.equal(cg(b, id, ['pids', 'pids.max'], 'pids.max'), '77', 'a refused update changes nothing');
    const rmd = b.ok(['run', '-d', '--rm', '--network', 'none', img, 'sleep', '300']).trim();
    const auto = b.docker(['update', '--restart', 'always', rmd]);
    assert.match(auto.stderr, /Restart policy cannot be updated because AutoRemove is enabled for the container/);
    b.ok(['rm', '-f', id, rmd]);
  });

  t('docker diff: adds, changes, deletes, whiteouts of a lower layer, opaque directories', async () => {
    const { b, img } = fx();
    const id = run([
      img,
      'sh',
      '-c',
      'echo hi > /newfile; mkdir -p /newdir/sub; echo more >> /etc/passwd; rm /etc/group /gone; ' +
        'rm -rf /opq; mkdir /opq; echo n > /opq/c; chmod 700 /tmp; ' +
        // Same bytes, same mtime: only the capability the write dropped differs.
        'cp -p /capbin /tmp/keep; cat /tmp/keep > /capbin; touch -r /tmp/keep /capbin; touch /tmp/.ready; sleep 300',
    ]);
    const expected = [
      'C /capbin',
      'C /etc',
      'C /etc/passwd',
      'D /etc/group',
      'A /newdir',
      'A /newdir/sub',
      'A /newfile',
      'C /opq',
      'A /opq/c',
      'D /opq/a',
      'D /opq/b',
      'C /tmp',
      'A /tmp/.ready',
      'A /tmp/keep',
      'D /gone',
    ];
    await waitUntil('the writes', () => b.docker(['exec', id, 'test', '-e', '/tmp/.ready']).status === 0, 10000);
    assert.deepEqual(b.ok(['diff', id]).trim().split('\n'), expected);
    // The same of a stopped container, from its snapshot alone.
    b.ok(['stop', '-t', '0', id]);
    assert.deepEqual(b.ok(['diff', id]).trim().split('\n'), expected);
    const api = JSON.parse((await rawRequest(b.sock, 'GET', `/containers/${id}/changes`)).body);
    assert.deepEqual(api[1], { Path: '/etc', Kind: 0 });
    // A container that changed nothing: no line (the runtime's mount points are not changes).
    const quiet = run([img, 'sleep', '300']);
    assert.equal(b.ok(['diff', quiet]), '');
    // No view snapshot is left behind, nor its lease.
    assert.doesNotMatch(fx().ctr(['snapshots', 'ls']), /parent-view/);
    assert.doesNotMatch(fx().ctr(['leases', 'ls']), /berthd-diff/);
    b.ok(['rm', '-f', id, quiet]);
  });

  t('restart policies: on-failure:N with back-off, always after a kill from the host, stop cancels', async () => {
    const { b, img } = fx();
    const since = Date.now();
    const f = run(['--restart', 'on-failure:3', img, 'sh', '-c', 'exit 3']);
    await waitUntil(
      'three restarts then stopped',
      () => b.ok(['inspect', '-f', '{{.State.Status}} {{.RestartCount}}', f]).trim() === 'exited 3',
      20000,
      100,
    );
    assert.equal(b.ok(['inspect', '-f', '{{.State.ExitCode}}', f]).trim(), '3');
    const dies = pastEvents(b, since / 1000, [`container=${f}`, 'event=die'], '{{.TimeNano}}')
      .trim()
      .split('\n')
      .map(Number);
    assert.equal(dies.length, 4, 'the first run and three restarts');
    // The back-off doubles from 100 ms: 100, 200, 400 ms between the exits (plus the start itself).
    const gaps = dies.slice(1).map((t, i) => (t - dies[i]!) / 1e6);
    assert.ok(gaps[0]! >= 90 && gaps[1]! >= 190 && gaps[2]! >= 390, `gaps ${gaps.join(', ')}`);
    const a = run(['--restart', 'always', img, 'sleep', '300']);
    const pid = pidOf(b, a);
    process.kill(pid, 'SIGKILL');
    await waitUntil('restarted', () => ![0, pid].includes(pidOf(b, a)), 15000, 100);
    assert.equal(b.ok(['inspect', '-f', '{{.RestartCount}} {{.State.Running}}', a]).trim(), '1 true');
    assert.equal(readFileSync(`/proc/${pidOf(b, a)}/cmdline`, 'utf8'), 'sleep\x00300\x00');
    // docker stop: no restart, whatever the policy; docker start resets the count.
    b.ok(['stop', '-t', '0', a]);
    await sleep(500);
    assert.equal(b.ok(['inspect', '-f', '{{.State.Status}}', a]).trim(), 'exited');
    b.ok(['start', a]);
    assert.equal(b.ok(['inspect', '-f', '{{.RestartCount}}', a]).trim(), '0');
    // docker update --restart reaches the running container's next exit.
    const u = run([img, 'sleep', '300']);
    b.ok(['update', '--restart', 'on-failure', u]);
    const upid = pidOf(b, u);
    process.kill(upid, 'SIGKILL');
    await waitUntil('restarted after update', () => ![0, upid].includes(pidOf(b, u)), 15000, 100);
    // A crash loop: rm refuses a restarting container, stop ends the loop.
    const loop = run(['--restart', 'always', img, 'sh', '-c', 'exit 1']);
    const st = () => b.ok(['inspect', '-f', '{{.State.Status}} {{.RestartCount}} {{.State.Running}}', loop]).trim();
    await waitUntil('a long back-off', () => /^restarting ([4-9]|\d\d) true$/.test(st()), 20000, 50);
    assert.match(
      b.docker(['rm', loop]).stderr,
      /cannot remove a restarting container: stop the container before attempting removal or force remove/,
    );
    b.ok(['stop', loop]);
    assert.match(st(), /^exited \d+ false$/);
    await sleep(300);
    assert.match(st(), /^exited /, 'no restart after the stop');
    const paused = run([img, 'sleep', '300']);
    b.ok(['pause', paused]);
    assert.match(b.docker(['rm', paused]).stderr, /cannot remove a paused container: unpause and then stop/);
    b.ok(['rm', '-f', loop, paused]);
    const bad = b.docker(['run', '-d', '--restart', 'sometimes', img, 'true']);
    assert.match(bad.stderr, /invalid restart policy/);
    b.ok(['rm', '-f', f, a, u]);
  });

  t('restart policies across berthd restarts: kill -9, SIGTERM, and exits while berthd was down', async () => {
    const { b, img } = fx();
    const al = run(['--restart', 'always', img, 'sleep', '300']);
    const us = run(['--restart', 'unless-stopped', img, 'sleep', '300']);
    const no = run([img, 'sleep', '300']);
    const of = run(['--restart', 'on-failure', img, 'sleep', '300']);
    b.ok(['stop', '-t', '0', al, us, no]);
    await b.kill9();
    // While berthd is away, a running container's process dies.
    const ofPid = Number(
      JSON.parse(readFileSync(join(b.dir, 'data/containers', of, 'config.v2.json'), 'utf8')).State.Pid,
    );
    process.kill(ofPid, 'SIGKILL');
    await waitUntil('the process gone', () => !existsSync(`/proc/${ofPid}`), 10000);
    await b.start();
    const state = (c: string) => b.ok(['inspect', '-f', '{{.State.Status}}', c]).trim();
    // dockerd's boot: always comes back even after docker stop, unless-stopped does not.
    await waitUntil('always back', () => state(al) === 'running', 15000, 100);
    assert.equal(state(us), 'exited');
    assert.equal(state(no), 'exited');
    // The exit berthd missed is seen, and the policy restarts it.
    await waitUntil('on-failure restarted', () => state(of) === 'running' && pidOf(b, of) !== ofPid, 15000, 100);
    assert.equal(b.ok(['inspect', '-f', '{{.RestartCount}}', of]).trim(), '1');
    // SIGTERM with live-restore: everything keeps running, the same processes.
    const pids = [al, of].map((c) => pidOf(b, c));
    const proc = b.proc();
    const gone = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    await gone;
    for (const p of pids) assert.ok(existsSync(`/proc/${p}`), 'still running while berthd is down');
    await b.start();
    assert.deepEqual(
      [al, of].map((c) => pidOf(b, c)),
      pids,
    );
    b.ok(['rm', '-f', al, us, no, of]);
  });

  t('live-restore off: berthd stops its containers at SIGTERM, and the policies bring them back', async () => {
    const { b, img } = fx();
    const cfgPath = join(b.dir, 'daemon.json');
    const cfg = readFileSync(cfgPath, 'utf8');
    const stopBerthd = async () => {
      const proc = b.proc();
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await gone;
    };
    const al = run(['--stop-timeout', '1', '--restart', 'always', img, 'sleep', '300']);
    const us = run(['--stop-timeout', '1', '--restart', 'unless-stopped', img, 'sleep', '300']);
    const no = run(['--stop-timeout', '1', img, 'sleep', '300']);
    const pids = [al, us, no].map((c) => pidOf(b, c));
    try {
      await stopBerthd();
      writeFileSync(cfgPath, JSON.stringify({ ...JSON.parse(cfg), 'live-restore': false }));
      await b.start();
      await stopBerthd();
      // berthd's own stop: the processes are gone...
      for (const p of pids) await waitUntil(`pid ${p} gone`, () => !existsSync(`/proc/${p}`), 20000);
    } finally {
      writeFileSync(cfgPath, cfg);
      await b.start();
    }
    // ...but it was not the user's stop: unless-stopped comes back as always does; no stays down.
    const state = (c: string) => b.ok(['inspect', '-f', '{{.State.Status}}', c]).trim();
    await waitUntil('always and unless-stopped back', () => state(al) === 'running' && state(us) === 'running', 15000);
    assert.equal(state(no), 'exited');
    b.ok(['rm', '-f', al, us, no]);
  });

  t('wait conditions, prune filters, checkpoints answer as dockerd without experimental', async () => {
    const { b, img } = fx();
    const c = b.ok(['create', '--network', 'none', img, 'true']).trim();
    const removed = rawRequest(b.sock, 'POST', `/containers/${c}/wait?condition=removed`);
    const nextExit = rawRequest(b.sock, 'POST', `/containers/${c}/wait?condition=next-exit`);
    await sleep(200);
    b.ok(['start', c]);
    const ne = await nextExit;
    assert.deepEqual(JSON.parse(ne.body), { StatusCode: 0, Error: null });
    let removedDone = false;
    removed.then(
      () => (removedDone = true),
      () => undefined,
    );
    await sleep(300);
    assert.equal(removedDone, false, 'wait removed is still waiting after the exit');
    b.ok(['rm', c]);
    assert.equal(JSON.parse((await removed).body).StatusCode, 0);
    const badCond = await rawRequest(b.sock, 'POST', `/containers/${c}/wait?condition=soon`);
    assert.equal(badCond.status, 404, 'the container is gone first');

    const old = b.ok(['create', '--network', 'none', '--label', 'keep=yes', img, 'true']).trim();
    const mine = b.ok(['create', '--network', 'none', '--label', 'lc=prune', img, 'true']).trim();
    const other = b.ok(['create', '--network', 'none', '--label', 'lc=other', img, 'true']).trim();
    const live = run(['--label', 'lc=prune', img, 'sleep', '300']);
    const out = b.ok(['container', 'prune', '-f', '--filter', 'label=lc=prune']);
    assert.match(out, new RegExp(mine));
    assert.doesNotMatch(out, new RegExp(`${other}|${live}|${old}`));
    const until = b.ok(['container', 'prune', '-f', '--filter', 'until=2001-01-01T00:00:00Z']);
    assert.doesNotMatch(until, /[a-f0-9]{64}/, 'nothing created before 2001');
    const notKeep = b.ok(['container', 'prune', '-f', '--filter', 'label!=keep']);
    assert.match(notKeep, new RegExp(other));
    assert.doesNotMatch(notKeep, new RegExp(old));
    const badF = await rawRequest(
      b.sock,
      'POST',
      '/containers/prune?filters=' + encodeURIComponent('{"status":["exited"]}'),
    );
    assert.equal(badF.status, 400);
    assert.equal(JSON.parse(badF.body).message, "invalid filter 'status'");
    assert.equal(b.ok(['ps', '-aq', '--no-trunc', '--filter', `id=${old}`]).trim(), old);

    for (const [m, p] of [
      ['GET', `/containers/${live}/checkpoints`],
      ['POST', `/containers/${live}/checkpoints`],
      ['DELETE', `/containers/${live}/checkpoints/cp1`],
    ] as const) {
      const r = await rawRequest(b.sock, m, p, m === 'POST' ? '{"CheckpointID":"cp1"}' : undefined);
      assert.equal(r.status, 501, `${m} ${p}`);
      assert.match(JSON.parse(r.body).message, /experimental feature is disabled by default/);
    }
    const top = JSON.parse((await rawRequest(b.sock, 'GET', `/containers/${live}/top?ps_args=-o%20pid,args`)).body);
    assert.deepEqual(top.Titles, ['PID', 'COMMAND']);
    assert.deepEqual(top.Processes, [[String(pidOf(b, live)), 'sleep 300']]);
    b.ok(['rm', '-f', old, live]);
  });

  t('top with ps arguments and export of the snapshot, as dockerd', async () => {
    const { b, img } = fx();
    const id = run(['-v', '/data', img, 'sh', '-c', 'echo v > /data/v; echo n > /newf; exec sleep 300']);
    await waitUntil('the writes', () => b.docker(['exec', id, 'test', '-e', '/newf']).status === 0, 10000);
    const pid = String(pidOf(b, id));
    const own = b.ok(['top', id, '-o', 'pid,args']).trim().split('\n');
    assert.deepEqual(own[0]!.split(/\s+/), ['PID', 'COMMAND']);
    assert.deepEqual(
      own.slice(1).map((l) => l.trim().split(/\s+/)),
      [[pid, 'sleep', '300']],
    );
    // BSD-style arguments refuse -q: ps runs for every process and berthd keeps the container's.
    const aux = b.ok(['top', id, 'aux']).trim().split('\n');
    assert.match(aux[0]!, /^USER\s+PID\s+%CPU/);
    assert.equal(aux.length, 2, aux.join('\n'));
    assert.match(aux[1]!, new RegExp(`^root\\s+${pid}\\s.*sleep 300$`));
    const renamed = await rawRequest(
      b.sock,
      'GET',
      `/containers/${id}/top?ps_args=${encodeURIComponent('-o user=PID')}`,
    );
    assert.equal(renamed.status, 500);
    assert.equal(JSON.parse(renamed.body).message, 'specifying "user=PID" is not allowed');
    const badArg = await rawRequest(b.sock, 'GET', `/containers/${id}/top?ps_args=--no-such-option`);
    assert.equal(badArg.status, 500);
    assert.match(JSON.parse(badArg.body).message, /^ps: /);
    // The export is the snapshot: the container's writes, the image, empty mount points; no volume, no /proc.
    // Member names as dockerd's: relative, no `./` prefix.
    const dir = mkdtempSync(join(tmpdir(), 'berthd-lc-export-'));
    try {
      b.ok(['export', '-o', join(dir, 'c.tar'), id]);
      const list = execFileSync('tar', ['-tvf', join(dir, 'c.tar')], { encoding: 'utf8' });
      const names = list.split('\n').map((l) => l.split(/\s+/).slice(5).join(' '));
      assert.ok(names.includes('newf'), 'the write is exported');
      assert.ok(names.includes('opq/a') && names.includes('bin/busybox'), 'the image is exported');
      assert.ok(names.includes('data/'), 'the volume mount point is');
      assert.ok(!names.includes('data/v'), "the volume's content is not");
      assert.ok(!names.some((n) => n.startsWith('proc/') && n !== 'proc/'), 'nothing from /proc');
      const hosts = list.split('\n').find((l) => l.endsWith(' etc/hosts'));
      assert.ok(hosts, 'the /etc/hosts mount point is exported');
      assert.equal(hosts.split(/\s+/)[2], '0', "the mount point, not the host's hosts file bound over it");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    b.ok(['stop', '-t', '0', id]);
    const stopped = b.docker(['top', id]);
    assert.match(stopped.stderr, new RegExp(`Container ${id} is not running`));
    b.ok(['rm', '-f', '-v', id]);
  });

  t('docker-py: healthcheck, update, diff, top and wait through the SDK', async () => {
    const { b, img } = fx();
    const py = spawnSync(
      'python3',
      [
        '-c',
        `
import docker, time
c = docker.DockerClient(base_url='unix://${b.sock}')
ctr = c.containers.run('${img}', ['sh', '-c', 'touch /py-made; exec sleep 300'], network_mode='none', detach=True,
                       healthcheck={'test': ['CMD', 'true'], 'interval': 200000000, 'retries': 1})
for _ in range(100):
    ctr.reload()
    if ctr.attrs['State'].get('Health', {}).get('Status') == 'healthy':
        break
    time.sleep(0.1)
print(ctr.attrs['State']['Health']['Status'], ctr.attrs['State']['Health']['Log'][-1]['ExitCode'])
print(ctr.update(cpu_shares=256, restart_policy={'Name': 'on-failure', 'MaximumRetryCount': 2})['Warnings'])
ctr.reload()
print(ctr.attrs['HostConfig']['CpuShares'], ctr.attrs['HostConfig']['RestartPolicy'])
print(sorted((d['Kind'], d['Path']) for d in ctr.diff() if d['Path'] == '/py-made'))
print(ctr.top(ps_args='-o pid,comm')['Processes'][0][1])
ctr.kill()
print(ctr.wait(condition='not-running')['StatusCode'])
ctr.remove()
`,
      ],
      { encoding: 'utf8', timeout: 120000 },
    );
    assert.equal(py.status, 0, py.stderr + b.logTail());
    assert.equal(
      py.stdout,
      "healthy 0\nNone\n256 {'Name': 'on-failure', 'MaximumRetryCount': 2}\n[(1, '/py-made')]\nsleep\n137\n",
    );
  });
}
