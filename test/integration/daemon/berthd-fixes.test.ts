// berthd's fixes for issue 10 (./fixes-flows.ts) on a real containerd: one
// containerd, one registry and one berthd for the whole file.

import { after, before } from 'node:test';
import { existsSync } from 'node:fs';
import { startContainerd, which, type Containerd } from '../../helpers/daemons.js';
import { startRegistry, registryMissing, type RegistryInstance } from '../../helpers/registry.js';
import { seedImage } from '../../helpers/seed-registry.js';
import { startBerthd, DOCKER_28, type Berthd } from '../../helpers/berthd.js';
import { fixesTests, type FixFixture } from './fixes-flows.js';

const skip =
  process.getuid?.() !== 0
    ? 'needs root'
    : registryMissing ||
      (!which('containerd') ? 'containerd is not installed' : false) ||
      (!existsSync(DOCKER_28) ? `no docker CLI at ${DOCKER_28}` : false) ||
      (!which('skopeo') ? 'skopeo is not installed' : false);

let ctrd: Containerd;
let reg: RegistryInstance;
let fx: FixFixture;
let b: Berthd | undefined;

before(async () => {
  if (skip) return;
  ctrd = await startContainerd({ prefix: 'berthd-fix-ctrd-' });
  reg = await startRegistry();
  seedImage(reg.host, 'berth/busybox:latest');
  const img = `${reg.host}/berth/busybox:latest`;
  b = await startBerthd(ctrd.sock, { namespace: `berthd-fix-${process.pid}` });
  b.ok(['pull', img]);
  fx = { b, img };
});

after(async () => {
  await b?.stop();
  await reg?.stop();
  await ctrd?.stop();
});

fixesTests('containerd', () => fx, skip, false);
