// berthd's fixes for issue 10 (./fixes-flows.ts) on berth-engine: the same
// flows as on containerd (berthd-fixes.test.ts), one engine, registry and
// berthd for the whole file.

import { after, before } from 'node:test';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startEngine, ENGINE_BIN, type Engine } from '../engine/helpers.js';
import { startRegistry, registryMissing, type RegistryInstance } from '../../helpers/registry.js';
import { seedImage } from '../../helpers/seed-registry.js';
import { startBerthd, DOCKER_28, type Berthd } from '../../helpers/berthd.js';
import { which } from '../../helpers/daemons.js';
import { fixesTests, type FixFixture } from './fixes-flows.js';

const skip =
  process.getuid?.() !== 0
    ? 'needs root'
    : registryMissing ||
      (!existsSync(ENGINE_BIN) ? 'bin/berth-engine is not built' : false) ||
      (!existsSync(DOCKER_28) ? `no docker CLI at ${DOCKER_28}` : false) ||
      (!which('skopeo') ? 'skopeo is not installed' : false);

let engine: Engine;
let reg: RegistryInstance;
let fx: FixFixture;
let b: Berthd | undefined;

before(async () => {
  if (skip) return;
  engine = await startEngine('berthd-fix-eng-');
  reg = await startRegistry();
  seedImage(reg.host, 'berth/busybox:latest');
  const img = `${reg.host}/berth/busybox:latest`;
  b = await startBerthd(engine.sock, { namespace: `berthd-fixe-${process.pid}` });
  b.ok(['pull', img]);
  fx = { b, img, shims: join(engine.state, 'shims') };
});

after(async () => {
  await b?.stop();
  await reg?.stop();
  await engine?.stop();
});

fixesTests('berth-engine', () => fx, skip, true);
