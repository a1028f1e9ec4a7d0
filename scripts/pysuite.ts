// docker-py's own integration suite (tests/integration of a docker-py
// checkout the caller supplies; nothing here fetches it) run against berthd on
// bin/berth-engine and against Debian's dockerd 20.10 on its own temp roots,
// the same pytest selection on both, and a table of where they differ. Both
// daemons get the suite's images (alpine:3.10, alpine:latest, busybox:latest)
// as tags of the busybox image test/helpers/registry.ts builds, pulled from a
// local registry (dockerd loads them from a docker-archive skopeo writes):
// nothing comes from the internet. Each daemon runs in a network namespace of
// its own with its default bridge on (berthd reaching the registry through a
// relay; dockerd with --iptables=false), so the suite's networks, bridges and
// published ports never touch the host's. A hand-run tool, not a test.
//
//   sudo node --import tsx scripts/pysuite.ts --tests DIR [--api 1.41] [--only berthd|dockerd]
//        [--serve] [--out DIR] [-- PYTEST ARGS]
//
// --serve starts the daemons, prints their DOCKER_HOST lines and waits; SIGHUP
// restarts berthd on a fresh build (its state kept), SIGINT stops everything.

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { startBerthd, type Berthd } from '../test/helpers/berthd.js';
import { startDockerd, type Dockerd } from '../test/helpers/daemons.js';
import { startRegistry, type RegistryInstance } from '../test/helpers/registry.js';
import { seedImage } from '../test/helpers/seed-registry.js';
import { startEngine, type Engine } from '../test/integration/engine/helpers.js';

const argv = process.argv.slice(2);
const dashdash = argv.indexOf('--');
const own = dashdash < 0 ? argv : argv.slice(0, dashdash);
const pytestExtra = dashdash < 0 ? [] : argv.slice(dashdash + 1);
const flag = (name: string) => (own.includes(name) ? own[own.indexOf(name) + 1] : undefined);
const testsDir = flag('--tests');
if (!testsDir) {
  console.error('usage: scripts/pysuite.ts --tests DOCKER_PY_CHECKOUT [--api V] [--only S] [--serve] [-- ARGS]');
  process.exit(2);
}
const api = flag('--api') ?? '1.41';
const only = flag('--only');
// pytest's output and junit xml of each daemon stay here for reading.
const outDir = resolve(flag('--out') ?? '/tmp/pysuite-out');
mkdirSync(outDir, { recursive: true });

// The tests that need what neither daemon here has (swarm, plugins, builds,
// Docker Hub, a registry with auth) are left out on both sides alike.
const DESELECT_FILES = [
  'api_build_test.py',
  'api_plugin_test.py',
  'api_secret_test.py',
  'api_config_test.py',
  'api_service_test.py',
  'api_swarm_test.py',
  'models_nodes_test.py',
  'models_services_test.py',
  'models_swarm_test.py',
  // Client-side only: the credential helpers need a docker-credential-* on
  // PATH, and utils_test.py replaces os.environ for good (the DOCKER_HOST of
  // every later test is lost; upstream's CI has a /var/run/docker.sock).
  'credentials',
];
const DESELECT_K = [
  'pull',
  'build',
  'login',
  'swarm',
  'plugin',
  'test_prune_images',
  'test_get_load_image',
  'test_inspect_distribution',
  'test_443_handle_nonchunked',
  // these three make a swarm first
  'test_create_network_attachable',
  'test_create_network_ingress',
  'test_create_inspect_network_with_scope',
].map((k) => `not ${k}`);
const SUITE_IMAGES = ['alpine:3.10', 'alpine:latest', 'busybox:latest'];

interface Target {
  name: string;
  sock: string;
  docker(args: string[]): { status: number | null; stderr: string };
}

function tagImages(t: Target, src: string): void {
  for (const args of [['pull', '-q', src], ...SUITE_IMAGES.map((ref) => ['tag', src, ref])]) {
    const r = t.docker(args);
    if (r.status !== 0) throw new Error(`${t.name}: docker ${args.join(' ')}: ${r.stderr}`);
  }
}

