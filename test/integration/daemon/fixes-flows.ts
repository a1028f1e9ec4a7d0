// berthd's fixes for issue 10, one flow each, driven by the docker CLI 28 and
// raw API calls, asserting what the daemon and the kernel show: OOM kills in
// State.OOMKilled (containerd's /tasks/oom), stdin that ends only on the
// client's close (CloseIO), exec records gone with their exec (berth-engine's
// shim directory). Registered by two files, one per engine below berthd
// (berthd-fixes.test.ts on containerd, berthd-fixes-engine.test.ts on
// berth-engine), each with one berthd for the whole file.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Berthd } from '../../helpers/berthd.js';
import { waitUntil } from '../../helpers/wait.js';
import { V2 } from './lifecycle-common.js';

export interface FixFixture {
  b: Berthd;
  /** busybox from the test's registry, pulled. */
  img: string;
  /** berth-engine's shim directories (<state>/shims), undefined on containerd. */
  shims?: string;
}

/** The OOM kill count the kernel keeps for a container's memory cgroup. */
function oomKills(b: Berthd, id: string): number {
  const text = V2
    ? readFileSync(`/sys/fs/cgroup/${b.namespace}/${id}/memory.events`, 'utf8')
    : readFileSync(`/sys/fs/cgroup/memory/${b.namespace}/${id}/memory.oom_control`, 'utf8');
  return Number(/^oom_kill (\d+)$/m.exec(text)?.[1] ?? 'NaN');
}

