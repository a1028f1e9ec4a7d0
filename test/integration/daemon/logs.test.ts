// berthd's log drivers on a real containerd: containerd-shim-runc-v2 starts
// berth-logger for the binary:// stdout berthd gives each task. The cases
// are logs-cases.ts, shared with logs-engine.test.ts. One containerd, one
// registry, one berthd for the file.

import { after, before } from 'node:test';
import { type Berthd } from '../../helpers/berthd.js';
import { logCases } from './logs-cases.js';
import { berthdSkip, startBerthdStack, type BerthdStack } from '../../helpers/berthd-stack.js';

const skip = berthdSkip('containerd');

let s: BerthdStack | undefined;
let b: Berthd;
let img = '';

before(async () => {
  if (skip) return;
  s = await startBerthdStack('containerd', {
    prefix: 'berthd-logs-ctrd-',
    pull: (host) => [`${host}/berth/busybox:latest`],
  });
  ({ b, img } = s);
});

after(() => s?.stop());

logCases(() => ({ b, img }), skip, 'ctrd');
