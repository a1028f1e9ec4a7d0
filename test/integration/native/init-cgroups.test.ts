// RELEASE and WAIT_CGROUPS: the first process joins the container process's
// cgroups while that process already runs phase 2, and the container process
// goes no further than WAIT_CGROUPS until every join is done. What is checked
// is what the kernel and the filesystem show: marker directories the
// container process makes before and after WAIT_CGROUPS, /proc/<pid>/cgroup.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Op } from '../../../src/runtime/plan/ops.js';
import { CLONE_NEWUTS, op, runInit, sh, skipReason, startInit, tempDir, waitMode } from './harness.js';
import { waitUntil } from '../../helpers/wait.js';

const skip = skipReason();
const CLONE_NEWCGROUP = 0x02000000;

// A cgroup v2 hierarchy (pure v2, or the unified one of a hybrid host) and,
// on v1/hybrid hosts, the pids hierarchy.
const v2Base = ['/sys/fs/cgroup/unified', '/sys/fs/cgroup'].find(
  (d) => existsSync(join(d, 'cgroup.procs')) && existsSync(join(d, 'cgroup.controllers')),
);
const v1Pids = existsSync('/sys/fs/cgroup/pids/cgroup.procs') ? '/sys/fs/cgroup/pids' : undefined;

/** New empty cgroups, one per hierarchy found, removed by the returned function. */
function makeCgroups(): { name: string; dirs: { base: string; dir: string }[]; remove: () => void } {
  const name = `berth-init-test-${process.pid}-${Date.now()}`;
  const dirs = [v2Base, v1Pids].filter((b): b is string => !!b).map((base) => ({ base, dir: join(base, name) }));
  for (const d of dirs) mkdirSync(d.dir);
  return { name, dirs, remove: () => dirs.forEach((d) => rmdirSync(d.dir)) };
}

const release = op(Op.RELEASE, 'release the container process');
const waitCgroups = op(Op.WAIT_CGROUPS, 'wait for the cgroup joins');
const cgroupLines = sh('grep -E "^(0::|[0-9]+:pids:)" /proc/self/cgroup | sort');

// The helper, at the 5 s bound and 10 ms pace this file always used.
const until = (pred: () => boolean, what: string): Promise<void> => waitUntil(what, pred, 5000, 10);

