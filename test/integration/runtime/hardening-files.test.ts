// No host-side read of a container's file by path: HOME comes from the
// container's /etc/passwd, which a running container may swap at any moment
// for a link to a host file or for a FIFO. While a flipper swaps it as fast
// as it can, `exec` must neither show a host value in HOME nor hang.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { isRoot, runc, uniqueId, suiteBundles } from '../../helpers/runtime.js';
import { processEnv } from '../../../src/runtime/plan/compile.js';
import { sleep } from '../../helpers/wait.js';

const skip = !isRoot() ? 'needs root' : false;

// Swaps <etc>/passwd between the regular file and `kind` (a symlink to a
// host file, or a FIFO), each swap one atomic rename, until killed.
const FLIPPER = `
import os, sys
etc, kind, host = sys.argv[1], sys.argv[2], sys.argv[3]
good = open(os.path.join(etc, 'passwd')).read()
i = 0
while True:
    i += 1
    t = os.path.join(etc, '.t%d' % (i % 2))
    if kind == 'link':
        os.symlink(host, t)
    else:
        os.mkfifo(t)
    os.replace(t, os.path.join(etc, 'passwd'))
    with open(t, 'w') as f:
        f.write(good)
    os.replace(t, os.path.join(etc, 'passwd'))
`;

describe('no host-side read of container files', { skip }, () => {
  const bundle = suiteBundles();
  const temps: string[] = [];
  after(() => temps.forEach((t) => rmSync(t, { recursive: true, force: true })));

  for (const kind of ['link', 'fifo'] as const) {
    it(`HOME while /etc/passwd is swapped with a ${kind === 'link' ? 'link to a host file' : 'FIFO'}: no host value, no hang`, async () => {
      const host = mkdtempSync(join(tmpdir(), 'berth-passwd-'));
      temps.push(host);
      const hostFile = join(host, 'passwd');
      writeFileSync(hostFile, 'root:x:0:0:root:/leaked-from-host:/bin/sh\n');
      const b = bundle('exec sleep 100');
      const id = uniqueId();
      assert.equal(runc(b, ['run', '-d', '--bundle', b.dir, id]).status, 0);
      const flipper = spawn('python3', ['-c', FLIPPER, join(b.rootfs, 'etc'), kind, hostFile], { stdio: 'ignore' });
      const homes = new Map<string, number>();
      try {
        for (let i = 0; i < 40; i++) {
          const r = runc(b, ['exec', id, 'sh', '-c', 'echo $HOME'], { timeout: 10000 });
          assert.equal(r.error, undefined, `exec #${i} did not finish: ${r.error?.message}`);
          assert.equal(r.status, 0, r.stderr);
          const home = r.stdout.trim();
          homes.set(home, (homes.get(home) ?? 0) + 1);
        }
        if (kind === 'link') {
          // The same lookup, many more times than execs can make it: the
          // window between a check and a read by path is microseconds.
          const proc = { ...b.spec.process!, env: [] };
          for (let i = 0; i < 20000; i++) {
            const home = processEnv(proc, b.rootfs)
              .find((e) => e.startsWith('HOME='))!
              .slice(5);
            homes.set(home, (homes.get(home) ?? 0) + 1);
            if (i % 1000 === 0) await sleep(1); // let the flipper's process run
          }
        }
      } finally {
        flipper.kill('SIGKILL');
        assert.equal(runc(b, ['delete', '--force', id]).status, 0);
      }
      assert.ok(!homes.has('/leaked-from-host'), JSON.stringify([...homes]));
      // Each saw the container's file (/root) or no usable file (/).
      assert.deepEqual(
        [...homes.keys()].filter((h) => h !== '/root' && h !== '/'),
        [],
        JSON.stringify([...homes]),
      );
    });
  }
});