/** `onEngine`: berthd runs on berth-engine (whose shim directories the tests can read). */
export function fixesTests(name: string, fx: () => FixFixture, skip: string | false, onEngine: boolean): void {
  const t = (title: string, fn: () => Promise<void>, only?: string | false): void => {
    test(`${name}: ${title}`, { skip: skip || only }, fn);
  };
  const state = (b: Berthd, c: string) =>
    b.ok(['inspect', '-f', '{{.State.Status}} {{.State.OOMKilled}} {{.State.ExitCode}}', c]).trim();

  t(
    'an OOM kill sets State.OOMKilled (a child while the container runs, the init at its exit); a start clears it',
    async () => {
      const { b, img } = fx();
      const mem = ['--memory', '16m', '--memory-swap', '16m', '--network', 'none'];
      const since = Math.floor(Date.now() / 1000) - 1;
      // tail reads /dev/zero for a newline that never comes: it grows until the kernel kills it
      const child = b
        .ok(['run', '-d', ...mem, img, 'sh', '-c', 'tail /dev/zero; echo "tail: $?"; exec sleep 300'])
        .trim();
      await waitUntil('OOMKilled on the running container', () => state(b, child) === 'running true 0', 20000, 100);
      assert.ok(oomKills(b, child) >= 1, 'the kernel counted the kill');
      assert.match(b.ok(['logs', child]), /^tail: 137$/m, 'tail died of SIGKILL, the container went on');
      const ev = b.ok(['events', '--since', String(since), '--until', String(Math.ceil(Date.now() / 1000) + 1)]);
      assert.match(ev, new RegExp(`container oom ${child}`), 'an oom event as dockerd sends it');
      b.ok(['rm', '-f', child]);

      // the init itself: a first run is killed, the next one (a marker in the rootfs) sleeps
      const init = b
        .ok(['run', '-d', ...mem, img, 'sh', '-c', '[ -e /ran ] && exec sleep 300; touch /ran; exec tail /dev/zero'])
        .trim();
      await waitUntil('the OOM-killed exit', () => state(b, init) === 'exited true 137', 20000, 100);
      assert.equal(b.ok(['wait', init]).trim(), '137');
      b.ok(['start', init]);
      assert.equal(state(b, init), 'running false 0', 'a new run starts with OOMKilled false');
      assert.equal(oomKills(b, init), 0, "the new run's cgroup saw no kill");
      b.ok(['rm', '-f', init]);

      // a container that is not killed never shows it
      const fine = b.ok(['run', '-d', ...mem, img, 'sh', '-c', 'exit 3']).trim();
      await waitUntil('the exit', () => state(b, fine).startsWith('exited'), 20000, 100);
      assert.equal(state(b, fine), 'exited false 3');
      b.ok(['rm', '-f', fine]);
    },
  );

  t(
    "stdin ends at the client's end only: run -i, exec -i, and a detached -i container across a client's exit",
    async () => {
      const { b, img } = fx();
      const none = ['--network', 'none'];
      // docker run -i: the CLI's end of input is the container's EOF (CloseIO once the bytes are in)
      assert.equal(
        b.ok(['run', '-i', '--rm', ...none, img, 'sh', '-c', 'cat; echo end'], { input: 'piped\n' }),
        'piped\nend\n',
      );
      const d = b
        .ok([
          'run',
          '-d',
          '-i',
          ...none,
          img,
          'sh',
          '-c',
          'while read l; do echo "got $l"; done; echo "stdin ended"; sleep 300',
        ])
        .trim();
      assert.equal(
        b.ok(['exec', '-i', d, 'sh', '-c', 'cat; echo exec-end'], { input: 'via exec\n' }),
        'via exec\nexec-end\n',
      );
      // an attach that writes and goes away is not the container's EOF (dockerd: only with StdinOnce)
      for (const word of ['one', 'two']) {
        const att = spawn('/usr/local/bin/docker', ['attach', d], { env: b.env, stdio: ['pipe', 'pipe', 'pipe'] });
        let out = '';
        att.stdout.on('data', (c: Buffer) => (out += c.toString()));
        await new Promise((r) => setTimeout(r, 300));
        att.stdin.write(`${word}\n`);
        await waitUntil(`"got ${word}" through attach`, () => out.includes(`got ${word}`), 15000, 50);
        att.kill('SIGKILL');
        await new Promise((r) => att.once('exit', r));
      }
      await new Promise((r) => setTimeout(r, 500));
      assert.doesNotMatch(b.ok(['logs', d]), /stdin ended/);
      assert.equal(b.ok(['inspect', '-f', '{{.State.Status}}', d]).trim(), 'running');
      b.ok(['rm', '-f', d]);
    },
  );

  t(
    'a deleted exec leaves no record behind (docker exec, exec -d, healthcheck probes)',
    async () => {
      const { b, img } = fx();
      const shims = fx().shims!;
      const id = b
        .ok([
          'run',
          '-d',
          '--network',
          'none',
          '--health-cmd',
          'true',
          '--health-interval',
          '50ms',
          img,
          'sleep',
          '300',
        ])
        .trim();
      const execFiles = () =>
        readdirSync(shims).flatMap((d) =>
          readdirSync(join(shims, d))
            .filter((f) => f.startsWith('exec-'))
            .map((f) => `${d}/${f}`),
        );
      for (let i = 0; i < 5; i++) assert.equal(b.ok(['exec', id, 'sh', '-c', `echo ${i}`]), `${i}\n`);
      b.ok(['exec', '-d', id, 'sh', '-c', 'exit 2']);
      await waitUntil(
        'healthy after many probes',
        () => b.ok(['inspect', '-f', '{{.State.Health.Status}}', id]).trim() === 'healthy',
        15000,
        100,
      );
      await new Promise((r) => setTimeout(r, 1000)); // some 20 probes more, each an exec
      // paused, the monitor stops: the probe in flight, if any, ends and goes like the others
      b.ok(['pause', id]);
      await waitUntil('no exec record left', () => execFiles().length === 0, 10000, 100).catch(() => {
        assert.deepEqual(execFiles(), [], 'exec records of deleted execs');
      });
      b.ok(['unpause', id]);
      b.ok(['rm', '-f', id]);
    },
    !onEngine && "containerd's shim keeps its own state: nothing of Berth's to count",
  );
}
