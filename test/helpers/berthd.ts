// berthd for the tests: bin/berthd on a temp data root, exec root and
// socket, against a containerd the test started; the docker CLI pointed at
// it; kill -9 and restart for the live-restore tests; stop() removes
// everything berthd made (containers first, through its own API).

import { execFileSync, spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeCgroup, terminate, unmountUnder, waitUntil } from './daemons.js';

export const BERTHD_BIN = join(import.meta.dirname, '../../bin/berthd');
export const DOCKER_28 = '/usr/local/bin/docker';
export const DOCKER_20 = '/usr/bin/docker';

export interface Berthd {
  dir: string;
  /** berthd's flags; a test may change them before start() (a restart with other settings). */
  args: string[];
  sock: string;
  logFile: string;
  namespace: string;
  env: NodeJS.ProcessEnv;
  proc(): ChildProcess;
  docker(args: string[], opts?: { timeout?: number; input?: string; cli?: string }): SpawnSyncReturns<string>;
  /** docker that must succeed: its stdout. */
  ok(args: string[], opts?: { timeout?: number; input?: string; cli?: string }): string;
  logTail(lines?: number): string;
  /** berthd's network namespace (with `netns`): name for `ip -n`, path for `nsenter --net=`. */
  netns?: { name: string; path: string };
  kill9(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface BerthdOptions {
  namespace?: string;
  /**
   * Run berthd (and so its bridges, iptables rules and ip_forward) in a
   * network namespace the helper makes, with the default bridge on. Without
   * it berthd runs in the host's namespace with --bridge none, --iptables
   * false and --ip-forward false: it touches no link, rule or sysctl.
   */
  netns?: boolean;
  /** Host TCP ports on 127.0.0.1 berthd must reach from its namespace (the registry): relayed through a unix socket. */
  relayPorts?: number[];
  /** More berthd flags. */
  args?: string[];
  /** Run in the new network namespace before berthd starts (e.g. a route berthd must steer clear of). */
  prepare?: (ns: { name: string; path: string }) => void;
  /** Another build than bin/berthd: the command and its first arguments (e.g. node and bin/berthd.js). */
  command?: string[];
  /** More environment for berthd. */
  env?: NodeJS.ProcessEnv;
}

export async function startBerthd(containerdSock: string, opts: BerthdOptions = {}): Promise<Berthd> {
  const dir = mkdtempSync('/tmp/berthd-t-');
  const sock = join(dir, 'berthd.sock');
  const logFile = join(dir, 'berthd.log');
  const namespace = opts.namespace ?? `berthd-test-${process.pid}`;
  mkdirSync(join(dir, 'cli'));
  writeFileSync(join(dir, 'daemon.json'), JSON.stringify({ 'containerd-namespace': namespace, 'log-level': 'debug' }));
  const args = [
    '--config-file',
    join(dir, 'daemon.json'),
    '--containerd',
    containerdSock,
    '--data-root',
    join(dir, 'data'),
    '--exec-root',
    join(dir, 'exec'),
    '-H',
    `unix://${sock}`,
    ...(opts.netns ? [] : ['--bridge', 'none', '--iptables=false', '--ip-forward=false']),
    ...(opts.args ?? []),
  ];
  const ns = opts.netns ? makeNetns() : undefined;
  if (ns) opts.prepare?.(ns);
  const relays: ChildProcess[] = [];
  const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: join(dir, 'cli') };
  delete env.DOCKER_CONTEXT;
  let child: ChildProcess | undefined;
  const logTail = (n = 30) => {
    try {
      return readFileSync(logFile, 'utf8').split('\n').slice(-n).join('\n');
    } catch {
      return '';
    }
  };
  const docker = (a: string[], o: { timeout?: number; input?: string; cli?: string } = {}) =>
    spawnSync(o.cli ?? DOCKER_28, a, { encoding: 'utf8', timeout: o.timeout ?? 60000, input: o.input, env });
  const ok = (a: string[], o: { timeout?: number; input?: string; cli?: string } = {}) => {
    const r = docker(a, o);
    if (r.status !== 0)
      throw new Error(`docker ${a.join(' ')} exited ${r.status}: ${r.stderr}\n--- berthd log:\n${logTail()}`);
    return r.stdout;
  };
  const start = async () => {
    rmSync(sock, { force: true });
    const fd = openSync(logFile, 'a');
    // $BERTHD_COMMAND runs every suite on another build ("node bin/berthd.js").
    const [exe, ...pre] = opts.command ?? process.env.BERTHD_COMMAND?.split(' ') ?? [BERTHD_BIN];
    const spawnOpts = { stdio: ['ignore', fd, fd] as ['ignore', number, number], env: { ...process.env, ...opts.env } };
    child = ns
      ? spawn('nsenter', [`--net=${ns.path}`, exe!, ...pre, ...args], spawnOpts)
      : spawn(exe!, [...pre, ...args], spawnOpts);
    closeSync(fd);
    const c = child;
    await waitUntil(
      'berthd to serve',
      () => {
        if (c.exitCode !== null) throw new Error(`berthd exited with ${c.exitCode}:\n${logTail()}`);
        return (
          existsSync(sock) && docker(['version', '--format', '{{.Server.Version}}'], { timeout: 5000 }).status === 0
        );
      },
      30000,
      100,
    );
  };
  const kill9 = async () => {
    const c = child!;
    const gone = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await gone;
  };
  const stop = async () => {
    if (child && child.exitCode === null && existsSync(sock)) {
      const ids = docker(['ps', '-aq'], { timeout: 20000 }).stdout?.split('\n').filter(Boolean) ?? [];
      if (ids.length) docker(['rm', '-f', ...ids], { timeout: 60000 });
      const vols = docker(['volume', 'ls', '-q'], { timeout: 20000 }).stdout?.split('\n').filter(Boolean) ?? [];
      if (vols.length) docker(['volume', 'rm', '-f', ...vols], { timeout: 60000 });
    }
    if (child?.pid) await terminate(child.pid);
    for (const r of relays) if (r.pid && r.exitCode === null) await terminate(r.pid);
    if (ns) spawnSync('ip', ['netns', 'del', ns.name]);
    unmountUnder(dir);
    await removeCgroup(namespace);
    rmSync(dir, { recursive: true, force: true });
  };
  const b: Berthd = {
    dir,
    args,
    sock,
    logFile,
    namespace,
    env,
    netns: ns,
    proc: () => child!,
    docker,
    ok,
    logTail,
    kill9,
    start,
    stop,
  };
  try {
    if (ns)
      for (const p of opts.relayPorts ?? []) relays.push(...(await relay(ns.path, p, join(dir, `relay-${p}.sock`))));
    await start();
  } catch (e) {
    await stop();
    throw e;
  }
  return b;
}

const RELAY = join(import.meta.dirname, 'netns-relay.mjs');

function makeNetns(): { name: string; path: string } {
  const name = `berthd-t-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  execFileSync('ip', ['netns', 'add', name]);
  execFileSync('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  return { name, path: `/run/netns/${name}` };
}

/** 127.0.0.1:port of the host seen at 127.0.0.1:port inside the namespace: two relays joined by a unix socket. */
async function relay(nsPath: string, port: number, sockPath: string): Promise<ChildProcess[]> {
  const ready = (c: ChildProcess) =>
    new Promise<void>((res, rej) => {
      c.stdout!.once('data', () => res());
      c.once('exit', (code) => rej(new Error(`relay exited with ${code}`)));
    });
  const host = spawn(process.execPath, [RELAY, 'unix-to-tcp', sockPath, `127.0.0.1:${port}`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await ready(host);
  const inside = spawn(
    'nsenter',
    [`--net=${nsPath}`, process.execPath, RELAY, 'tcp-to-unix', `127.0.0.1:${port}`, sockPath],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  await ready(inside);
  return [host, inside];
}

/** A raw HTTP request to berthd's socket: status, headers and body, for the cases no client sends. */
export async function rawRequest(
  sock: string,
  method: string,
  path: string,
  body?: string | Buffer,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const { request } = await import('node:http');
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath: sock,
        method,
        path,
        headers: {
          ...(body !== undefined
            ? { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)) }
            : {}),
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    req.on('error', reject);
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

export { spawnSync };

/**
 * `docker events` that already happened: from `since` (Unix seconds) to a
 * second from now, matching every filter, each printed as `format` (the CLI's
 * default line without one).
 */
export function pastEvents(b: Berthd, since: number | string, filters: string[], format?: string): string {
  const until = String(Math.floor(Date.now() / 1000) + 1);
  return b.ok([
    'events',
    '--since',
    String(since),
    '--until',
    until,
    ...filters.flatMap((f) => ['--filter', f]),
    ...(format === undefined ? [] : ['--format', format]),
  ]);
}
