// berthd's healthchecks, update, diff, restart policies, wait, prune and
// checkpoints (./lifecycle-flows.ts) on a real containerd: one containerd,
// one registry and one berthd for the whole file.

import { after, before } from 'node:test';
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { startContainerd, which, type Containerd } from '../../helpers/daemons.js';
import { startRegistry, registryMissing, type RegistryInstance } from '../../helpers/registry.js';
import { startBerthd, DOCKER_28, type Berthd } from '../../helpers/berthd.js';
import { lifecycleTests, seedLifecycleImages, type Fixture } from './lifecycle-flows.js';
import { containerdRecordTests } from './lifecycle-ctrd.js';

const skip =
  process.getuid?.() !== 0
    ? 'needs root'
    : registryMissing ||
      (!which('containerd') ? 'containerd is not installed' : false) ||
      (!existsSync(DOCKER_28) ? `no docker CLI at ${DOCKER_28}` : false) ||
      (!which('skopeo') ? 'skopeo is not installed' : false);

let ctrd: Containerd;
let reg: RegistryInstance;
let fx: Fixture;
let b: Berthd | undefined;

before(async () => {
  if (skip) return;
  ctrd = await startContainerd({ prefix: 'berthd-lc-ctrd-' });
  reg = await startRegistry();
  const imgs = seedLifecycleImages(reg.host);
  b = await startBerthd(ctrd.sock, { namespace: `berthd-lc-${process.pid}` });
  const ns = b.namespace;
  fx = {
    b,
    ...imgs,
    ctr: (args) => spawnSync('ctr', ['-a', ctrd.sock, '-n', ns, ...args], { encoding: 'utf8' }).stdout,
  };
  b.ok(['pull', imgs.img]);
  b.ok(['pull', imgs.hcImg]);
});

after(async () => {
  await b?.stop();
  await reg?.stop();
  await ctrd?.stop();
});

lifecycleTests('containerd', () => fx, skip);
containerdRecordTests('containerd', () => fx, skip);
