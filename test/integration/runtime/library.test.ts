// The runtime as a library, in this process (what an engine does): run and
// exec with stdio given as descriptors, and the spare berth-init that a
// long-lived Runtime keeps started ahead of need (its stdio copied in with
// pidfd_getfd).
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { Runtime } from '../../../src/runtime/container.js';
import { isRoot, uniqueId, suiteBundles } from '../../helpers/runtime.js';
import { waitUntil } from '../../helpers/wait.js';

const skip = !isRoot() ? 'needs root (namespaces, cgroups, mounts)' : false;

/** Our children that run berth-init (a spare, or one mid-create). */
function initChildren(): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      // argv[0] (comm is the memfd's number after the sealed re-exec).
      if (ppid === process.pid && readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0')[0]!.endsWith('berth-init'))
        out.push(Number(name));
    } catch {
      // gone while we looked
    }
  }
  return out;
}

const until = (pred: () => boolean, what: string): Promise<void> => waitUntil(what, pred, 20000, 10);

describe('runtime library in-process', { skip }, () => {
  const runtimes: Runtime[] = [];
  // Registered first, so the runtimes close before the bundles go.
  after(() => runtimes.forEach((rt) => rt.close()));
  const bundle = suiteBundles();
  const setup = (script: string) => {
    const b = bundle(script);
    b.write();
    const rt = new Runtime({ root: b.root });
    runtimes.push(rt);
    return { b, rt };
  };

  it('run: stdout and stderr reach the descriptors given, first from a fresh berth-init, then from the spare', async () => {
    const { b, rt } = setup('echo "out $(cat /proc/self/cgroup | wc -l)"; echo err >&2; exit 3');
    assert.deepEqual(initChildren(), [], 'no berth-init before the first create');
    for (let round = 0; round < 3; round++) {
      const outFile = join(b.dir, `out${round}`);
      const errFile = join(b.dir, `err${round}`);
      const out = openSync(outFile, 'w');
      const err = openSync(errFile, 'w');
      const spares = initChildren();
      if (round > 0) assert.equal(spares.length, 1, `round ${round}: one spare waiting before the create`);
      try {
        const code = await rt.run(uniqueId('lib'), { bundle: b.dir, stdio: ['ignore', out, err] });
        assert.equal(code, 3);
      } finally {
        closeSync(out);
        closeSync(err);
      }
      assert.match(readFileSync(outFile, 'utf8'), /^out \d+\n$/);
      assert.equal(readFileSync(errFile, 'utf8'), 'err\n');
      if (round > 0) assert.ok(!initChildren().includes(spares[0]!), 'the spare was used up');
    }
    await until(() => initChildren().length === 1, 'a new spare after the last create');
    rt.close();
    await until(() => initChildren().length === 0, 'the spare exits once the runtime is closed');
  });

  it('exec: the spare takes the exec process stdio too, and joins the container', async () => {
    const { b, rt } = setup('exec sleep 1000');
    const id = uniqueId('lib');
    await rt.create(id, { bundle: b.dir, stdio: ['ignore', 'ignore', 'ignore'] });
    await rt.start(id);
    await until(() => initChildren().length === 1, 'a spare after create');
    const initPid = rt.state(id).pid;
    const outFile = join(b.dir, 'exec-out');
    const out = openSync(outFile, 'w');
    try {
      const code = await rt.exec(
        id,
        {
          ...b.spec.process!,
          args: ['/bin/sh', '-c', 'readlink /proc/self/ns/pid; readlink /proc/1/exe'],
          terminal: false,
        },
        { stdio: ['ignore', out, 'ignore'] },
      );
      assert.equal(code, 0);
    } finally {
      closeSync(out);
    }
    const [ns, exe] = readFileSync(outFile, 'utf8').trim().split('\n');
    assert.equal(ns, readlinkSync(`/proc/${initPid}/ns/pid`), 'exec ran in the container pid namespace');
    assert.equal(exe, '/bin/busybox');
    await rt.kill(id, 'KILL');
    await until(() => rt.state(id).status === 'stopped', 'container stopped');
    await rt.delete(id);
    rt.close();
    await until(() => initChildren().length === 0, 'the spare exits once the runtime is closed');
  });

  it('a spare is not used when there are preserved fds; the create still gets them', async () => {
    const { b, rt } = setup('echo preserved >&3');
    await rt.run(uniqueId('lib'), { bundle: b.dir, stdio: ['ignore', 'ignore', 'ignore'] });
    await until(() => initChildren().length === 1, 'a spare');
    const spare = initChildren()[0];
    const f = join(b.dir, 'fd3');
    const fd = openSync(f, 'w');
    try {
      const code = await rt.run(uniqueId('lib'), {
        bundle: b.dir,
        preserveFds: 1,
        stdio: ['ignore', 'ignore', 'ignore', fd],
      });
      assert.equal(code, 0);
    } finally {
      closeSync(fd);
    }
    assert.equal(readFileSync(f, 'utf8'), 'preserved\n');
    assert.ok(initChildren().includes(spare!), 'the spare is still waiting');
  });
});
