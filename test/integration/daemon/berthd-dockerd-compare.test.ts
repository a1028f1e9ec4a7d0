// berthd side by side with the real dockerd (Debian's 20.10, on its own data
// root, with the vfs driver, whose `docker diff` is moby's ChangesDirs over
// whole trees, as in dockerd's containerd image store): the same image from
// the local registry, the same container script on both, and the answers
// compared: the diff (adds, changes, deletes of a lower layer's file, an
// opaque directory, a dropped file capability), dockerd's update conflicts,
// top's titles, prune's filter check, the checkpoint endpoints, healthcheck
// results (failure output, timeout words, 4096-byte cut, ps status, the
// health filter) and an on-failure:2 restart loop's end state.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import {
  startContainerd,
  startDockerd,
  dockerCli,
  which,
  type Containerd,
  type Dockerd,
} from '../../helpers/daemons.js';
import { startRegistry, registryMissing, type RegistryInstance } from '../../helpers/registry.js';
import { startBerthd, rawRequest, DOCKER_28, type Berthd } from '../../helpers/berthd.js';
import { waitUntil } from '../../helpers/wait.js';
import { seedLifecycleImages } from './lifecycle-common.js';
import type { SpawnSyncReturns } from 'node:child_process';

const skip =
  process.getuid?.() !== 0
    ? 'needs root'
    : registryMissing ||
      (!which('containerd') ? 'containerd is not installed' : false) ||
      (!which('dockerd') || !dockerCli() ? 'dockerd is not installed (apt-get install docker.io)' : false) ||
      (!existsSync(DOCKER_28) ? `no docker CLI at ${DOCKER_28}` : false) ||
      (!which('skopeo') ? 'skopeo is not installed' : false);

let ctrd: Containerd | undefined;
let reg: RegistryInstance | undefined;
let b: Berthd | undefined;
let d: Dockerd | undefined;
let IMG = '';

before(async () => {
  if (skip) return;
  ctrd = await startContainerd({ prefix: 'berthd-cmp-ctrd-' });
  reg = await startRegistry();
  IMG = seedLifecycleImages(reg.host).img;
  b = await startBerthd(ctrd.sock, { namespace: `berthd-cmp-${process.pid}` });
  d = await startDockerd({ runtimes: {}, storageDriver: 'vfs', prefix: 'berthd-cmp-dkd-' });
  b.ok(['pull', IMG]);
  // 127.0.0.0/8 registries are insecure for dockerd by default: plain HTTP is fine.
  const p = d.docker(['pull', IMG], { timeout: 120000 });
  assert.equal(p.status, 0, p.stderr);
});

after(async () => {
  await d?.stop();
  await b?.stop();
  await reg?.stop();
  await ctrd?.stop();
});

type Run = (args: string[]) => SpawnSyncReturns<string>;
const both = (): [string, Run][] => [
  ['berthd', (a) => b!.docker(a)],
  ['dockerd', (a) => d!.docker(a)],
];

function ok(r: SpawnSyncReturns<string>, what: string): string {
  assert.equal(r.status, 0, `${what}: ${r.stderr}`);
  return r.stdout;
}

test('docker diff: the same changes as dockerd for the same writes', { skip }, async () => {
  const script =
    'echo hi > /newfile; mkdir -p /newdir/sub; echo more >> /etc/passwd; rm /etc/group /gone; ' +
    'rm -rf /opq; mkdir /opq; echo n > /opq/c; chmod 700 /tmp; ' +
    'cp -p /capbin /tmp/keep; cat /tmp/keep > /capbin; touch -r /tmp/keep /capbin; touch /tmp/.ready; sleep 300';
  const out: Record<string, string[]> = {};
  for (const [who, docker] of both()) {
    const id = ok(docker(['run', '-d', '--network', 'none', IMG, 'sh', '-c', script]), `${who} run`).trim();
    await waitUntil(`${who}: the writes`, () => docker(['exec', id, 'test', '-e', '/tmp/.ready']).status === 0, 20000);
    // dockerd lists in map order: compared as sets.
    out[who] = ok(docker(['diff', id]), `${who} diff`)
      .trim()
      .split('\n')
      .sort();
    ok(docker(['rm', '-f', id]), `${who} rm`);
  }
  assert.ok(out.dockerd!.includes('C /capbin') && out.dockerd!.includes('D /opq/a'), out.dockerd!.join(', '));
  assert.deepEqual(out.berthd, out.dockerd);
});

