// berthd's healthchecks, update, diff, restart policies, wait, prune and
// checkpoints (./lifecycle-flows.ts) on berth-engine: the same flows as on
// containerd (berthd-lifecycle.test.ts), one engine, registry and berthd for
// the whole file.

import { after, before } from 'node:test';
import { existsSync } from 'node:fs';
import { startEngine, ENGINE_BIN, type Engine } from '../engine/helpers.js';
import { startRegistry, registryMissing, type RegistryInstance } from '../../helpers/registry.js';
import { startBerthd, DOCKER_28, type Berthd } from '../../helpers/berthd.js';
import { which } from '../../helpers/daemons.js';
import { lifecycleTests, seedLifecycleImages, type Fixture } from './lifecycle-flows.js';
import { containerdRecordTests } from './lifecycle-ctrd.js';

const skip =
  process.getuid?.() !== 0
    ? 'needs root'
    : registryMissing ||
      (!existsSync(ENGINE_BIN) ? 'bin/berth-engine is not built' : false) ||
      (!existsSync(DOCKER_28) ? `no docker CLI at ${DOCKER_28}` : false) ||
      (!which('skopeo') ? 'skopeo is not installed' : false);

let engine: Engine;
let reg: RegistryInstance;
let fx: Fixture;
let b: Berthd | undefined;

before(async () => {
  if (skip) return;
  engine = await startEngine('berthd-lc-eng-');
  reg = await startRegistry();
  const imgs = seedLifecycleImages(reg.host);
  b = await startBerthd(engine.sock, { namespace: `berthd-lce-${process.pid}` });
  const ns = b.namespace;
  fx = { b, ...imgs, ctr: (args) => engine.ctr(args, { ns }).stdout };
  b.ok(['pull', imgs.img]);
  b.ok(['pull', imgs.hcImg]);
});

after(async () => {
  await b?.stop();
  await reg?.stop();
  await engine?.stop();
});

lifecycleTests('berth-engine', () => fx, skip);
containerdRecordTests('berth-engine', () => fx, skip);
