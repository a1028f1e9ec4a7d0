// berthd side by side with the real dockerd (Debian's 20.10, on its own data
// root, with the vfs driver, whose `docker diff` is moby's ChangesDirs over
// whole trees, as in dockerd's containerd image store): the same image from
// the local registry, the same container script on both, and the answers
// compared: the diff (adds, changes, deletes of a lower layer's file, an
// opaque directory, a dropped file capability), dockerd's update conflicts,
// top's titles, prune's filter check and the checkpoint endpoints.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
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
import { seedLifecycleImages } from './lifecycle-flows.js';
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
