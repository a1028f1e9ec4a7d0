// Drives native/build/berth-init with hand-built plans, the way the runtime
// will: the plan goes over a socketpair at a chosen descriptor (Node's stdio
// 'pipe' entries are unix socketpairs), and the JSON-line reports come back
// on it.

import { after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type StdioOptions } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Socket } from 'node:net';
import { encodeOp, encodePhase } from '../../../src/runtime/plan/encode.js';
import { Op, type PlanOp, type Report } from '../../../src/runtime/plan/ops.js';
import { makeBundleDir } from '../../helpers/busybox.js';
import { startPeer } from '../../helpers/peer.js';

const repo = process.env.BERTH_ROOT_DIR ?? resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const INIT = join(repo, 'native/build/berth-init');

/** Why these tests cannot run here, or undefined when they can. */
export function skipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (namespaces, mounts, pivot_root)';
  if (!existsSync(INIT)) return `needs ${INIT}: run make -C native`;
  if (!existsSync('/bin/busybox')) return 'needs /bin/busybox (apt-get install busybox-static)';
  return undefined;
}

// Kernel constants the plans use (linux/sched.h, linux/mount.h).
export const CLONE_NEWNS = 0x00020000;
export const CLONE_NEWUTS = 0x04000000;
export const CLONE_NEWIPC = 0x08000000;
export const CLONE_NEWUSER = 0x10000000;
export const CLONE_NEWPID = 0x20000000;
export const CLONE_NEWNET = 0x40000000;
export const MS_RDONLY = 1;
export const MS_NOSUID = 2;
export const MS_NODEV = 4;
export const MS_NOEXEC = 8;
export const MS_REMOUNT = 32;
export const MS_BIND = 4096;
export const MS_REC = 16384;
export const MS_PRIVATE = 1 << 18;
export const S_IFCHR = 0o020000;

export const op = (code: PlanOp['op'], label: string, ...args: (string | number | bigint)[]): PlanOp => ({
  op: code,
  label,
  args,
});

/** EXEC operands: preserve_fds, path_env, argc, args..., envc, env... */
export function execOp(args: string[], opts: { preserveFds?: number; env?: string[]; path?: string } = {}): PlanOp {
  const env = opts.env ?? ['PATH=/bin:/usr/bin', 'HOME=/root'];
  return op(
    Op.EXEC,
    `exec ${args[0]}`,
    opts.preserveFds ?? 0,
    opts.path ?? '/bin:/usr/bin',
    args.length,
    ...args,
    env.length,
    ...env,
  );
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  reports: Report[];
}

export interface Session {
  /** The container process (from the pid report). */
  pid: number | undefined;
  /** The first process (berth-init as spawned). */
  initPid: number;
  reports: Report[];
  /** Resolves with the first report (past or future) that matches. */
  waitFor(pred: (r: Report) => boolean, timeoutMs?: number): Promise<Report>;
  /** Send one more record (ACK/ABORT after a SYNC). */
  send(o: PlanOp): void;
  kill(sig: NodeJS.Signals): void;
  /** Resolves when every process has let go of the plan socket (the container process exec'd or died). */
  released: Promise<void>;
  done: Promise<RunResult>;
}

export interface StartOptions {
  parent: PlanOp[];
  child: PlanOp[];
  /** Descriptor of the plan socket (default 3); stdio entries below it come from `stdio`. */
  planFd?: number;
  /** stdio entries for descriptors 0.. (default ignore, pipe, pipe); the plan socket is put at planFd. */
  stdio?: ('ignore' | 'pipe' | 'inherit' | number)[];
  /** Extra entries after the plan socket. */
  extra?: (number | 'ignore')[];
  timeoutMs?: number;
  /** Bytes to send instead of the two encoded phases, then half-close the socket. */
  raw?: Buffer;
  /** Send phase 2 only once the pid is reported, built from it (as the runtime does). */
  childFromPid?: (pid: number) => PlanOp[];
  /**
   * Start berth-init in a UTS namespace of its own (through `unshare --uts`),
   * for tests of what berth-init must refuse in the namespace it started in:
   * should the refusal ever regress, it renames a throwaway namespace, not
   * the host.
   */
  ownUts?: boolean;
  /** Run berth-init as this user (default: ours). */
  uid?: number;
  gid?: number;
}

