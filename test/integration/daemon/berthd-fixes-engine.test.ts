// berthd's fixes for issue 10 (./fixes-flows.ts) on berth-engine: the same
// flows as on containerd (berthd-fixes.test.ts), one engine, registry and
// berthd for the whole file.

import { join } from 'node:path';
import { withBerthdStack } from '../../helpers/berthd-stack.js';
import { fixesTests } from './fixes-flows.js';

withBerthdStack(
  'engine',
  {
    prefix: 'berthd-fix-eng-',
    pull: (host) => [`${host}/berth/busybox:latest`],
    berthd: { namespace: `berthd-fixe-${process.pid}` },
  },
  (get, skip) =>
    fixesTests(
      'berth-engine',
      () => ({ b: get().b, img: get().img, shims: join(get().engineState!, 'shims') }),
      skip,
      true,
    ),
);
