// berthd's log drivers on a real containerd: containerd-shim-runc-v2 starts
// berth-logger for the binary:// stdout berthd gives each task. The cases
// are logs-cases.ts, shared with logs-engine.test.ts. One containerd, one
// registry, one berthd for the file.

import { after, before } from 'node:test';
import { existsSync } from 'node:fs';
import { startContainerd, which, type Containerd } from '../../helpers/daemons.js';
import { startRegistry, registryMissing, type RegistryInstance } from '../../helpers/registry.js';
import { seedImage } from '../../helpers/seed-registry.js';
import { startBerthd, DOCKER_28, type Berthd } from '../../helpers/berthd.js';
import { logCases } from './logs-cases.js';

const skip =
  process.getuid?.() !== 0
    ? 'needs root'
    : registryMissing ||
      (!which('containerd') ? 'containerd is not installed' : false) ||
      (!existsSync(DOCKER_28) ? `no docker CLI at ${DOCKER_28}` : false) ||
      (!which('skopeo') ? 'skopeo is not installed' : false);

let ctrd: Containerd;
let reg: RegistryInstance;
let b: Berthd;
let img = '';

before(async () => {
  if (skip) return;
  ctrd = await startContainerd({ prefix: 'berthd-logs-ctrd-' });
  reg = await startRegistry();
  seedImage(reg.host, 'berth/busybox:latest');
  img = `${reg.host}/berth/busybox:latest`;
  b = await startBerthd(ctrd.sock);
  b.ok(['pull', img]);
});

after(async () => {
  await b?.stop();
  await reg?.stop();
  await ctrd?.stop();
});

logCases(() => ({ b, img }), skip, 'ctrd');
