// The runtime, in-process, primes the kernel's cgroup attach lock before each
// create and exec by writing its own pid into its own cgroup (cgroups/prime.ts).
// What must hold: the runtime stays exactly where it was, and on this host the
// prime's write succeeds (a failure would only be a debug line, so look there).
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Runtime } from '../../../src/runtime/container.js';
import { Logger, type Level } from '../../../src/common/log.js';
import { isRoot, makeBundle, uniqueId } from '../../helpers/runtime.js';

const skip = !isRoot() ? 'needs root (namespaces, cgroups, mounts)' : false;

class Recorder extends Logger {
  lines: string[] = [];
  override log(level: Level, msg: string): void {
    this.lines.push(`${level}: ${msg}`);
  }
}

describe('priming the cgroup attach lock', { skip }, () => {
  const b = makeBundle('true');
  after(() => b.cleanup());

  it('leaves the runtime in its own cgroups, and succeeds, for create and exec', async () => {
    const log = new Recorder();
    const rt = new Runtime({ root: b.root, log });
    const before = readFileSync('/proc/self/cgroup', 'utf8');
    const id = uniqueId('prime');
    assert.equal(await rt.run(id, { bundle: b.dir, stdio: ['ignore', 'ignore', 'ignore'] }), 0);

    b.spec.process!.args = ['/bin/sh', '-c', 'sleep 60'];
    b.write();
    const id2 = uniqueId('prime');
    await rt.create(id2, { bundle: b.dir, stdio: ['ignore', 'ignore', 'ignore'] });
    try {
      await rt.start(id2);
      const code = await rt.exec(
        id2,
        { user: { uid: 0, gid: 0 }, cwd: '/', args: ['/bin/true'], env: ['PATH=/bin'] },
        { stdio: ['ignore', 'ignore', 'ignore'] },
      );
      assert.equal(code, 0);
    } finally {
      await rt.delete(id2, true);
    }
    // The prime's completion callback runs on a later turn of the loop.
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(
      log.lines.filter((l) => l.includes('priming')),
      [],
    );
    assert.equal(readFileSync('/proc/self/cgroup', 'utf8'), before);
  });
});
