// berthd's log drivers on berth-engine: berth-shim starts berth-logger for
// the binary:// stdout berthd gives each task, as containerd's shim does
// (logs.test.ts). The cases are logs-cases.ts. One engine, one registry,
// one berthd for the file.

import { after, before } from 'node:test';
import { type Berthd } from '../../helpers/berthd.js';
import { logCases } from './logs-cases.js';
import { berthdSkip, startBerthdStack, type BerthdStack } from '../../helpers/berthd-stack.js';

const skip = berthdSkip('engine');

let s: BerthdStack | undefined;
let b: Berthd;
let img = '';

before(async () => {
  if (skip) return;
  s = await startBerthdStack('engine', {
    prefix: 'berthd-logs-eng-',
    pull: (host) => [`${host}/berth/busybox:latest`],
  });
  ({ b, img } = s);
});

after(() => s?.stop());

logCases(() => ({ b, img }), skip, 'eng');
