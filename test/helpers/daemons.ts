// Real containerd and dockerd, each on its own temporary root and unix
// socket, for the drop-in tests of berth-runc. Everything they make lives
// under one temp directory; `stop()` ends the daemon, any shim it left,
// unmounts what is mounted under that directory, removes the cgroups made for
// the test and the directory itself.

import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  rmdirSync,
  writeFileSync,
  accessSync,
  constants as fsc,
} from 'node:fs';
import { createHash } from 'node:crypto';
import { delimiter, join } from 'node:path';
import { sleep, waitUntil } from './wait.js';

/** The absolute path of `bin` on $PATH, or undefined. */
export function which(bin: string): string | undefined {
  for (const d of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter)) {
    const p = join(d, bin);
    try {
      accessSync(p, fsc.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

export { sleep, waitUntil };

/** Mount points at or under `dir`, deepest first. */
export function mountsUnder(dir: string): string[] {
  const out: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mp = line.split(' ')[4];
    if (!mp) continue;
    const path = mp.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (path === dir || path.startsWith(dir + '/')) out.push(path);
  }
  return [...new Set(out)].sort((a, b) => b.length - a.length);
}

export function unmountUnder(dir: string): void {
  for (const mp of mountsUnder(dir)) {
    if (spawnSync('umount', ['-R', mp]).status !== 0) spawnSync('umount', ['-l', mp]);
  }
}

/** Pids of processes whose command line contains `needle` (other than us). */
export function pidsWithArg(needle: string): number[] {
  const out: number[] = [];
  for (const n of readdirSync('/proc')) {
    if (!/^\d+$/.test(n) || Number(n) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${n}/cmdline`, 'utf8').includes(needle)) out.push(Number(n));
    } catch {
      /* gone */
    }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3);
    return state !== 'Z';
  } catch {
    return false;
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
export async function terminate(pid: number, graceMs = 10000): Promise<void> {
  if (!alive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const end = Date.now() + graceMs;
  while (alive(pid) && Date.now() < end) await sleep(50);
  if (alive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    while (alive(pid)) await sleep(20);
  }
}

/** Pids in the cgroup `dir` and every cgroup below it. */
function cgroupPids(dir: string): number[] {
  const out: number[] = [];
  try {
    out.push(...readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number));
    for (const e of readdirSync(dir, { withFileTypes: true }))
      if (e.isDirectory()) out.push(...cgroupPids(join(dir, e.name)));
  } catch {
    /* gone */
  }
  return out;
}

/**
 * Remove the cgroup `rel` (and those below it) in every hierarchy. Processes
 * still in it are ended first: the test made that cgroup for its own
 * containers, and a container outlives a killed shim.
 */
export async function removeCgroup(rel: string): Promise<void> {
  const base = '/sys/fs/cgroup';
  const hierarchies = existsSync(join(base, 'cgroup.controllers'))
    ? [base]
    : readdirSync(base).map((d) => join(base, d));
  for (let round = 0; round < 100; round++) {
    const pids = new Set(hierarchies.flatMap((h) => cgroupPids(join(h, rel))));
    if (pids.size === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await sleep(20);
  }
  const rmTree = (dir: string) => {
    let entries: string[];
    try {
      entries = readdirSync(dir, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
    } catch {
      return;
    }
    for (const e of entries) rmTree(join(dir, e));
    try {
      rmdirSync(dir);
    } catch {
      /* busy or gone: reported by the test that left it */
    }
  };
  for (const h of hierarchies) {
    const p = join(h, rel);
    if (existsSync(p)) rmTree(p);
  }
}

/** The last `n` lines of a daemon's log ('' while there is none). */
function lastLines(file: string, n: number): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-n).join('\n');
  } catch {
    return '';
  }
}

function spawnLogged(bin: string, args: string[], log: string, env?: NodeJS.ProcessEnv): ChildProcess {
  const fd = openSync(log, 'a');
  try {
    return spawn(bin, args, { stdio: ['ignore', fd, fd], env: env ?? process.env });
  } finally {
    closeSync(fd);
  }
}

// ---------------------------------------------------------------- containerd

/** The socket file of a runc v2 shim, from its command line (containerd 1.6's naming). */
function shimSocketOf(pid: number): string | undefined {
  let argv: string[];
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return undefined;
  }
  const arg = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const [address, ns, id] = [arg('-address'), arg('-namespace'), arg('-id')];
  if (!address || !ns || !id) return undefined;
  return join(
    '/run/containerd/s',
    createHash('sha256')
      .update(join(address, ns, id))
      .digest('hex'),
  );
}

export interface Containerd {
  dir: string;
  sock: string;
  /** containerd's own log (debug level). */
  logFile: string;
  namespace: string;
  proc: ChildProcess;
  /** `ctr -a SOCK -n NS args...` */
  ctr(args: string[], opts?: { timeout?: number; input?: string }): SpawnSyncReturns<string>;
  /** The tail of containerd's log, for assertion messages. */
  logTail(lines?: number): string;
  stop(): Promise<void>;
}

export async function startContainerd(opts: { prefix?: string; namespace?: string } = {}): Promise<Containerd> {
  // /tmp, not a long TMPDIR: unix socket paths are limited to 107 bytes.
  const dir = mkdtempSync(join('/tmp', opts.prefix ?? 'berth-ctrd-'));
  const sock = join(dir, 'containerd.sock');
  const logFile = join(dir, 'containerd.log');
  const namespace = opts.namespace ?? `berth-${process.pid}`;
  // Only what ctr needs: content, snapshots (overlayfs, native), metadata,
  // tasks with the runc v2 shim. No CRI, no network, no tracing, no metrics.
  const config = `version = 2
root = "${dir}/root"
state = "${dir}/state"
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.internal.v1.tracing",
  "io.containerd.tracing.processor.v1.otlp",
]

[grpc]
  address = "${sock}"

[ttrpc]
  address = "${sock}.ttrpc"

[debug]
  address = ""
  level = "debug"

[metrics]
  address = ""
`;
  writeFileSync(join(dir, 'config.toml'), config);
  const proc = spawnLogged('containerd', ['--config', join(dir, 'config.toml')], logFile);
  const ctr = (args: string[], o: { timeout?: number; input?: string } = {}) =>
    spawnSync('ctr', ['-a', sock, '-n', namespace, ...args], {
      encoding: 'utf8',
      timeout: o.timeout ?? 30000,
      input: o.input,
    });
  const logTail = (n = 40) => lastLines(logFile, n);

  const stop = async () => {
    // Tasks and containers first, so that each shim exits on its own.
    if (proc.exitCode === null && existsSync(sock)) {
      const names = ctr(['containers', 'ls', '-q'], { timeout: 20000 }).stdout?.split('\n').filter(Boolean) ?? [];
      for (const id of names) {
        ctr(['tasks', 'kill', '-s', 'SIGKILL', id], { timeout: 20000 });
        ctr(['tasks', 'delete', '--force', id], { timeout: 20000 });
        ctr(['containers', 'delete', id], { timeout: 20000 });
      }
      for (const img of ctr(['images', 'ls', '-q'], { timeout: 20000 }).stdout?.split('\n').filter(Boolean) ?? []) {
        ctr(['images', 'rm', '--sync', img], { timeout: 20000 });
      }
    }
    if (proc.pid) await terminate(proc.pid);
    // A shim that outlived its containerd knows the address: end those, and
    // remove the socket it keeps under /run/containerd/s (named by the hash
    // of address/namespace/id), which a killed shim leaves behind.
    for (const pid of pidsWithArg(sock)) {
      const sockFile = shimSocketOf(pid);
      await terminate(pid, 2000);
      if (sockFile) rmSync(sockFile, { force: true });
    }
    unmountUnder(dir);
    await removeCgroup(namespace);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await waitUntil('containerd to serve', () => {
      if (proc.exitCode !== null) throw new Error(`containerd exited with ${proc.exitCode}:\n${logTail()}`);
      return existsSync(sock) && ctr(['version'], { timeout: 5000 }).status === 0;
    });
  } catch (e) {
    await stop();
    throw e;
  }
  return { dir, sock, logFile, namespace, proc, ctr, logTail, stop };
}

// ---------------------------------------------------------------- dockerd

export interface Dockerd {
  dir: string;
  sock: string;
  logFile: string;
  /** The cgroup parent of every container, made for this daemon. */
  cgroupParent: string;
  proc: ChildProcess;
  /** The docker CLI (Debian's, the daemon's own version) against this daemon. */
  docker(args: string[], opts?: { timeout?: number; input?: string }): SpawnSyncReturns<string>;
  dockerArgv(args: string[]): string[];
  env: NodeJS.ProcessEnv;
  logTail(lines?: number): string;
  stop(): Promise<void>;
}

/** Debian's docker CLI matches its dockerd; another one on $PATH may be newer. */
export function dockerCli(): string | undefined {
  return existsSync('/usr/bin/docker') ? '/usr/bin/docker' : which('docker');
}

export async function startDockerd(opts: {
  runtimes: Record<string, string>;
  storageDriver?: string;
  prefix?: string;
  /** A network namespace (path) dockerd runs in, so its bridges and rules go with it; with it, `bridge` may be on. */
  netnsPath?: string;
  /** `--bridge` (default none: no docker0 in the host's namespace). */
  bridge?: string;
  /** A containerd (or berth-engine) socket to use instead of the containerd dockerd starts. */
  containerd?: string;
  liveRestore?: boolean;
}): Promise<Dockerd & { restart(): Promise<void> }> {
  const dir = mkdtempSync(join('/tmp', opts.prefix ?? 'berth-dkd-'));
  const sock = join(dir, 'docker.sock');
  const logFile = join(dir, 'dockerd.log');
  const cgroupParent = `berth-dockerd-${process.pid}`;
  mkdirSync(join(dir, 'config'));
  // An empty daemon.json of our own: the host's /etc/docker/daemon.json does not apply.
  writeFileSync(join(dir, 'daemon.json'), '{}\n');
  const args = [
    '--config-file',
    join(dir, 'daemon.json'),
    '--data-root',
    join(dir, 'data'),
    '--exec-root',
    join(dir, 'exec'),
    '--pidfile',
    join(dir, 'dockerd.pid'),
    '-H',
    `unix://${sock}`,
    '--iptables=false',
    '--ip6tables=false',
    '--ip-masq=false',
    `--bridge=${opts.bridge ?? 'none'}`,
    '--storage-driver',
    opts.storageDriver ?? 'overlay2',
    '--cgroup-parent',
    `/${cgroupParent}`,
    '--log-level',
    'debug',
    ...Object.entries(opts.runtimes).flatMap(([name, path]) => ['--add-runtime', `${name}=${path}`]),
    ...(opts.containerd ? ['--containerd', opts.containerd] : []),
    ...(opts.liveRestore ? ['--live-restore'] : []),
  ];
  // In a namespace: nsenter execs dockerd, so the pid is dockerd's.
  const launch = () =>
    opts.netnsPath
      ? spawnLogged('nsenter', [`--net=${opts.netnsPath}`, 'dockerd', ...args], logFile)
      : spawnLogged('dockerd', args, logFile);
  let proc = launch();
  const cli = dockerCli() ?? 'docker';
  const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: join(dir, 'config') };
  delete env.DOCKER_CONTEXT;
  const docker = (a: string[], o: { timeout?: number; input?: string } = {}) =>
    spawnSync(cli, a, { encoding: 'utf8', timeout: o.timeout ?? 60000, input: o.input, env });
  const logTail = (n = 40) => lastLines(logFile, n);

  const stop = async () => {
    if (proc.exitCode === null && existsSync(sock)) {
      const ids = docker(['ps', '-aq'], { timeout: 20000 }).stdout?.split('\n').filter(Boolean) ?? [];
      if (ids.length) docker(['rm', '-f', ...ids], { timeout: 60000 });
    }
    // dockerd stops the containerd it started when it exits.
    if (proc.pid) await terminate(proc.pid, 20000);
    const ctrdPid = join(dir, 'exec/containerd/containerd.pid');
    if (existsSync(ctrdPid)) {
      const pid = Number(readFileSync(ctrdPid, 'utf8').trim());
      if (pid > 0 && pidsWithArg(dir).includes(pid)) await terminate(pid);
    }
    // Anything still running from our directory (shims, a stray containerd).
    for (const pid of pidsWithArg(dir)) await terminate(pid, 2000);
    unmountUnder(dir);
    await removeCgroup(cgroupParent);
    rmSync(dir, { recursive: true, force: true });
  };

  const serving = () =>
    waitUntil(
      'dockerd to serve',
      () => {
        if (proc.exitCode !== null) throw new Error(`dockerd exited with ${proc.exitCode}:\n${logTail()}`);
        return (
          existsSync(sock) && docker(['version', '--format', '{{.Server.Version}}'], { timeout: 5000 }).status === 0
        );
      },
      60000,
      200,
    );
  try {
    await serving();
  } catch (e) {
    await stop();
    throw e;
  }
  // restart(): dockerd stopped (SIGTERM) and started again on the same
  // directories; with liveRestore its containers run on meanwhile.
  const d = {
    dir,
    sock,
    logFile,
    cgroupParent,
    proc,
    docker,
    dockerArgv: (a: string[]) => [cli, ...a],
    env,
    logTail,
    restart: async () => {
      if (proc.pid) await terminate(proc.pid, 20000);
      proc = d.proc = launch();
      await serving();
    },
    stop,
  };
  return d;
}
