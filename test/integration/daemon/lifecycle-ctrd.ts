// The containerd container behind a berthd container (src/daemon/containers/
// ctrd.ts), as containerd's own CLI sees it: made at `docker create` when the
// spec needs nothing of the start, made again by a start whose spec changed
// (an update in between: the new limit is in the kernel), gone after the
// exit of an --rm run and after rm; one a cut-short create left (a labelled
// container with no record) removed when berthd starts. Registered by the
// two lifecycle files (containerd and berth-engine below berthd).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cg, type Fixture } from './lifecycle-common.js';
import { waitUntil } from '../../helpers/wait.js';

export function containerdRecordTests(name: string, fx: () => Fixture, skip: string | false): void {
  test(
    `${name}: the containerd container of a create, an update before start, rm, --rm, and the sweep at boot`,
    { skip },
    async () => {
      const { b, img, ctr } = fx();
      const listed = () => ctr(['containers', 'ls', '-q']).split('\n').filter(Boolean);
      const id = b.ok(['create', '--network', 'none', '--pids-limit', '55', img, 'sleep', '300']).trim();
      assert.ok(listed().includes(id), 'made at create');
      b.ok(['update', '--pids-limit', '66', id]);
      b.ok(['start', id]);
      assert.equal(cg(b, id, ['pids', 'pids.max'], 'pids.max'), '66', "the start's spec, not the create's");
      b.ok(['rm', '-f', id]);
      assert.ok(!listed().includes(id), 'gone with rm');
      // a named user is looked up in the image at start: made then, and gone all the same
      const named = b.ok(['create', '--network', 'none', '-u', 'nobody', img, 'id', '-u']).trim();
      assert.ok(!listed().includes(named), 'not made at create for a user name');
      b.ok(['start', '-a', named]);
      b.ok(['rm', named]);
      const out = b.ok(['run', '--rm', '--network', 'none', img, 'echo', 'ran']);
      assert.equal(out, 'ran\n');
      // the engine's side of an --rm removal ends just after the answer (src/daemon/containers/removal.ts)
      await waitUntil('nothing left by --rm runs', () => listed().length === 0, 10000);
      // what a berthd that died between the containerd container and the record would leave
      const orphan = `orphan-${process.pid}`;
      ctr(['containers', 'create', '--label', 'io.berth.daemon=berthd', img, orphan]);
      const other = `not-berthd-${process.pid}`;
      ctr(['containers', 'create', img, other]);
      assert.ok(listed().includes(orphan));
      await b.kill9();
      await b.start();
      assert.deepEqual(listed(), [other], 'the orphan swept at boot, a container not labelled as berthd kept');
      ctr(['containers', 'rm', other]);
    },
  );
}