test("update, top, prune and checkpoints: dockerd's statuses and words", { skip }, async () => {
  const seen: Record<string, string[]> = {};
  for (const [who, docker] of both()) {
    const sock = who === 'berthd' ? b!.sock : d!.sock;
    const id = ok(docker(['run', '-d', '--network', 'none', '--cpus', '1', IMG, 'sleep', '300']), who).trim();
    const mem = docker(['update', '--memory', '64m', id]).stderr.replaceAll(id, '<id>').trim();
    const quota = docker(['update', '--cpu-quota', '20000', id]).stderr.replaceAll(id, '<id>').trim();
    const titles = ok(docker(['top', id, '-o', 'pid,args']), `${who} top`)
      .split('\n')[0]!
      .trim()
      .split(/\s+/);
    const prune = await rawRequest(sock, 'POST', `/containers/prune?filters=${encodeURIComponent('{"status":["x"]}')}`);
    const cps = await rawRequest(sock, 'GET', `/containers/${id}/checkpoints`);
    seen[who] = [
      mem,
      quota,
      titles.join(' '),
      // dockerd 20.10 says "Invalid filter", 23 and later (berthd's model, docker 28) "invalid filter".
      `${prune.status} ${(JSON.parse(prune.body) as { message: string }).message.toLowerCase()}`,
      `${cps.status} ${JSON.parse(cps.body).message}`,
    ];
    ok(docker(['rm', '-f', id]), `${who} rm -f`);
  }
  assert.deepEqual(seen.berthd, seen.dockerd);
});

interface HealthView {
  Status: string;
  FailingStreak: number;
  Log: { ExitCode: number; Output: string }[];
}

