// berth-engine killed with SIGKILL in the middle of work driven by the real
// ctr, at several points of each operation (varied delays after it
// started), then started again on the same root and state. After every
// kill: the SQLite files pass integrity_check, every blob on disk is its
// digest, and the operation's own invariant holds (a pull resumes or is
// redone; a task runs or has left no shim, cgroup, mount or bundle; a
// snapshot is committed or still active, never both or neither; a GC never
// takes a blob of a kept image).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildImage, oneFileTar } from '../../helpers/registry.js';
import { waitUntil } from '../../helpers/daemons.js';
import { removeNamespaceCgroups } from '../../helpers/task-engine.js';
import { pullFixture, pullSkip, pushImage, randomFileTar, type PullFixture } from '../engine/helpers.js';
import {
  alive,
  assertBlobsVerified,
  assertSqliteIntact,
  cgroupsOf,
  killDuring,
  logMark,
  strayMounts,
} from './invariants.js';

const NS = `chaos-e${process.pid}`;

describe('berth-engine: kill -9 during work', { skip: pullSkip }, () => {
  let fx: PullFixture;
  let small = '';
  const ctr = (args: string[], timeout = 60000) => fx.eng.ctr(args, { ns: NS, timeout });
  const ok = (args: string[]) => {
    const r = ctr(args);
    assert.equal(r.status, 0, `ctr ${args.join(' ')}: ${r.stderr}\n${fx.eng.log().slice(-2000)}`);
    return r.stdout;
  };
  const lines = (args: string[]) => ok(args).split('\n').filter(Boolean);

  /** kill -9 `afterMs` into `ctr args`, the files checked while the engine is down, then the engine started again. */
  const killAt = async (args: string[], at: number | RegExp) => {
    const when = typeof at === 'number' ? at : logMark(fx.eng.logFile, at);
    const r = await killDuring('ctr', ['-a', fx.eng.sock, '-n', NS, ...args], when, () => fx.eng.kill9());
    assert.ok(assertSqliteIntact(fx.eng.root) >= 1, 'the metadata databases were found');
    assertBlobsVerified(join(fx.eng.root, 'engine/content/blobs'));
    await fx.eng.restart();
    return r;
  };

  /** Content records name blobs that exist; images are complete. */
  const contentSane = () => {
    const blobs = new Set(assertBlobsVerified(join(fx.eng.root, 'engine/content/blobs')));
    for (const l of lines(['content', 'ls']).slice(1)) {
      const digest = l.split(/\s+/)[0]!;
      assert.ok(blobs.has(digest), `content ls shows ${digest}, which has no blob`);
    }
  };
  const imageComplete = (ref: string) => {
    const out = ok(['images', 'check']);
    const line = out.split('\n').find((l) => l.startsWith(ref + ' '));
    assert.ok(line, `${ref} in images check:\n${out}`);
    assert.match(line, /complete \((\d+)\/\1\)/, line);
  };

  before(async () => {
    // A 6 MiB layer of random bytes: the pull lasts long enough to be cut in its middle.
    const img = buildImage({
      extraLayers: [randomFileTar('big.bin', 6 << 20), oneFileTar('a.txt', Buffer.from('a\n'))],
    });
    fx = await pullFixture('berth-chaos-eng-', img, 'chaos/big');
    small = pushImage(fx.reg, buildImage({ label: 'small' }), 'chaos/small');
  });
  after(async () => {
    if (fx) {
      if (fx.eng.proc.exitCode !== null) await fx.eng.restart().catch(() => undefined);
      for (const t of ctr(['task', 'ls', '-q']).stdout.split('\n').filter(Boolean))
        ctr(['task', 'kill', '-s', 'KILL', t]);
      await new Promise((r) => setTimeout(r, 300));
      for (const t of ctr(['task', 'ls', '-q']).stdout.split('\n').filter(Boolean)) ctr(['task', 'rm', '-f', t]);
      for (const c of ctr(['containers', 'ls', '-q']).stdout.split('\n').filter(Boolean)) ctr(['containers', 'rm', c]);
      await fx.stop();
    }
    removeNamespaceCgroups(NS);
  });

  it('images pull: no partial blob committed, ingests resumed or cleaned, a re-pull works', async (t) => {
    let cut = 0;
    for (const ms of [20, 60, 120, 200, 300, 450]) {
      const t0 = Date.now();
      const r = await killAt(['images', 'pull', '--plain-http', fx.ref], ms);
      if (r.code !== 0) cut++;
      contentSane();
      assert.equal(ctr(['content', 'active']).status, 0);
      // A pull ctr reported done is on disk whole.
      if (r.code === 0) imageComplete(fx.ref);
      ok(['images', 'pull', '--plain-http', fx.ref]);
      imageComplete(fx.ref);
      contentSane();
      assert.deepEqual(lines(['content', 'active']).slice(1), [], 'no ingest left after a complete pull');
      // The killed ctr's lease (24 h, containerd's) holds what it fetched: dropped, then the image,
      // and GC must leave no blob, record or ingest behind.
      for (const l of lines(['leases', 'ls', '-q'])) ok(['leases', 'rm', '--sync', l]);
      ok(['images', 'rm', '--sync', fx.ref]);
      assert.deepEqual(lines(['content', 'ls', '-q']), [], `content left after a kill at ${ms} ms`);
      assert.deepEqual(lines(['snapshots', 'ls']).slice(1), [], 'snapshots left');
      assert.deepEqual(assertBlobsVerified(join(fx.eng.root, 'engine/content/blobs')), [], 'blobs left');
      const ingest = join(fx.eng.root, 'engine/engine-ingest');
      const left = existsSync(ingest)
        ? readdirSync(ingest).map((d) => `${d}: ${readdirSync(join(ingest, d)).join()}`)
        : [];
      assert.deepEqual(left, [], 'ingest directories left');
      t.diagnostic(`kill at ${ms} ms: ctr exited ${r.code}, ${Date.now() - t0} ms in all`);
    }
    assert.ok(cut >= 2, `only ${cut} of the kills cut a pull (the points are too late for this machine)`);
  });

  /** Nothing of task `id` left: no shim directory or process, cgroup, mount, bundle. */
  const nothingLeft = (id: string) => {
    const shims = join(fx.eng.state, 'shims');
    for (const d of existsSync(shims) ? readdirSync(shims) : []) {
      const f = join(shims, d, 'shim.json');
      if (!existsSync(f)) continue;
      const rec = JSON.parse(readFileSync(f, 'utf8')) as { key: string; shimPid?: number };
      assert.notEqual(rec.key, `${NS}/${id}`, `shim directory ${d} of ${id} left`);
    }
    assert.deepEqual(cgroupsOf(`${NS}/${id}`), [], `cgroups of ${id} left`);
    const bundle = join(fx.eng.state, 'tasks', NS, id);
    assert.deepEqual(strayMounts(bundle), [], `mounts of ${id} left`);
    assert.ok(!existsSync(bundle), `bundle ${bundle} left`);
  };
  const taskState = (id: string) => {
    const l = lines(['task', 'ls']).find((x) => x.startsWith(id + ' '));
    if (!l) return undefined;
    const [, pid, status] = l.split(/\s+/);
    return { pid: Number(pid), status: status! };
  };
  /** A task killed and removed, its container and snapshot removed; then nothing may be left. */
  const removeAll = async (id: string) => {
    if (taskState(id)) {
      ctr(['task', 'kill', '-s', 'KILL', id]);
      await waitUntil(`${id} to stop`, () => taskState(id)?.status !== 'RUNNING', 10000);
      ok(['task', 'rm', '-f', id]);
    }
    if (lines(['containers', 'ls', '-q']).includes(id)) ok(['containers', 'rm', id]);
    else if (lines(['snapshots', 'ls']).some((l) => l.startsWith(id + ' '))) {
      // ctr prepares the rootfs snapshot (under its lease) before the container record: a kill
      // between leaves the snapshot and the killed client's lease, as containerd does. Once the
      // lease is removed, GC takes the snapshot (containerd's rule).
      for (const l of lines(['leases', 'ls', '-q'])) ok(['leases', 'rm', '--sync', l]);
      assert.ok(!lines(['snapshots', 'ls']).some((l) => l.startsWith(id + ' ')), `snapshot ${id} outlived its lease`);
    }
    nothingLeft(id);
  };

  it('run -d: the task is found running again, or nothing of it is left', async (tc) => {
    ok(['images', 'pull', '--plain-http', small]);
    // Delays, and the end of each step of `ctr run -d` as the engine logs its calls.
    const points: (number | RegExp)[] = [
      10,
      60,
      150,
      /"method":"snapshots\.Prepare"/,
      /"method":"containers\.Create"/,
      /"task create steps"/,
      /"method":"tasks\.Create"/,
      /"method":"tasks\.Start"/,
    ];
    for (const [i, ms] of points.entries()) {
      const id = `chaos-run-${i}`;
      const r = await killAt(['run', '-d', small, id, 'sh', '-c', 'while true; do sleep 0.2; done'], ms);
      const t = taskState(id);
      if (t) {
        // Found again: it runs, or it is stopped (its start was cut) and removable.
        if (t.status === 'RUNNING') assert.ok(alive(t.pid), `${id} RUNNING with a dead pid ${t.pid}`);
      } else {
        // No task: no shim, cgroup, mount or bundle of it (a container record alone is containerd's state too).
        nothingLeft(id);
      }
      if (r.code === 0) assert.ok(t, `ctr run -d ${id} succeeded but the task is gone`);
      tc.diagnostic(`kill at ${ms} ms: ctr exited ${r.code}, task ${t ? t.status : 'gone'}`);
      await removeAll(id);
      // The id is free for a new container.
      ok(['run', '-d', small, id, 'true']);
      await waitUntil(`${id} to exit`, () => taskState(id)?.status === 'STOPPED', 10000);
      await removeAll(id);
    }
  });

  it('task rm and container rm: either still there and removable, or gone with nothing left', async () => {
    for (const [i, ms] of [0, 10, 30, 80].entries()) {
      const id = `chaos-rm-${i}`;
      ok(['run', '-d', small, id, 'sh', '-c', 'exit 3']);
      await waitUntil(`${id} to exit`, () => taskState(id)?.status === 'STOPPED', 10000);
      await killAt(['task', 'rm', id], ms);
      const t = taskState(id);
      if (t) assert.equal(t.status, 'STOPPED');
      else nothingLeft(id);
      if (t) ok(['task', 'rm', id]);
      await killAt(['containers', 'rm', id], ms);
      if (lines(['containers', 'ls', '-q']).includes(id)) ok(['containers', 'rm', id]);
      nothingLeft(id);
      // ctr removes the container's snapshot after its record: a kill between leaves it to GC (no root holds it).
      ok(['images', 'rm', '--sync', 'nonexistent-chaos-trigger']);
    }
    await waitUntil(
      'the removed containers snapshots to be collected',
      () => !lines(['snapshots', 'ls']).some((l) => l.startsWith('chaos-rm-')),
      10000,
    );
  });

  it('snapshot commit and remove: committed or still active, never both or neither', async () => {
    const parent = lines(['snapshots', 'ls'])
      .slice(1)
      .map((l) => l.trim().split(/\s+/))
      .find((c) => c.at(-1) === 'Committed')?.[0];
    assert.ok(parent, 'a committed snapshot of the pulled image');
    for (const [i, ms] of [0, 15, 40, 100].entries()) {
      const key = `chaos-active-${i}`;
      const name = `chaos-committed-${i}`;
      ok(['snapshots', 'prepare', key, parent]);
      await killAt(['snapshots', 'commit', name, key], ms);
      const have = new Map(
        lines(['snapshots', 'ls'])
          .slice(1)
          .map((l) => l.trim().split(/\s+/))
          .map((c) => [c[0]!, c.at(-1)!]),
      );
      const active = have.get(key) === 'Active';
      const committed = have.get(name) === 'Committed';
      assert.ok(active !== committed, `after a kill ${ms} ms into commit: active ${active}, committed ${committed}`);
      if (active) ok(['snapshots', 'commit', name, key]);
      await killAt(['snapshots', 'rm', name], ms);
      if (lines(['snapshots', 'ls']).some((l) => l.startsWith(name + ' '))) ok(['snapshots', 'rm', name]);
      assert.ok(!lines(['snapshots', 'ls']).some((l) => l.startsWith(`chaos-`)), 'snapshots of the test left');
    }
    // No snapshot tree on disk that the database does not know once GC ran.
    assertSqliteIntact(fx.eng.root);
  });

  it('GC after image rm: no blob of a kept image is removed', async () => {
    // Two images sharing the busybox layer; removing one and killing the GC must keep the other whole.
    for (const ms of [0, 20, 60, 150]) {
      ok(['images', 'pull', '--plain-http', fx.ref]);
      imageComplete(small);
      await killAt(['images', 'rm', '--sync', fx.ref], ms);
      imageComplete(small);
      contentSane();
      if (lines(['images', 'ls', '-q']).includes(fx.ref)) imageComplete(fx.ref);
      // The kept image still runs.
      const id = `chaos-gc-${ms}`;
      ok(['run', '--rm', small, id, 'sh', '-c', 'test -x /bin/busybox']);
      nothingLeft(id);
    }
  });
});