export function startInit(o: StartOptions): Session {
  const planFd = o.planFd ?? 3;
  const stdio: unknown[] = [...(o.stdio ?? ['ignore', 'pipe', 'pipe'])];
  while (stdio.length < planFd) stdio.push('ignore');
  stdio[planFd] = 'pipe';
  for (const e of o.extra ?? []) stdio.push(e);
  const [file, args] = o.ownUts ? ['unshare', ['--uts', '--', INIT, String(planFd)]] : [INIT, [String(planFd)]];
  const proc = spawn(file, args, {
    stdio: stdio as StdioOptions,
    ...(o.uid !== undefined ? { uid: o.uid } : {}),
    ...(o.gid !== undefined ? { gid: o.gid } : {}),
  });
  const sock = proc.stdio[planFd] as Socket;
  const reports: Report[] = [];
  const waiters: { pred: (r: Report) => boolean; res: (r: Report) => void }[] = [];
  let buf = '';
  let stdout = '';
  let stderr = '';
  proc.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  sock.setEncoding('utf8');
  sock.on('data', (d: string) => {
    buf += d;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const r = JSON.parse(buf.slice(0, nl)) as Report;
      buf = buf.slice(nl + 1);
      reports.push(r);
      if (r.t === 'pid') {
        session.pid = r.pid;
        if (o.childFromPid) sock.write(encodePhase(o.childFromPid(r.pid)));
      }
      for (const w of [...waiters]) {
        if (w.pred(r)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.res(r);
        }
      }
    }
  });
  sock.on('error', () => {});
  const sockClosed = new Promise<void>((res) => sock.on('close', () => res()));
  if (o.raw) sock.end(o.raw);
  else if (o.childFromPid) sock.write(encodePhase(o.parent));
  else sock.write(Buffer.concat([encodePhase(o.parent), encodePhase(o.child)]));

  const timer = setTimeout(() => proc.kill('SIGKILL'), o.timeoutMs ?? 20000);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    proc.on('close', (code, signal) => res({ code, signal })),
  );
  const session: Session = {
    pid: undefined,
    initPid: proc.pid ?? -1,
    reports,
    waitFor(pred, timeoutMs = 10000) {
      const hit = reports.find(pred);
      if (hit) return Promise.resolve(hit);
      return new Promise((res, rej) => {
        const w = { pred, res };
        waiters.push(w);
        setTimeout(() => {
          const i = waiters.indexOf(w);
          if (i >= 0) {
            waiters.splice(i, 1);
            rej(new Error(`no matching report within ${timeoutMs} ms; got ${JSON.stringify(reports)}`));
          }
        }, timeoutMs).unref();
      });
    },
    send(x) {
      sock.write(encodeOp(x));
    },
    kill(sig) {
      proc.kill(sig);
    },
    released: sockClosed,
    done: (async () => {
      const { code, signal } = await exited;
      await sockClosed;
      clearTimeout(timer);
      return { code, signal, stdout, stderr, reports };
    })(),
  };
  return session;
}

export function runInit(o: StartOptions): Promise<RunResult> {
  return startInit(o).done;
}

/** "key=value" lines of a container's output, as a map. */
export function facts(out: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of out.split(/\r?\n/)) {
    const eq = line.indexOf('=');
    if (eq > 0) m.set(line.slice(0, eq), line.slice(eq + 1).trim());
  }
  return m;
}

/**
 * The container-process ops of a typical container, up to (not including)
 * the user/caps/exec tail: private propagation, rootfs self-bind, proc,
 * /dev with its nodes and links, devpts, sysfs, pivot_root (and the
 * hostname, when given: the plan must then clone a new UTS namespace).
 */
