// The same docker-compose 1.29 project on berthd (on berth-engine) and on a
// real dockerd 20.10 (its own data root, vfs), at the API version both
// speak (COMPOSE_API_VERSION=1.41), and what compose made compared: each
// container's Config and HostConfig, its mounts, its health, `ps` and the
// volume's labels. The services use network_mode none, so neither daemon
// makes a link or a rule on the host (berthd runs with --bridge none,
// dockerd with --bridge=none --iptables=false).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDockerd, dockerCli, which, type Dockerd } from '../../helpers/daemons.js';
import { berthdSkip, startBerthdStack, type BerthdStack } from '../../helpers/berthd-stack.js';
import { waitUntil } from '../../helpers/wait.js';

const skip =
  berthdSkip('engine') ||
  (!which('dockerd') || !dockerCli() ? 'dockerd is not installed (apt-get install docker.io)' : false) ||
  (!which('docker-compose') ? 'docker-compose is not installed (scripts/setup.sh installs it)' : false);

let st: BerthdStack | undefined;
let d: Dockerd | undefined;
let dir = '';
const project = `cmpd${process.pid}`;

before(async () => {
  if (skip) return;
  st = await startBerthdStack('engine', { prefix: 'berthd-cmpd-' });
  d = await startDockerd({ runtimes: {}, storageDriver: 'vfs', prefix: 'berthd-cmpd-dkd-' });
  const p = d.docker(['pull', '-q', st.img], { timeout: 120_000 });
  assert.equal(p.status, 0, p.stderr);
  dir = mkdtempSync('/tmp/berth-compose-cmp-');
  mkdirSync(join(dir, 'data'));
  writeFileSync(join(dir, 'e.env'), 'FROM_FILE=1\n');
  writeFileSync(
    join(dir, 'docker-compose.yml'),
    `version: "3.8"
services:
  svc:
    image: ${st.img}
    network_mode: none
    init: true
    command: ["sh", "-c", "echo started; exec sleep 300"]
    entrypoint: ["/bin/sh", "-c", "exec \\"$$@\\"", "--"]
    environment: {X: y}
    env_file: e.env
    working_dir: /tmp
    user: "0:0"
    labels: {app: cmp}
    stop_grace_period: 2s
    stop_signal: SIGINT
    cap_add: [NET_ADMIN]
    cap_drop: [MKNOD]
    ulimits: {nofile: {soft: 1024, hard: 2048}}
    tmpfs: [/scratch]
    shm_size: 32m
    mem_limit: 64m
    read_only: false
    restart: on-failure:2
    healthcheck: {test: ["CMD-SHELL", "true"], interval: 1s}
    volumes: [v:/data, ./data:/bind:ro]
volumes: {v: {labels: {team: a}}}
`,
  );
});

after(async () => {
  for (const env of [st?.b.env, d?.env])
    if (env && dir) spawnSync('docker-compose', ['-p', project, 'down', '-v', '-t', '1'], { cwd: dir, env });
  await d?.stop();
  await st?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/**
 * HostConfig fields that differ on purpose: berthd masks two paths more than dockerd 20.10
 * (/proc/interrupts, /sys/devices/virtual/powercap, as newer dockerd), and has no kernel memory.
 */
const NOT_SHOWN = ['MaskedPaths', 'KernelMemory', 'KernelMemoryTCP'];

test('docker-compose up on berthd and on dockerd 20.10: the same containers', { skip }, async () => {
  const seen: Record<string, Record<string, unknown>> = {};
  for (const [who, env, docker] of [
    ['berthd', st!.b.env, (a: string[]) => st!.b.docker(a)],
    ['dockerd', d!.env, (a: string[]) => d!.docker(a)],
  ] as const) {
    const run = (args: string[]) =>
      spawnSync('docker-compose', ['--ansi', 'never', '-p', project, ...args], {
        cwd: dir,
        encoding: 'utf8',
        timeout: 120_000,
        env: { ...env, COMPOSE_API_VERSION: '1.41' },
      });
    const up = run(['up', '-d']);
    assert.equal(up.status, 0, `${who}: ${up.stderr}`);
    assert.doesNotMatch(up.stderr, /Creating network/);
    const name = `${project}_svc_1`;
    await waitUntil(
      `${who}: healthy`,
      () => docker(['inspect', '-f', '{{.State.Health.Status}}', name]).stdout.trim() === 'healthy',
      20_000,
      200,
    );
    const i = JSON.parse(docker(['inspect', name]).stdout)[0];
    const hc = { ...i.HostConfig, Binds: [...(i.HostConfig.Binds as string[])].sort() };
    for (const k of NOT_SHOWN) delete hc[k];
    const cfg = { ...i.Config };
    delete cfg.Hostname;
    const mounts = (i.Mounts as Record<string, unknown>[])
      .map((m): Record<string, unknown> => ({ ...m, Source: m.Type === 'volume' ? 'VOL' : m.Source }))
      .sort((a, b) => String(a.Destination).localeCompare(String(b.Destination)));
    const vol = JSON.parse(docker(['volume', 'inspect', `${project}_v`]).stdout)[0];
    const ps = run(['ps']).stdout.replace(/ +/g, ' ');
    const stop = run(['stop']);
    assert.equal(stop.status, 0, stop.stderr);
    const exit = docker(['inspect', '-f', '{{.State.ExitCode}} {{.RestartCount}}', name]).stdout.trim();
    const down = run(['down', '-v']);
    assert.equal(down.status, 0, down.stderr);
    seen[who] = { cfg, hc, mounts, labels: vol.Labels, ps, exit };
  }
  const [b, k] = [seen.berthd!, seen.dockerd!];
  assert.deepEqual(b.cfg, k.cfg, 'Config');
  assert.deepEqual(b.hc, k.hc, 'HostConfig');
  assert.deepEqual(b.mounts, k.mounts, 'Mounts');
  assert.deepEqual(b.labels, k.labels, 'the volume labels');
  assert.equal(b.ps, k.ps, 'docker-compose ps');
  assert.equal(b.exit, k.exit, 'the exit after compose stop (SIGINT)');
});
