// Shared by the berth CLI tests: one real daemon per file (dockerd, or
// berthd on berth-engine) on a temporary root and socket with a busybox image
// made on the spot, and the comparison of one command run through berth and
// through the docker 28 CLI (stdout, stderr, status) after ids, relative
// times and the program name are normalised.

import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { spawnSync, execSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { isRoot, REPO } from '../../helpers/runtime.js';
import { haveBusybox, makeBundleDir } from '../../helpers/busybox.js';
import { startDockerd, which, type Dockerd } from '../../helpers/daemons.js';
import { startBerthd } from '../../helpers/berthd.js';
import { registryMissing, startRegistry } from '../../helpers/registry.js';
import { seedImage } from '../../helpers/seed-registry.js';
import { ENGINE_BIN, startEngine } from '../engine/helpers.js';

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

/** berthd also needs berth-engine below it, and a registry to pull busybox from (it has no `import` yet). */
export const skipBerthd: string | false =
  skip ||
  registryMissing ||
  (!existsSync(ENGINE_BIN) ? 'bin/berth-engine is not built' : false) ||
  (!which('skopeo') ? 'needs skopeo (to seed the registry)' : false);

export type Target = 'dockerd' | 'berthd';

let d: Dockerd;

/**
 * The daemon for this file, with busybox:latest in it: a dockerd (the image
 * `docker import`ed), or berthd on berth-engine (the image pulled from a
 * local registry, then tagged). With BERTH_CLI_TEST_HOST=unix:///path.sock
 * the dockerd tests run against that daemon instead; it is not stopped at
 * the end.
 */
export async function startDaemon(target: Target = 'dockerd'): Promise<Dockerd> {
  const other = process.env.BERTH_CLI_TEST_HOST;
  if (target === 'berthd') {
    d = await berthdOnEngine();
    return d;
  }
  d = other ? externalDaemon(other) : await startDockerd({ runtimes: {}, prefix: 'berth-cli-' });
  const bb = makeBundleDir('berth-cli-bb-');
  try {
    execSync(`tar -C ${bb.rootfs} -c . | ${DOCKER} import - ${IMAGE}`, { env: d.env, stdio: 'ignore' });
  } finally {
    bb.cleanup();
  }
  return d;
}

/** berth-engine, a registry holding busybox, and berthd on the engine; one stop() for the three. */
async function berthdOnEngine(): Promise<Dockerd> {
  const engine = await startEngine('berth-cli-eng-');
  const parts: { stop(): Promise<void> }[] = [engine];
  const stopAll = async () => {
    for (const p of parts.reverse()) await p.stop();
  };
  try {
    const reg = await startRegistry();
    parts.push(reg);
    const remote = `${reg.host}/berth/busybox:latest`;
    seedImage(reg.host, 'berth/busybox:latest');
    const b = await startBerthd(engine.sock, { namespace: `berth-cli-${process.pid}` });
    parts.push(b);
    b.ok(['pull', '-q', remote], { timeout: 120000 });
    b.ok(['tag', remote, IMAGE]);
    b.ok(['rmi', remote]);
    const docker = (a: string[], o: { timeout?: number; input?: string } = {}) => b.docker(a, o);
    return {
      dir: b.dir,
      sock: b.sock,
      logFile: b.logFile,
      cgroupParent: '',
      proc: b.proc(),
      docker,
      dockerArgv: (a) => [DOCKER, ...a],
      env: b.env,
      logTail: (n) => b.logTail(n),
      stop: stopAll,
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
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
  // Not in the daemon's own words: "may require 'docker login'" is the same text for both CLIs.
  if (fromDocker) t = t.replace(/\bdocker\b(?![.-]| daemon| login')/g, 'berth');
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

/**
 * What berthd does not do yet, step by step: key -> the reason (and the
 * branch or issue it waits for). A step named here must still FAIL on
 * berthd: once it passes, the test says to drop the entry, so the table never
 * hides a case that can no longer fail.
 */
export type Pending = Readonly<Record<string, string>>;

let target: Target = 'dockerd';
let pending: Pending = {};
const seen = new Set<string>();

export function setTarget(t: Target, p: Pending = {}): void {
  target = t;
  pending = p;
  seen.clear();
}

/**
 * One step of a case. On dockerd (and on berthd when the key is not in the
 * pending table) it simply runs. On berthd with a pending entry it must throw;
 * what it threw is returned so the caller can show it in the test's output.
 */
export function step(key: string, fn: () => void): string | undefined {
  if (target !== 'berthd' || !(key in pending)) {
    fn();
    return undefined;
  }
  seen.add(key);
  try {
    fn();
  } catch (e) {
    return `pending on berthd: ${key} (${pending[key]}): ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`;
  }
  throw new assert.AssertionError({
    message: `"${key}" now passes on berthd: drop its entry from the pending table (was: ${pending[key]})`,
  });
}

/** `step` for an async step (a terminal driven by driveTty). */
export async function stepAsync(key: string, fn: () => Promise<void>): Promise<string | undefined> {
  if (target !== 'berthd' || !(key in pending)) {
    await fn();
    return undefined;
  }
  seen.add(key);
  try {
    await fn();
  } catch (e) {
    return `pending on berthd: ${key} (${pending[key]}): ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`;
  }
  throw new assert.AssertionError({
    message: `"${key}" now passes on berthd: drop its entry from the pending table (was: ${pending[key]})`,
  });
}

/** Pending entries no step visited: stale keys (a renamed step) are errors too. */
export function unvisitedPending(): string[] {
  return Object.keys(pending).filter((k) => !seen.has(k));
}

/** A step berthd may still have pending (`step`): its failure shown as the test's diagnostic. */
export function pend(t: TestContext, key: string, fn: () => void): void {
  const m = step(key, fn);
  if (m) t.diagnostic(m);
}

/** What the case modules of the comparison suite get: the target and its daemon (started in `before`). */
export interface CompatSuite {
  target: Target;
  daemon(): Dockerd;
}

/** The storage driver each daemon reports: dockerd's graph driver, berthd's snapshotter. */
export const DRIVER: Record<Target, string> = { dockerd: 'overlay2', berthd: 'overlayfs' };