export function rootfsOps(rootfs: string, opts: { beforePivot?: PlanOp[]; hostname?: string } = {}): PlanOp[] {
  const dev = (name: string, major: number, minor: number) =>
    op(Op.MKNOD_IN_ROOT, `mknod /dev/${name}`, `/dev/${name}`, S_IFCHR | 0o666, major, minor, 0, 0);
  return [
    op(Op.MOUNT, 'make / private', '', '/', '', MS_REC | MS_PRIVATE, ''),
    op(Op.MOUNT, 'bind rootfs', rootfs, rootfs, '', MS_BIND | MS_REC, ''),
    op(Op.SET_ROOT, 'open rootfs', rootfs),
    op(
      Op.MOUNT_IN_ROOT,
      'mount proc on /proc',
      'proc',
      '/proc',
      'proc',
      MS_NOSUID | MS_NODEV | MS_NOEXEC,
      '',
      'dir',
      0,
      0,
    ),
    op(
      Op.MOUNT_IN_ROOT,
      'mount tmpfs on /dev',
      'tmpfs',
      '/dev',
      'tmpfs',
      MS_NOSUID,
      'mode=755,size=65536k',
      'dir',
      0,
      0,
    ),
    op(
      Op.MOUNT_IN_ROOT,
      'mount devpts on /dev/pts',
      'devpts',
      '/dev/pts',
      'devpts',
      MS_NOSUID | MS_NOEXEC,
      'newinstance,ptmxmode=0666,mode=0620',
      'dir',
      0,
      0,
    ),
    op(
      Op.MOUNT_IN_ROOT,
      'mount tmpfs on /dev/shm',
      'shm',
      '/dev/shm',
      'tmpfs',
      MS_NOSUID | MS_NODEV | MS_NOEXEC,
      'mode=1777,size=65536k',
      'dir',
      0,
      0,
    ),
    op(
      Op.MOUNT_IN_ROOT,
      'mount sysfs on /sys',
      'sysfs',
      '/sys',
      'sysfs',
      MS_NOSUID | MS_NODEV | MS_NOEXEC,
      '',
      'dir',
      MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
      0,
    ),
    dev('null', 1, 3),
    dev('zero', 1, 5),
    dev('full', 1, 7),
    dev('random', 1, 8),
    dev('urandom', 1, 9),
    dev('tty', 5, 0),
    op(Op.SYMLINK_IN_ROOT, 'symlink /dev/ptmx', 'pts/ptmx', '/dev/ptmx'),
    op(Op.SYMLINK_IN_ROOT, 'symlink /dev/fd', '/proc/self/fd', '/dev/fd'),
    op(Op.SYMLINK_IN_ROOT, 'symlink /dev/stdin', '/proc/self/fd/0', '/dev/stdin'),
    op(Op.SYMLINK_IN_ROOT, 'symlink /dev/stdout', '/proc/self/fd/1', '/dev/stdout'),
    op(Op.SYMLINK_IN_ROOT, 'symlink /dev/stderr', '/proc/self/fd/2', '/dev/stderr'),
    ...(opts.beforePivot ?? []),
    op(Op.PIVOT_ROOT, 'pivot_root', rootfs),
    // Only when asked: a plan without CLONE_NEWUTS must not name the host.
    ...(opts.hostname !== undefined ? [op(Op.SETHOSTNAME, 'set hostname', opts.hostname)] : []),
  ];
}

export const NS_ALL = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET;

export const waitMode = op(Op.PARENT_MODE, 'parent mode', 'wait');
export const sh = (script: string, opts?: Parameters<typeof execOp>[1]) => execOp(['/bin/sh', '-c', script], opts);

// Temp dirs and rootfs bundles, removed when the test file is done.
const cleanups: (() => void)[] = [];
after(() => {
  for (const c of cleanups.reverse()) c();
});

export function bundle(): { dir: string; rootfs: string } {
  const b = makeBundleDir('berth-init-test-');
  cleanups.push(b.cleanup);
  return b;
}

export function tempDir(prefix = 'berth-init-host-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** An exec fifo (mode 0600) in a new temp dir, both owned by `uid` (and a group of the same number). */
export function execFifo(uid: number): string {
  const dir = tempDir();
  chownSync(dir, uid, uid);
  const fifo = join(dir, 'exec.fifo');
  execFileSync('mkfifo', ['-m', '0600', fifo]);
  chownSync(fifo, uid, uid);
  return fifo;
}

/** Every mount of these tests happens in a container's own mount namespace. */
export function assertNoHostMounts(): void {
  const leaked = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.includes('berth-init-test-') || l.includes('berth-init-host-'));
  assert.deepEqual(leaked, []);
}

export const noPython =
  spawnSync('python3', ['-c', 'import socket; socket.recv_fds'], { stdio: 'ignore' }).status === 0
    ? undefined
    : 'needs python3 >= 3.9 to receive descriptors (Node.js cannot receive SCM_RIGHTS)';

/** A descriptor receiver on a unix socket (fdrecv.py), listening when this resolves. */
export async function fdReceiver(
  path: string,
  mode: 'console' | 'seccomp',
): Promise<{ result: Promise<Record<string, string>> }> {
  const py = await startPeer(
    'python3',
    [join(dirname(fileURLToPath(import.meta.url)), 'fdrecv.py'), path, mode],
    'listening\n',
    { killAfterMs: 15000 },
  );
  // Wrapped: an async function's returned promise would be awaited with it.
  return {
    result: py.output.then((out) => {
      const last = out.trim().split('\n').at(-1) ?? '{}';
      return last === 'listening' ? { error: 'nothing received' } : (JSON.parse(last) as Record<string, string>);
    }),
  };
}