describe(
  'berth-init: cgroup joins while the container process runs (RELEASE, WAIT_CGROUPS)',
  { skip: skip ?? (!v2Base && 'no cgroup hierarchy to join') },
  () => {
    test('the container process waits at WAIT_CGROUPS until the last join is done', async () => {
      // A fifo in place of a cgroup.procs: the first process's open for
      // writing blocks until we read it, so the join takes as long as we want.
      const dir = tempDir();
      const fifo = join(dir, 'procs.fifo');
      execFileSync('mkfifo', [fifo]);
      const s = startInit({
        parent: [waitMode, op(Op.CLONE, 'clone', 0), release, op(Op.CGROUP_ADD_CHILD, 'join the fifo', fifo)],
        child: [
          op(Op.SET_ROOT, 'open the marker dir', dir),
          op(Op.MKDIR_IN_ROOT, 'mark before', '/before', 0o755),
          waitCgroups,
          op(Op.MKDIR_IN_ROOT, 'mark after', '/after', 0o755),
          sh('echo done'),
        ],
      });
      // Released before the join: it runs phase 2 up to WAIT_CGROUPS...
      await until(() => existsSync(join(dir, 'before')), 'the container process to run its first ops');
      const pid = await s.waitFor((r) => r.t === 'pid');
      // ...and no further while the join is pending.
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(existsSync(join(dir, 'after')), false, 'passed WAIT_CGROUPS before the join was done');
      // The join writes the container process's pid; then it goes on.
      assert.equal(await readFile(fifo, 'utf8'), String(pid.t === 'pid' && pid.pid));
      const r = await s.done;
      assert.equal(r.code, 0, JSON.stringify(r));
      assert.equal(r.stdout, 'done\n');
      assert.ok(existsSync(join(dir, 'after')));
      assert.deepEqual(r.reports, [pid]);
    });

    test('joined after RELEASE: in its cgroups at exec; a cgroup namespace made after WAIT_CGROUPS is rooted there', async () => {
      const cg = makeCgroups();
      try {
        const joins = cg.dirs.map((d) => op(Op.CGROUP_ADD_CHILD, `join ${d.dir}`, join(d.dir, 'cgroup.procs')));
        const expect = (path: string) => cg.dirs.map((d) => (d.base === v1Pids ? `pids:${path}` : `0::${path}`));
        const r = await runInit({
          parent: [waitMode, op(Op.CLONE, 'clone', 0), release, ...joins],
          child: [waitCgroups, cgroupLines],
        });
        assert.equal(r.code, 0, JSON.stringify(r));
        for (const line of expect(`/${cg.name}`)) assert.match(r.stdout, new RegExp(`^[0-9]*:?${line}$`, 'm'));

        const r2 = await runInit({
          parent: [waitMode, op(Op.CLONE, 'clone', 0), release, ...joins],
          child: [waitCgroups, op(Op.UNSHARE, 'create cgroup namespace', CLONE_NEWCGROUP), cgroupLines],
        });
        assert.equal(r2.code, 0, JSON.stringify(r2));
        for (const line of expect('/')) assert.match(r2.stdout, new RegExp(`^[0-9]*:?${line}$`, 'm'));
      } finally {
        cg.remove(); // both containers have exited: the cgroups are empty
      }
    });

    test('a failed join is reported by the first process; the container process stops at WAIT_CGROUPS', async () => {
      const cg = makeCgroups();
      const dir = tempDir();
      const missing = join(v2Base!, `berth-no-such-cgroup-${process.pid}`, 'cgroup.procs');
      try {
        const r = await runInit({
          parent: [
            waitMode,
            op(Op.CLONE, 'clone', 0),
            release,
            op(Op.CGROUP_ADD_CHILD, 'join the good one', join(cg.dirs[0]!.dir, 'cgroup.procs')),
            op(Op.CGROUP_ADD_CHILD, `join cgroup ${missing}`, missing),
          ],
          child: [
            op(Op.SET_ROOT, 'open the marker dir', dir),
            op(Op.MKDIR_IN_ROOT, 'mark before', '/before', 0o755),
            waitCgroups,
            op(Op.MKDIR_IN_ROOT, 'mark after', '/after', 0o755),
            sh('echo ran'),
          ],
        });
        // The runner waited for the container process too (it held the plan socket).
        assert.equal(r.code, 2);
        assert.deepEqual(
          r.reports.map((x) => x.t),
          ['pid', 'error'],
        );
        assert.deepEqual(r.reports[1], {
          t: 'error',
          step: `join cgroup ${missing}`,
          errno: 2,
          msg: 'No such file or directory',
        });
        // It may or may not have got to WAIT_CGROUPS (the first process kills it
        // once it has reported its failure), but never past it.
        assert.equal(existsSync(join(dir, 'after')), false);
        assert.equal(r.stdout, '');
        assert.equal(r.stderr, '');
      } finally {
        cg.remove();
      }
    });

    test('plan errors: only joins after RELEASE; nothing that needs the cgroups before WAIT_CGROUPS', async () => {
      const r1 = await runInit({
        parent: [
          waitMode,
          op(Op.CLONE, 'clone', 0),
          release,
          op(Op.WRITE_CHILD_FILE, 'write uid_map', 'uid_map', '0 0 1'),
        ],
        child: [sh('echo ran')],
      });
      assert.equal(r1.code, 2);
      // Refused before anything ran: no container process, so no pid.
      assert.deepEqual(r1.reports, [
        {
          t: 'error',
          step: 'write uid_map',
          errno: 22,
          msg: 'plan error: operation 8 after RELEASE (only CGROUP_ADD_CHILD may follow it)',
        },
      ]);

      const r2 = await runInit({ parent: [waitMode, release], child: [sh('echo ran')] });
      assert.deepEqual(r2.reports, [
        {
          t: 'error',
          step: 'release the container process',
          errno: 22,
          msg: 'plan error: operation needs the container process (after CLONE)',
        },
      ]);

      const early = (child: ReturnType<typeof op>[]) =>
        runInit({ parent: [waitMode, op(Op.CLONE, 'clone', 0), release], child });
      for (const [bad, code] of [
        [sh('echo ran'), 58],
        [op(Op.UNSHARE, 'create cgroup namespace', CLONE_NEWCGROUP | CLONE_NEWUTS), 20],
        [op(Op.SYNC, 'run createRuntime hooks', 'createRuntime'), 36],
        [op(Op.HOOK, 'hook', '/bin/true', 0, '', 1, 'true', 0), 37],
        [op(Op.WAIT_START, 'wait for start'), 57],
      ] as const) {
        const r = await early([bad, sh('echo ran')]);
        assert.equal(r.code, 1, JSON.stringify(r));
        assert.equal(r.stdout, '');
        assert.deepEqual(r.reports.at(-1), {
          t: 'error',
          step: bad.label,
          errno: 22,
          msg: `plan error: operation ${code} before WAIT_CGROUPS`,
        });
      }

      // An unshare without CLONE_NEWCGROUP may come first; WAIT_CGROUPS twice is harmless.
      const r3 = await early([op(Op.UNSHARE, 'unshare uts', CLONE_NEWUTS), waitCgroups, waitCgroups, sh('echo ran')]);
      assert.equal(r3.code, 0, JSON.stringify(r3));
      assert.equal(r3.stdout, 'ran\n');

      // Without RELEASE the release is at END, phase 1 complete: nothing to wait for.
      const r4 = await runInit({ parent: [waitMode, op(Op.CLONE, 'clone', 0)], child: [waitCgroups, sh('echo ran')] });
      assert.equal(r4.code, 0, JSON.stringify(r4));
      assert.equal(r4.stdout, 'ran\n');
    });
  },
);
