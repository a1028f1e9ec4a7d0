// Shared by the berth CLI tests: one real dockerd on a temporary root and
// socket with a busybox image made on the spot, and the comparison of one
// command run through berth and through the docker 28 CLI (stdout, stderr,
// status) after ids, relative times and the program name are normalised.

import assert from 'node:assert/strict';
import { spawnSync, execSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { isRoot, REPO } from '../../helpers/runtime.js';
import { haveBusybox, makeBundleDir } from '../../helpers/busybox.js';
import { startDockerd, which, type Dockerd } from '../../helpers/daemons.js';

export const BERTH = join(REPO, 'bin/berth');
export const DOCKER = '/usr/local/bin/docker';
export const IMAGE = 'busybox:latest';
export const SUFFIX = `cli${process.pid}`;

export const skip = !isRoot()
  ? 'needs root (dockerd)'
  : !which('dockerd')
    ? 'needs dockerd (apt-get install docker.io)'
    : !existsSync(DOCKER)
      ? 'needs the docker 28.x CLI at /usr/local/bin/docker'
      : !haveBusybox()
        ? 'needs /bin/busybox (apt-get install busybox-static)'
        : !existsSync(BERTH)
          ? 'needs the build (node scripts/build.mjs)'
          : false;

export interface Out {
  stdout: string;
  stderr: string;
  status: number | null;
}

let d: Dockerd;

/**
 * A dockerd for this file, with busybox:latest imported. With
 * BERTH_CLI_TEST_HOST=unix:///path/to.sock the same tests run against that
 * daemon instead (berthd, when it exists); it is not stopped at the end.
 */
export async function startDaemon(): Promise<Dockerd> {
  const other = process.env.BERTH_CLI_TEST_HOST;
  d = other ? externalDaemon(other) : await startDockerd({ runtimes: {}, prefix: 'berth-cli-' });
  const bb = makeBundleDir('berth-cli-bb-');
  try {
    execSync(`tar -C ${bb.rootfs} -c . | ${DOCKER} import - ${IMAGE}`, { env: d.env, stdio: 'ignore' });
  } finally {
    bb.cleanup();
  }
  return d;
}

function runCli(bin: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): Out {
  const r = spawnSync(bin, args, {
    encoding: 'utf8',
    env: { ...d.env, ...(opts.env ?? {}) },
    input: opts.input,
    timeout: 120000,
  });
  return { stdout: r.stdout ?? '', stderr: r.stderr ?? '', status: r.status };
}
export const berth = (args: string[], o?: { input?: string; env?: NodeJS.ProcessEnv }) => runCli(BERTH, args, o);
export const docker = (args: string[], o?: { input?: string; env?: NodeJS.ProcessEnv }) => runCli(DOCKER, args, o);

/** Ids, relative times and the program name made comparable. */
export function normalise(s: string, fromDocker: boolean): string {
  let t = s;
  if (fromDocker) t = t.replace(/\bdocker\b(?![.-]| daemon)/g, 'berth');
  t = t
    .replace(/\b[0-9a-f]{64}\b/g, '<ID>')
    .replace(/\b[0-9a-f]{12}\b/g, '<SID>')
    .replace(
      /(Less than a second|About a minute|About an hour|\d+ (seconds?|minutes?|hours?|days?|weeks?|months?|years?))( ago)?/g,
      '<T>$3',
    )
    .replace(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4} \w+/g, '<DATE>')
    .replace(/ {2,}/g, '  ');
  return t;
}

export function ok(r: Out): Out {
  assert.equal(r.status, 0, `exit ${r.status}: ${r.stderr}`);
  return r;
}

/** Run through both; assert the same normalised outputs and status. */
export function same(args: string[], o: { input?: string; env?: NodeJS.ProcessEnv; sortLines?: boolean } = {}): Out {
  const b = berth(args, o);
  const k = docker(args, o);
  const label = `berth ${args.join(' ')}`;
  const lines = (s: string) => (o.sortLines ? s.split('\n').sort().join('\n') : s);
  assert.equal(b.status, k.status, `${label}: exit status (berth stderr: ${b.stderr}; docker stderr: ${k.stderr})`);
  assert.equal(lines(normalise(b.stdout, false)), lines(normalise(k.stdout, true)), `${label}: stdout`);
  assert.equal(normalise(b.stderr, false), normalise(k.stderr, true), `${label}: stderr`);
  return b;
}

/** A daemon started by someone else: its own temp config dir, nothing to stop but that. */
function externalDaemon(host: string): Dockerd {
  const dir = mkdtempSync(join('/tmp', 'berth-cli-ext-'));
  mkdirSync(join(dir, 'config'));
  const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: host, DOCKER_CONFIG: join(dir, 'config') };
  delete env.DOCKER_CONTEXT;
  const docker = (a: string[], o: { timeout?: number; input?: string } = {}) =>
    spawnSync(DOCKER, a, { encoding: 'utf8', timeout: o.timeout ?? 60000, input: o.input, env });
  return {
    dir,
    sock: host.replace(/^unix:\/\//, ''),
    logFile: '',
    cgroupParent: '',
    proc: undefined as unknown as Dockerd['proc'],
    docker,
    dockerArgv: (a) => [DOCKER, ...a],
    env,
    logTail: () => '',
    stop: async () => {
      const ids =
        docker(['ps', '-aq', '--filter', `name=${SUFFIX}`])
          .stdout?.split('\n')
          .filter(Boolean) ?? [];
      if (ids.length) docker(['rm', '-f', ...ids]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
