// berthd's fixes for issue 10 (./fixes-flows.ts) on a real containerd: one
// containerd, one registry and one berthd for the whole file.

import { withBerthdStack } from '../../helpers/berthd-stack.js';
import { fixesTests } from './fixes-flows.js';

withBerthdStack(
  'containerd',
  {
    prefix: 'berthd-fix-ctrd-',
    pull: (host) => [`${host}/berth/busybox:latest`],
    berthd: { namespace: `berthd-fix-${process.pid}` },
  },
  (get, skip) => fixesTests('containerd', () => ({ b: get().b, img: get().img }), skip, false),
);
