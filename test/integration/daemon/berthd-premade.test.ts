// Tasks made ahead at create (src/daemon/containers/premade.ts), on
// berth-engine and on a real containerd: the engine holds a created (never
// started) task right after `docker create`, yet nothing of the container runs
// or shows as running; `docker cp` into it, an update of its resources, a kill
// -9 of berthd, or no start within the TTL each delete that task, and the
// start that follows behaves as without it (the file is there, the new limit
// is in the kernel).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { type Berthd } from '../../helpers/berthd.js';
import { berthdSkip, startBerthdStack, type Backend, type BerthdStack } from '../../helpers/berthd-stack.js';
import { sleep, waitUntil } from '../../helpers/wait.js';
import { cg } from './lifecycle-common.js';

const lines = (s: string) => s.split('\n').filter(Boolean);

for (const backend of ['engine', 'containerd'] as Backend[]) {
  const skip = berthdSkip(backend);
  describe(`tasks made ahead on ${backend}`, { skip }, () => {
    let s: BerthdStack;
    let b: Berthd;
    let IMG = '';
    /** The engine's task of `id`: its status (CREATED, RUNNING, STOPPED), or undefined. */
    const taskOf = (id: string) =>
      lines(s.ctr(['tasks', 'ls']).stdout)
        .slice(1)
        .map((l) => l.trim().split(/\s+/))
        .find((f) => f[0] === id)?.[2];

    before(async () => {
      if (skip) return;
      s = await startBerthdStack(backend, {
        prefix: `berthd-pre-${backend}-`,
        pull: (h) => [`${h}/berth/busybox:latest`],
      });
      ({ b, img: IMG } = s);
    });
    after(() => s?.stop());

    test('made at create, never shown as running; cp into it, then start: the file is there', async () => {
      const id = b.ok(['create', '--network', 'none', IMG, 'cat', '/from-cp']).trim();
      await waitUntil('the task made ahead', () => taskOf(id) === 'CREATED', 5000, 10);
      assert.equal(b.ok(['inspect', '-f', '{{.State.Status}} {{.State.Pid}}', id]).trim(), 'created 0');
      assert.deepEqual(lines(b.ok(['ps', '-q', '--no-trunc'])), [], 'not listed as running');
      const top = b.docker(['top', id]);
      assert.notEqual(top.status, 0);
      assert.match(top.stderr, /is not running/);
      const dir = mkdtempSync(join(tmpdir(), 'berthd-pre-'));
      try {
        writeFileSync(join(dir, 'from-cp'), 'copied in\n');
        b.ok(['cp', join(dir, 'from-cp'), `${id}:/from-cp`]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      assert.equal(taskOf(id), undefined, 'cp mounts the snapshot itself: the task made ahead went first');
      assert.equal(b.ok(['start', '-a', id]), 'copied in\n');
      const events = b.ok([
        'events',
        '--since',
        '0',
        '--until',
        String(Math.floor(Date.now() / 1000) + 1),
        '--filter',
        `container=${id}`,
        '--format',
        '{{.Action}}',
      ]);
      assert.deepEqual(lines(events), ['create', 'extract-to-dir', 'attach', 'start', 'die']);
      b.ok(['rm', id]);
    });

    test('an update before the start: the task made ahead goes, the start has the new limit', async () => {
      const id = b.ok(['create', '--network', 'none', '--pids-limit', '55', IMG, 'sleep', '300']).trim();
      await waitUntil('the task made ahead', () => taskOf(id) === 'CREATED', 5000, 10);
      b.ok(['update', '--pids-limit', '77', id]);
      b.ok(['start', id]);
      assert.equal(cg(b, id, ['pids', 'pids.max'], 'pids.max'), '77');
      assert.equal(taskOf(id), 'RUNNING');
      b.ok(['rm', '-f', id]);
      assert.equal(taskOf(id), undefined);
    });

    test('not started within the TTL: deleted, and a later start works', async () => {
      const id = b.ok(['create', '--network', 'none', IMG, 'echo', 'late']).trim();
      await waitUntil('the task made ahead', () => taskOf(id) === 'CREATED', 5000, 10);
      await waitUntil('the task made ahead to go', () => taskOf(id) === undefined, 10000, 100);
      assert.equal(b.ok(['start', '-a', id]), 'late\n');
      b.ok(['rm', id]);
    });

    test('berthd killed with a task made ahead: deleted at its start; rm of a fresh create leaves nothing', async () => {
      const id = b.ok(['create', '--network', 'none', IMG, 'echo', 'after-kill']).trim();
      await waitUntil('the task made ahead', () => taskOf(id) === 'CREATED', 5000, 10);
      await b.kill9();
      await b.start();
      assert.equal(taskOf(id), undefined, 'the restore deleted it');
      assert.equal(b.ok(['inspect', '-f', '{{.State.Status}}', id]).trim(), 'created');
      assert.equal(b.ok(['start', '-a', id]), 'after-kill\n');
      b.ok(['rm', id]);
      // removed while its task is still being made
      const fresh = b.ok(['create', '--network', 'none', IMG, 'true']).trim();
      b.ok(['rm', fresh]);
      await sleep(200);
      assert.equal(taskOf(fresh), undefined);
      assert.equal(lines(s.ctr(['containers', 'ls', '-q']).stdout).includes(fresh), false);
    });

    test('docker run: the output and exit code, with the task made ahead taken', async () => {
      const mark = readFileSync(b.logFile, 'utf8').length;
      const r = b.docker(['run', '--rm', '--network', 'none', IMG, 'sh', '-c', 'echo ran; exit 5']);
      assert.equal(r.status, 5, r.stderr);
      assert.equal(r.stdout, 'ran\n');
      const steps = lines(readFileSync(b.logFile, 'utf8').slice(mark)).find((l) => l.includes('"start steps"'));
      assert.match(steps ?? '', /"premade"/, 'the start took the task made ahead');
    });
  });
}
