// berthd's log drivers on berth-engine: berth-shim starts berth-logger for
// the binary:// stdout berthd gives each task, as containerd's shim does
// (logs.test.ts). The cases are logs-cases.ts. One engine, one registry,
// one berthd for the file.

import { after, before } from 'node:test';
import { existsSync } from 'node:fs';
import { startEngine, ENGINE_BIN, type Engine } from '../engine/helpers.js';
import { startRegistry, registryMissing, type RegistryInstance } from '../../helpers/registry.js';
import { seedImage } from '../../helpers/seed-registry.js';
import { startBerthd, DOCKER_28, type Berthd } from '../../helpers/berthd.js';
import { which } from '../../helpers/daemons.js';
import { logCases } from './logs-cases.js';

const skip =
  process.getuid?.() !== 0
    ? 'needs root'
    : registryMissing ||
      (!existsSync(ENGINE_BIN) ? 'bin/berth-engine is not built' : false) ||
      (!existsSync(DOCKER_28) ? `no docker CLI at ${DOCKER_28}` : false) ||
      (!which('skopeo') ? 'skopeo is not installed' : false);

let engine: Engine;
let reg: RegistryInstance;
let b: Berthd;
let img = '';

before(async () => {
  if (skip) return;
  engine = await startEngine('berthd-logs-eng-');
  reg = await startRegistry();
  seedImage(reg.host, 'berth/busybox:latest');
  img = `${reg.host}/berth/busybox:latest`;
  b = await startBerthd(engine.sock);
  b.ok(['pull', img]);
});

after(async () => {
  await b?.stop();
  await reg?.stop();
  await engine?.stop();
});

logCases(() => ({ b, img }), skip, 'eng');
