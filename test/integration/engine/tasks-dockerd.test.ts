// The real dockerd (Debian's docker.io) on berth-engine in place of
// containerd (`--containerd <engine socket>`): docker run with exit codes
// and a terminal, OOMKilled, exec, logs, stop, kill, pause, restart, stats, and
// live-restore (dockerd restarted while its containers keep running).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { haveBusybox } from '../../helpers/busybox.js';
import { dockerCli, startDockerd, waitUntil, which } from '../../helpers/daemons.js';
import { makeBusyboxImageArchive } from '../../helpers/image-archive.js';
import { driveTty } from '../../helpers/pty.js';
import { isRoot } from '../../helpers/runtime.js';
import { startEngine, REPO, type Engine } from './helpers.js';

const skip = !isRoot()
  ? 'needs root'
  : !haveBusybox()
    ? 'needs busybox-static'
    : !which('dockerd')
      ? 'needs dockerd (docker.io)'
      : false;

describe('dockerd on berth-engine', { skip }, () => {
  let e: Engine;
  let d: Awaited<ReturnType<typeof startDockerd>>;
  const docker = (args: string[], timeout = 60000) => d.docker(args, { timeout });

  before(async () => {
    e = await startEngine('berth-dkd-eng-');
    d = await startDockerd({
      runtimes: { berth: join(REPO, 'bin/berth-runc') },
      prefix: 'berth-dkd-',
      containerd: e.sock,
      liveRestore: true,
    });
    const img = makeBusyboxImageArchive(d.dir);
    const load = docker(['load', '-i', img.file]);
    assert.equal(load.status, 0, load.stderr);
  });
  after(async () => {
    await d?.stop();
    await e?.stop();
  });

  it('docker run: output and exit codes', () => {
    const r = docker(['run', '--rm', 'busybox-test', 'sh', '-c', 'echo hello-from-engine; exit 42']);
    assert.equal(r.status, 42, r.stderr);
    assert.equal(r.stdout, 'hello-from-engine\n');
    const ok = docker(['run', '--rm', 'busybox-test', 'cat', '/proc/1/cmdline']);
    assert.equal(ok.status, 0);
    assert.equal(ok.stdout, 'cat\0/proc/1/cmdline\0');
    assert.match(e.ctr(['task', 'ls'], { ns: 'moby' }).stdout, /^TASK/);
  });

  it("an OOM kill: OOMKilled=true and the oom event, from the engine's /tasks/oom", () => {
    const since = String(Math.floor(Date.now() / 1000) - 1);
    // tail reads /dev/zero for a newline that never comes: it grows until the kernel kills it
    const r = docker(['run', '--name', 'oomer', '-m', '16m', 'busybox-test', 'tail', '/dev/zero']);
    assert.equal(r.status, 137, r.stderr);
    assert.equal(
      docker(['inspect', '--format', '{{.State.OOMKilled}} {{.State.ExitCode}}', 'oomer']).stdout,
      'true 137\n',
    );
    const ev = docker([
      'events',
      '--since',
      since,
      '--until',
      String(Math.floor(Date.now() / 1000) + 1),
      '--filter',
      'container=oomer',
      '--format',
      '{{.Action}}',
    ]);
    assert.deepEqual(
      ev.stdout.split('\n').filter((a) => a === 'oom' || a === 'die'),
      ['oom', 'die'],
      ev.stdout,
    );
    assert.equal(docker(['rm', 'oomer']).status, 0);
  });

  it('docker run --runtime berth (--add-runtime): berth-runc under the shim', () => {
    const r = docker(['run', '--rm', '--runtime', 'berth', 'busybox-test', 'sh', '-c', 'echo via-berth-runc; exit 5']);
    assert.equal(r.status, 5, r.stderr);
    assert.equal(r.stdout, 'via-berth-runc\n');
  });

  it('docker run -it: a terminal', async () => {
    const r = await driveTty(
      [dockerCli() ?? 'docker', '-H', `unix://${d.sock}`, 'run', '--rm', '-it', 'busybox-test', 'sh'],
      [{ expect: /\/ # /, send: 'tty; exit 9\r' }],
      { env: d.env },
    );
    assert.equal(r.timedOut, false, r.output);
    assert.equal(r.code, 9, r.output);
    assert.match(r.output, /\/dev\/pts\/0/);
  });

  it('exec, logs, pause, stats, kill, restart, stop', async () => {
    const run = docker([
      'run',
      '-d',
      '--name',
      'ticker',
      'busybox-test',
      'sh',
      '-c',
      'trap "exit 0" TERM; i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done',
    ]);
    assert.equal(run.status, 0, run.stderr);
    await waitUntil('two log lines', () => docker(['logs', 'ticker']).stdout.includes('tick 1'), 10000);
    const x = docker(['exec', 'ticker', 'sh', '-c', 'echo in-exec; exit 3']);
    assert.equal(x.status, 3);
    assert.equal(x.stdout, 'in-exec\n');
    assert.equal(docker(['pause', 'ticker']).status, 0);
    assert.match(docker(['ps', '--format', '{{.Names}} {{.Status}}']).stdout, /ticker Up .*\(Paused\)/);
    assert.equal(docker(['unpause', 'ticker']).status, 0);
    const stats = docker(['stats', '--no-stream', '--format', '{{.PIDs}} {{.MemUsage}}', 'ticker']);
    assert.equal(stats.status, 0, stats.stderr);
    assert.match(stats.stdout, /^[1-9]\d* [1-9][\d.]*[KMG]i?B \//);
    assert.equal(docker(['kill', 'ticker']).status, 0);
    assert.match(docker(['inspect', '--format', '{{.State.ExitCode}}', 'ticker']).stdout, /^137/);
    assert.equal(docker(['restart', 'ticker']).status, 0);
    assert.equal(docker(['inspect', '--format', '{{.State.Running}}', 'ticker']).stdout.trim(), 'true');
    const stop = docker(['stop', '-t', '5', 'ticker']);
    assert.equal(stop.status, 0, stop.stderr);
    assert.equal(
      docker(['inspect', '--format', '{{.State.ExitCode}}', 'ticker']).stdout.trim(),
      '0',
      'the TERM trap ran: exit 0',
    );
    assert.equal(docker(['rm', 'ticker']).status, 0);
  });

  it('live-restore: dockerd restarted while a container runs, which keeps running and is managed again', async () => {
    assert.equal(
      docker([
        'run',
        '-d',
        '--name',
        'survivor',
        'busybox-test',
        'sh',
        '-c',
        'while true; do echo alive; sleep 0.2; done',
      ]).status,
      0,
    );
    const pid = Number(docker(['inspect', '--format', '{{.State.Pid}}', 'survivor']).stdout.trim());
    assert.ok(pid > 0);
    await d.restart();
    assert.ok(existsSync(`/proc/${pid}`), 'running while dockerd was down');
    assert.equal(
      docker(['inspect', '--format', '{{.State.Running}} {{.State.Pid}}', 'survivor']).stdout.trim(),
      `true ${pid}`,
    );
    const x = docker(['exec', 'survivor', 'echo', 'still-here']);
    assert.equal(x.stdout, 'still-here\n', x.stderr);
    assert.equal(docker(['rm', '-f', 'survivor']).status, 0);
    await waitUntil('its process to be gone', () => !existsSync(`/proc/${pid}`), 10000);
  });
});