test('healthchecks: the same states, outputs, timeout words and ps status as dockerd', { skip }, async () => {
  const seen: Record<string, unknown[]> = {};
  for (const [who, docker] of both()) {
    // Start and End are the probe's times (checked in order, then left out of the comparison).
    const health = (id: string): HealthView => {
      const h = JSON.parse(ok(docker(['inspect', '-f', '{{json .State.Health}}', id]), `${who} inspect`)) as HealthView;
      for (const e of h.Log as (HealthView['Log'][number] & { Start?: string; End?: string })[]) {
        assert.ok(Date.parse(e.End!) >= Date.parse(e.Start!), JSON.stringify(e));
        delete e.Start;
        delete e.End;
      }
      return h;
    };
    const hc = (cmd: string, extra: string[] = []) =>
      ok(
        docker([
          'run',
          '-d',
          '--network',
          'none',
          '--health-cmd',
          cmd,
          '--health-interval',
          '300ms',
          '--health-retries',
          '2',
          ...extra,
          IMG,
          'sleep',
          '300',
        ]),
        `${who} run`,
      ).trim();
    const a = hc('cat /tmp/ok');
    const slow = hc('sleep 30', ['--health-timeout', '400ms']);
    const big = hc('head -c 5000 /dev/zero | tr "\\000" y');
    await waitUntil(`${who}: unhealthy`, () => health(a).Status === 'unhealthy', 20000, 100);
    const failed = health(a);
    ok(docker(['exec', a, 'touch', '/tmp/ok']), `${who} exec`);
    await waitUntil(`${who}: healthy`, () => health(a).Status === 'healthy', 20000, 100);
    const status = ok(docker(['ps', '--filter', `id=${a}`, '--format', '{{.Status}}']), who).replace(/^Up .*? \(/, '(');
    await waitUntil(`${who}: timed out`, () => health(slow).Status === 'unhealthy', 20000, 100);
    await waitUntil(`${who}: big output`, () => health(big).Log.length > 0, 20000, 100);
    const unhealthy = ok(docker(['ps', '-q', '--no-trunc', '--filter', 'health=unhealthy']), who).trim();
    seen[who] = [
      failed.Log.at(-1),
      failed.FailingStreak >= 2,
      health(a).Log.at(-1),
      status.trim(),
      health(slow).Log.at(-1),
      health(big).Log[0],
      unhealthy.split('\n').map((v) => (v === slow ? '<slow>' : v)),
    ];
    ok(docker(['rm', '-f', a, slow, big]), `${who} rm`);
  }
  assert.deepEqual(seen.berthd, seen.dockerd);
});

test('restart policies: the same RestartCount, state and exit code as dockerd', { skip }, async () => {
  const seen: Record<string, string> = {};
  for (const [who, docker] of both()) {
    const id = ok(
      docker(['run', '-d', '--network', 'none', '--restart', 'on-failure:2', IMG, 'sh', '-c', 'exit 3']),
      who,
    ).trim();
    const st = () =>
      ok(docker(['inspect', '-f', '{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}', id]), who).trim();
    await waitUntil(`${who}: done restarting`, () => st() === 'exited 2 3', 20000, 100);
    seen[who] = st();
    ok(docker(['rm', id]), `${who} rm`);
  }
  assert.deepEqual(seen.berthd, seen.dockerd);
});

test('docker update: the same cgroup files as dockerd writes, running and at the next start', { skip }, async () => {
  const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers');
  const files = v2
    ? ['memory.max', 'memory.swap.max', 'memory.low', 'cpu.max', 'cpu.weight', 'cpuset.cpus', 'pids.max']
    : [
        'memory/memory.limit_in_bytes',
        'memory/memory.soft_limit_in_bytes',
        'memory/memory.memsw.limit_in_bytes',
        'cpu/cpu.cfs_quota_us',
        'cpu/cpu.cfs_period_us',
        'cpu/cpu.shares',
        'cpuset/cpuset.cpus',
        'pids/pids.max',
      ];
  const seen: Record<string, string[]> = {};
  for (const [who, docker] of both()) {
    const parent = who === 'berthd' ? b!.namespace : d!.cgroupParent;
    const read = (id: string) =>
      files.map((f) => {
        const [ctl, name] = v2 ? ['', f] : f.split('/');
        const p = v2 ? `/sys/fs/cgroup/${parent}/${id}/${name}` : `/sys/fs/cgroup/${ctl}/${parent}/${id}/${name}`;
        return existsSync(p) ? `${f}=${readFileSync(p, 'utf8').trim()}` : `${f} absent`;
      });
    const id = ok(docker(['run', '-d', '--network', 'none', '-m', '32m', IMG, 'sleep', '300']), who).trim();
    ok(
      docker([
        'update',
        ...['--memory', '48m', '--memory-swap', '96m', '--memory-reservation', '16m', '--cpus', '0.25'],
        ...['--cpu-shares', '300', '--cpuset-cpus', '0', '--pids-limit', '40', id],
      ]),
      `${who} update`,
    );
    const running = read(id);
    ok(docker(['stop', '-t', '0', id]), `${who} stop`);
    ok(docker(['start', id]), `${who} start`);
    seen[who] = [...running, ...read(id)];
    ok(docker(['rm', '-f', id]), `${who} rm`);
  }
  // The files were there and hold the update (48 MiB, 40 pids), before and after the restart.
  assert.equal(seen.dockerd!.filter((l) => l.endsWith('=50331648')).length, 2, seen.dockerd!.join(', '));
  assert.equal(seen.dockerd!.filter((l) => /pids\.max=40$/.test(l)).length, 2, seen.dockerd!.join(', '));
  assert.deepEqual(seen.berthd, seen.dockerd);
});
