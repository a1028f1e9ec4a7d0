// An --rm container's removal (src/daemon/containers/removal.ts), on
// berth-engine and on a real containerd: `wait?condition=removed` answers once
// the record is durably gone, the name free, the volumes and the network
// released; the task, the containerd container, the rootfs snapshot and the
// exec directory go right after, in the background, and a berthd killed
// before that end finishes them at its next start. Also the boot's own
// auto-remove of an --rm container that exited while berthd was down, found
// by the one Tasks.List of the restore.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { DOCKER_28, type Berthd } from '../../helpers/berthd.js';
import { berthdSkip, startBerthdStack, type Backend, type BerthdStack } from '../../helpers/berthd-stack.js';
import { sleep, waitUntil } from '../../helpers/wait.js';

const lines = (s: string) => s.split('\n').filter(Boolean);

/** cgroup directories named `id` under berthd's namespace, v1 (any controller) or v2. */
function cgroupsOf(ns: string, id: string): string[] {
  const root = '/sys/fs/cgroup';
  const dirs = existsSync(join(root, 'cgroup.controllers'))
    ? [join(root, ns, id)]
    : readdirSync(root).map((c) => join(root, c, ns, id));
  return dirs.filter((d) => existsSync(d));
}

for (const backend of ['engine', 'containerd'] as Backend[]) {
  const skip = berthdSkip(backend);
  describe(`--rm removal on ${backend}`, { skip }, () => {
    let s: BerthdStack;
    let b: Berthd;
    let IMG = '';
    const removing = () => join(b.dir, 'data', 'removing');
    const retired = () => (existsSync(removing()) ? readdirSync(removing()) : []);
    /** What of container `id` the engine, the kernel and berthd's files still hold. */
    const leftovers = (id: string) => ({
      containers: lines(s.ctr(['containers', 'ls', '-q']).stdout).filter((c) => c === id),
      tasks: lines(s.ctr(['tasks', 'ls', '-q']).stdout).filter((c) => c === id),
      snapshots: lines(s.ctr(['snapshots', 'ls']).stdout).filter((l) => l.startsWith(id)),
      record: existsSync(join(b.dir, 'data', 'containers', id)),
      retired: retired().includes(id),
      exec: existsSync(join(b.dir, 'exec', id)),
      cgroups: cgroupsOf(b.namespace, id),
    });
    const nothing = {
      containers: [],
      tasks: [],
      snapshots: [],
      record: false,
      retired: false,
      exec: false,
      cgroups: [],
    };
    const gone = async (id: string) => {
      await waitUntil(`nothing of ${id} left`, () => {
        const l = leftovers(id);
        return JSON.stringify(l) === JSON.stringify(nothing);
      });
      assert.deepEqual(leftovers(id), nothing);
    };

    before(async () => {
      if (skip) return;
      s = await startBerthdStack(backend, {
        prefix: `berthd-rm-${backend}-`,
        pull: (h) => [`${h}/berth/busybox:latest`],
      });
      ({ b, img: IMG } = s);
    });
    after(() => s?.stop());

    test('the answer: exit code, output, events in order, the name free at once; then nothing left', async () => {
      const name = `rmx-${process.pid}`;
      const since = Math.floor(Date.now() / 1000) - 1;
      const r = b.docker([
        'run',
        '--rm',
        '--name',
        name,
        '--network',
        'none',
        '-v',
        '/anon',
        IMG,
        'sh',
        '-c',
        'echo out; exit 3',
      ]);
      assert.equal(r.status, 3, r.stderr);
      assert.equal(r.stdout, 'out\n');
      // gone for every client at once: the list, inspect, the anonymous volume, the name
      assert.deepEqual(lines(b.ok(['ps', '-aq', '--filter', `name=${name}`])), []);
      assert.equal(b.docker(['inspect', name]).status, 1);
      assert.deepEqual(lines(b.ok(['volume', 'ls', '-q'])), [], 'the anonymous volume went with it');
      const again = b.docker(['run', '--rm', '--name', name, '--network', 'none', IMG, 'true']);
      assert.equal(again.status, 0, `the name is free at once: ${again.stderr}`);
      const events = b.ok([
        'events',
        '--since',
        String(since),
        '--until',
        String(Math.floor(Date.now() / 1000) + 1),
        '--filter',
        `container=${name}`,
        '--filter',
        'type=container',
        '--format',
        '{{.Actor.ID}} {{.Action}}',
      ]);
      const byId = new Map<string, string[]>();
      for (const l of lines(events)) {
        const [id, action] = l.split(' ');
        byId.set(id!, [...(byId.get(id!) ?? []), action!]);
      }
      assert.equal(byId.size, 2, events);
      for (const [id, actions] of byId) {
        assert.deepEqual(actions, ['create', 'attach', 'start', 'die', 'destroy'], `${id}: ${events}`);
        await gone(id);
      }
    });

    test('20 at once: each removed, nothing left', async () => {
      const before = Math.floor(Date.now() / 1000) - 1;
      const runs = Array.from(
        { length: 20 },
        (_, i) =>
          new Promise<number | null>((res) => {
            const p = spawn(DOCKER_28, ['run', '--rm', '--network', 'none', IMG, 'sh', '-c', `exit ${i % 4}`], {
              env: b.env,
              stdio: 'ignore',
            });
            p.on('exit', (code) => res(code));
          }),
      );
      const codes = await Promise.all(runs);
      assert.deepEqual(
        codes,
        Array.from({ length: 20 }, (_, i) => i % 4),
      );
      assert.deepEqual(lines(b.ok(['ps', '-aq'])), []);
      const ids = new Set(
        lines(
          b.ok([
            'events',
            '--since',
            String(before),
            '--until',
            String(Math.floor(Date.now() / 1000) + 1),
            '--filter',
            'event=destroy',
            '--format',
            '{{.Actor.ID}}',
          ]),
        ),
      );
      assert.ok(ids.size >= 20);
      for (const id of ids) await gone(id);
    });

    test('a clean-up cut short by kill -9 is finished at the next start', async () => {
      // What a berthd killed right after the answer leaves: the record moved aside, the engine's
      // containerd container and snapshot still there (made at create).
      const id = b.ok(['create', '--network', 'none', IMG, 'true']).trim();
      assert.equal(lines(s.ctr(['containers', 'ls', '-q']).stdout).includes(id), true);
      await b.kill9();
      mkdirSync(removing(), { recursive: true });
      renameSync(join(b.dir, 'data', 'containers', id), join(b.dir, 'data', 'removing', id));
      await b.start();
      assert.deepEqual(lines(b.ok(['ps', '-aq', '--no-trunc'])).includes(id), false);
      await gone(id);
      // and one killed for real just after its answer, however far its clean-up got
      const name = `rmk-${process.pid}`;
      b.ok(['run', '--rm', '--name', name, '--network', 'none', IMG, 'true']);
      await b.kill9();
      await b.start();
      assert.equal(b.docker(['inspect', name]).status, 1);
      await waitUntil('the removals to end', () => retired().length === 0);
      assert.deepEqual(lines(s.ctr(['containers', 'ls', '-q']).stdout), []);
      assert.deepEqual(lines(s.ctr(['tasks', 'ls', '-q']).stdout), []);
    });

    test('an --rm container that exits while berthd is down is removed at its start', async () => {
      const id = b.ok(['run', '-d', '--rm', '--network', 'none', IMG, 'sleep', '1']).trim();
      await b.kill9();
      await sleep(1500);
      await b.start();
      assert.equal(b.docker(['inspect', id]).status, 1);
      await gone(id);
    });

    test('a running container survives kill -9 (restore by one Tasks.List), and rm -f removes it at once', async () => {
      const id = b.ok(['run', '-d', '--network', 'none', IMG, 'sleep', '300']).trim();
      const created = b.ok(['create', '--network', 'none', IMG, 'true']).trim();
      await b.kill9();
      await b.start();
      assert.equal(b.ok(['inspect', '-f', '{{.State.Status}}', id]).trim(), 'running');
      assert.equal(b.ok(['inspect', '-f', '{{.State.Status}}', created]).trim(), 'created');
      b.ok(['rm', '-f', id, created]);
      // docker rm stays whole before it answers
      assert.deepEqual(leftovers(id), nothing);
      assert.deepEqual(leftovers(created), nothing);
    });
  });
}