/** The suite's images as one docker-archive tar (for a daemon that cannot reach the registry). */
function archiveImages(src: string, tar: string): void {
  const [first, ...more] = SUITE_IMAGES;
  const policy = join(outDir, 'policy.json');
  writeFileSync(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  const extra = more.flatMap((ref) => ['--additional-tag', ref]);
  rmSync(tar, { force: true });
  execFileSync('skopeo', [
    '--policy',
    policy,
    'copy',
    '-q',
    '--src-tls-verify=false',
    ...extra,
    `docker://${src}`,
    `docker-archive:${tar}:${first}`,
  ]);
}

/** pytest over the suite against one daemon: test id to outcome. */
function runSuite(t: Target): Map<string, string> {
  const xml = join(outDir, `${t.name}.xml`);
  const ignores = DESELECT_FILES.map((f) => `--ignore=tests/integration/${f}`);
  const args = ['-m', 'pytest', 'tests/integration', ...ignores, '-k', DESELECT_K.join(' and ')];
  args.push('-p', 'no:cacheprovider', '--timeout', '120', `--junitxml=${xml}`, '-q', ...pytestExtra);
  // A HOME of its own: the context tests write ~/.docker/contexts.
  const home = join(outDir, `home-${t.name}`);
  mkdirSync(home, { recursive: true });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: home,
    DOCKER_HOST: `unix://${t.sock}`,
    DOCKER_TEST_API_VERSION: api,
  };
  delete env.DOCKER_CONTEXT;
  delete env.DOCKER_CERT_PATH;
  delete env.DOCKER_TLS_VERIFY;
  const started = Date.now();
  const r = spawnSync('python3', args, { cwd: resolve(testsDir!), env, encoding: 'utf8', maxBuffer: 1 << 28 });
  console.log(`--- ${t.name}: pytest exit ${r.status} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  writeFileSync(join(outDir, `${t.name}.txt`), r.stdout + r.stderr);
  console.log(r.stdout.split('\n').slice(-3).join('\n'));
  return outcomes(readFileSync(xml, 'utf8'));
}

/** The outcome of each testcase in a junit xml file: passed, failed, error or skipped. */
function outcomes(xml: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /<testcase classname="([^"]*)" name="([^"]*)"[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g;
  for (const m of xml.matchAll(re)) {
    const body = m[4] ?? '';
    const kind = /<(failure|error|skipped)\b/.exec(body)?.[1] ?? 'passed';
    out.set(`${m[1]}::${m[2]}`, kind === 'failure' ? 'failed' : kind);
  }
  return out;
}

function report(results: Map<string, Map<string, string>>): void {
  const names = [...results.keys()];
  const ids = new Set<string>();
  for (const r of results.values()) for (const id of r.keys()) ids.add(id);
  for (const n of names) {
    const r = results.get(n)!;
    const count = (k: string) => [...r.values()].filter((v) => v === k).length;
    console.log(
      `${n}: ${r.size} run, ${count('passed')} passed, ${count('failed') + count('error')} failed, ${count('skipped')} skipped`,
    );
  }
  if (names.length < 2) return;
  const [a, b] = names as [string, string];
  console.log(`\npassed on ${b}, not on ${a}:`);
  for (const id of [...ids].sort())
    if (results.get(b)!.get(id) === 'passed' && results.get(a)!.get(id) !== 'passed')
      console.log(`  ${id}: ${results.get(a)!.get(id) ?? 'absent'}`);
  console.log(`\npassed on ${a}, not on ${b}:`);
  for (const id of [...ids].sort())
    if (results.get(a)!.get(id) === 'passed' && results.get(b)!.get(id) !== 'passed')
      console.log(`  ${id}: ${results.get(b)!.get(id) ?? 'absent'}`);
}

const stops: (() => Promise<void>)[] = [];
const stopAll = async () => {
  for (const s of stops.splice(0).reverse()) await s().catch((e: unknown) => console.error(e));
};
try {
  const reg: RegistryInstance = await startRegistry();
  stops.push(() => reg.stop());
  seedImage(reg.host, 'berth/busybox:latest');
  const src = `${reg.host}/berth/busybox:latest`;
  const targets: Target[] = [];
  let b: Berthd | undefined;
  if (only !== 'dockerd') {
    const engine: Engine = await startEngine('pysuite-eng-');
    stops.push(() => engine.stop());
    b = await startBerthd(engine.sock, {
      namespace: `pysuite-${process.pid}`,
      netns: true,
      relayPorts: [reg.port],
    });
    stops.push(() => b!.stop());
    targets.push({ name: 'berthd', sock: b.sock, docker: (a) => b!.docker(a) });
  }
  if (only !== 'berthd') {
    const ns = `pysuite-dkd-${process.pid}`;
    execFileSync('ip', ['netns', 'add', ns]);
    stops.push(async () => void spawnSync('ip', ['netns', 'del', ns]));
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    const d: Dockerd = await startDockerd({
      runtimes: {},
      prefix: 'pysuite-dkd-',
      netnsPath: `/run/netns/${ns}`,
      bridge: '',
    });
    stops.push(() => d.stop());
    const tar = join(outDir, 'images.tar');
    archiveImages(src, tar);
    const r = d.docker(['load', '-q', '-i', tar]);
    if (r.status !== 0) throw new Error(`dockerd: docker load: ${r.stderr}`);
    targets.push({ name: 'dockerd', sock: d.sock, docker: (a) => d.docker(a) });
  }
  if (b) tagImages(targets[0]!, src);
  if (own.includes('--serve')) {
    for (const t of targets) console.log(`${t.name}: DOCKER_HOST=unix://${t.sock}`);
    if (b) console.log(`berthd log: ${b.logFile}`);
    await new Promise<void>((res) => {
      process.on('SIGINT', () => res());
      process.on('SIGTERM', () => res());
      process.on('SIGHUP', () => {
        const restart = async () => {
          await b?.kill9();
          await b?.start();
        };
        restart().then(
          () => console.log('berthd restarted'),
          (e: unknown) => console.error('berthd restart failed', e),
        );
      });
    });
  } else {
    const results = new Map<string, Map<string, string>>();
    for (const t of targets) results.set(t.name, runSuite(t));
    console.log(
      `\nAPI ${api}; load average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
    );
    report(results);
  }
} finally {
  await stopAll();
}
