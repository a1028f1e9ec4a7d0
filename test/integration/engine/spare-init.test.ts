// The spare shim's berth-init, started ahead of need with pipes for stdio:
// a task create whose stdio are the client's FIFOs (ctr's way), or a logger's
// binary:// URI without stdin (berthd's way), attaches them and sends it the
// plan, so the container is that berth-init's clone; one it does not fit (a
// file:// URI) spawns its own and ends the spare's. Both seen from
// the kernel (/proc: parents, namespaces, cgroups) and from the shim's own
// account of what it spawned. A spare berth-init never outlives the engine.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmdirSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { makeBusyboxRootfs, haveBusybox } from '../../helpers/busybox.js';
import { waitUntil } from '../../helpers/daemons.js';
import { isRoot } from '../../helpers/runtime.js';
import { ShimClient } from '../../../src/shim/client.js';
import { startEngine, type Engine } from './helpers.js';

const skip = !isRoot() ? 'needs root' : !haveBusybox() ? 'needs busybox-static' : false;
const NS = `berth-spinit${process.pid}`;

function alive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

function ppid(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
}

interface SpareInit {
  dir: string;
  shimPid: number;
  initPid: number;
  /** The container process it cloned ahead of need. */
  childPid: number;
}

function children(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** The spare shim and the berth-init it started ahead of need, once both run. */
async function readySpareInit(e: Engine): Promise<SpareInit> {
  const root = join(e.state, 'shims');
  const end = Date.now() + 20000;
  for (;;) {
    for (const n of existsSync(root) ? readdirSync(root).filter((x) => x.startsWith('.spare-')) : []) {
      const dir = join(root, n);
      const c = new ShimClient(dir);
      try {
        const st = await c.state();
        const init = st.procs.find((p) => p.name === 'init');
        const kids = init && init.spawned > 0 && alive(init.spawned) ? children(init.spawned) : [];
        if (init && kids.length === 1) return { dir, shimPid: st.pid, initPid: init.spawned, childPid: kids[0]! };
      } catch {
        // starting, or claimed meanwhile
      } finally {
        c.close();
      }
    }
    if (Date.now() > end) throw new Error('timed out waiting for a spare shim with its berth-init');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** What the task shim with pid `shimPid` says it spawned for the container's init. */
async function spawnedBy(e: Engine, shimPid: number): Promise<{ spawned: number; pid: number }> {
  const root = join(e.state, 'shims');
  for (const n of readdirSync(root).filter((x) => !x.startsWith('.'))) {
    const pidFile = join(root, n, 'shim.pid');
    if (!existsSync(pidFile) || Number(readFileSync(pidFile, 'utf8').trim()) !== shimPid) continue;
    const c = new ShimClient(join(root, n));
    try {
      const init = (await c.state()).procs.find((p) => p.name === 'init');
      assert.ok(init, 'the task shim has an init process');
      return { spawned: init.spawned, pid: init.pid };
    } finally {
      c.close();
    }
  }
  throw new Error(`no task shim with pid ${shimPid}`);
}

function taskPid(e: Engine, id: string): number {
  const m = new RegExp(`^${id}\\s+(\\d+)\\s+RUNNING`, 'm').exec(e.ctr(['task', 'ls'], { ns: NS }).stdout);
  assert.ok(m, `task ${id} runs`);
  return Number(m[1]);
}

const ns = (pid: number | 'self', type: string) => readlinkSync(`/proc/${pid}/ns/${type}`);

/** The container is in new mnt, pid, net, ipc and uts namespaces (ctr's spec), the host's user and cgroup ones, its own cgroup. */
function assertContainerNs(pid: number, own: string[], host: string[]): void {
  for (const t of own) assert.notEqual(ns(pid, t), ns('self', t), `${t} namespace`);
  for (const t of host) assert.equal(ns(pid, t), ns('self', t), `${t} namespace`);
}

function assertContainer(pid: number, id: string, host: string[] = []): void {
  const all = ['mnt', 'pid', 'net', 'ipc', 'uts'];
  assertContainerNs(
    pid,
    all.filter((t) => !host.includes(t)),
    ['user', 'cgroup', ...host],
  );
  const cg = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  assert.match(cg, new RegExp(`:/${NS}/${id}$`, 'm'), cg);
}

describe("the spare shim's berth-init", { skip }, () => {
  let e: Engine;
  let rootfs: string;
  const ctr = (args: string[], input?: string) => e.ctr(args, { ns: NS, input });

  before(async () => {
    e = await startEngine('berth-spinit-');
    rootfs = join(e.dir, 'rootfs');
    mkdirSync(rootfs);
    makeBusyboxRootfs(rootfs);
  });
  after(async () => {
    if (e.proc.exitCode !== null) await e.restart().catch(() => undefined);
    for (const t of ctr(['task', 'ls', '-q']).stdout.split('\n').filter(Boolean))
      ctr(['task', 'kill', '-s', 'KILL', t]);
    await new Promise((r) => setTimeout(r, 300));
    for (const t of ctr(['task', 'ls', '-q']).stdout.split('\n').filter(Boolean)) ctr(['task', 'rm', '-f', t]);
    for (const c of ctr(['containers', 'ls', '-q']).stdout.split('\n').filter(Boolean)) ctr(['containers', 'rm', c]);
    await e.stop();
    for (const d of readdirSync('/sys/fs/cgroup')) {
      try {
        rmdirSync(`/sys/fs/cgroup/${d}/${NS}`);
      } catch {
        // not there
      }
    }
  });

  it('ctr run: the container is the process the spare berth-init cloned ahead of need, in its own namespaces and cgroups', async () => {
    const s = await readySpareInit(e);
    assert.match(readFileSync(`/proc/${s.initPid}/cmdline`, 'utf8'), /berth-init/);
    assert.equal(ppid(s.initPid), s.shimPid, 'the spare berth-init is its shim’s child');
    // cloned into new pid, net, ipc, uts namespaces; the mount namespace comes with the plan
    assertContainerNs(s.childPid, ['pid', 'net', 'ipc', 'uts'], ['mnt', 'user', 'cgroup']);
    const id = `spinit-used-${process.pid}`;
    assert.equal(ctr(['run', '-d', '--rootfs', rootfs, id, 'sleep', '300']).status, 0);
    const pid = taskPid(e, id);
    assert.equal(pid, s.childPid, 'the container is the process cloned ahead of need');
    assert.deepEqual(await spawnedBy(e, s.shimPid), { spawned: s.initPid, pid }, 'made by the spare berth-init');
    assert.equal(ppid(pid), s.shimPid, 'the container is the shim’s child');
    assert.equal(alive(s.initPid), false, 'berth-init’s first process is gone once the container waits');
    assertContainer(pid, id);
  });

  it('ctr run --rm through a spare berth-init: stdin, stdout, stderr and the exit code', async () => {
    await readySpareInit(e);
    const r = ctr(
      [
        'run',
        '--rm',
        '--rootfs',
        rootfs,
        `spinit-io-${process.pid}`,
        'sh',
        '-c',
        'read l; echo "got $l"; echo err >&2; exit 5',
      ],
      'one\n',
    );
    assert.equal(r.status, 5, r.stderr);
    assert.equal(r.stdout, 'got one\n');
    assert.match(r.stderr, /^err$/m);
  });

  it('a logger’s binary:// URI and no stdin (berthd’s way): the clone is the container, /dev/null its stdin, both streams the logger’s', async () => {
    const s = await readySpareInit(e);
    const logger = join(e.dir, 'logger.sh');
    // the shim's logger contract: output on fds 3 and 4, ready once fd 5 is closed
    writeFileSync(
      logger,
      '#!/bin/sh\nout="$(dirname "$0")/$CONTAINER_ID"\nmkdir -p "$out"\nexec 5>&-\n' +
        'cat <&3 > "$out/stdout" &\ncat <&4 > "$out/stderr"\nwait\n',
    );
    chmodSync(logger, 0o755);
    const id = `spinit-log-${process.pid}`;
    const script = '[ -c /proc/self/fd/0 ] && echo stdin-null || echo stdin-other; echo err >&2; exec sleep 300';
    const r = ctr(['run', '-d', '--log-uri', `binary://${logger}`, '--rootfs', rootfs, id, 'sh', '-c', script]);
    assert.equal(r.status, 0, r.stderr);
    const pid = taskPid(e, id);
    assert.equal(pid, s.childPid, 'the container is the process cloned ahead of need');
    assert.deepEqual(await spawnedBy(e, s.shimPid), { spawned: s.initPid, pid }, 'made by the spare berth-init');
    const text = (f: string) => (existsSync(join(e.dir, id, f)) ? readFileSync(join(e.dir, id, f), 'utf8') : '');
    await waitUntil(
      'both streams at the logger',
      () => text('stdout') === 'stdin-null\n' && text('stderr') === 'err\n',
    );
    // the logger holds the pipes' only read ends: the shim copies nothing
    const reads = (p: number) =>
      readdirSync(`/proc/${p}/fd`)
        .map((f) => readlinkSync(`/proc/${p}/fd/${f}`))
        .filter((l) => l.startsWith('pipe:'));
    const out = readlinkSync(`/proc/${pid}/fd/1`);
    assert.equal(reads(s.shimPid).includes(out), false, 'the shim keeps no end of the container’s stdout');
    assertContainer(pid, id);
  });

  it('a logger that cannot run fails the create, through the spare or a spawn: its error, nothing left behind', async () => {
    const shims = () => readdirSync(join(e.state, 'shims')).filter((n) => !n.startsWith('.'));
    const before = shims();
    // the first through the spare; the second as it comes (a spare is made again 200 ms after a claim at
    // the latest): either way the shim reads the failed exec (it took it for a started logger before)
    for (const [i, id] of [`spinit-nolog-${process.pid}`, `spinit-nolog2-${process.pid}`].entries()) {
      if (i === 0) await readySpareInit(e);
      const r = ctr(['run', '-d', '--log-uri', 'binary:///no/such/logger', '--rootfs', rootfs, id, 'true']);
      assert.notEqual(r.status, 0, `${id}: the create fails`);
      assert.match(r.stderr, /\/no\/such\/logger.*No such file or directory/, id);
      assert.doesNotMatch(ctr(['task', 'ls']).stdout, new RegExp(id));
      assert.deepEqual(shims(), before, `${id}: no shim left`);
      assert.equal(existsSync(join(e.state, 'tasks', NS, id)), false, `${id}: no bundle left`);
      assert.equal(existsSync(`/sys/fs/cgroup/memory/${NS}/${id}`), false, `${id}: no cgroup left`);
      ctr(['containers', 'rm', id]);
    }
  });

  it('a create the spare does not fit (a file:// URI) spawns its own berth-init; the spare’s ends', async () => {
    const s = await readySpareInit(e);
    const id = `spinit-uri-${process.pid}`;
    const file = join(e.dir, 'uri.log');
    const r = ctr([
      'run',
      '-d',
      '--log-uri',
      `file://${file}`,
      '--rootfs',
      rootfs,
      id,
      'sh',
      '-c',
      'echo hi; sleep 300',
    ]);
    assert.equal(r.status, 0, r.stderr);
    const pid = taskPid(e, id);
    const by = await spawnedBy(e, s.shimPid);
    assert.equal(by.pid, pid);
    assert.notEqual(by.spawned, s.initPid, 'a berth-init of its own');
    await waitUntil('the unused spare berth-init and its clone to end', () => !alive(s.initPid) && !alive(s.childPid));
    assertContainer(pid, id);
    await waitUntil('the output in the log file', () => existsSync(file) && readFileSync(file, 'utf8') === 'hi\n');
  });

  it('a plan the clone does not fit (the host network) spawns its own berth-init; the spare’s ends', async () => {
    const s = await readySpareInit(e);
    const id = `spinit-net-${process.pid}`;
    const r = ctr(['run', '-d', '--net-host', '--rootfs', rootfs, id, 'sleep', '300']);
    assert.equal(r.status, 0, r.stderr);
    const pid = taskPid(e, id);
    assert.notEqual(pid, s.childPid);
    const by = await spawnedBy(e, s.shimPid);
    assert.equal(by.pid, pid);
    assert.notEqual(by.spawned, s.initPid, 'a berth-init of its own');
    await waitUntil('the unused spare berth-init and its clone to end', () => !alive(s.initPid) && !alive(s.childPid));
    assertContainer(pid, id, ['net']);
  });

  it('SIGKILL of the engine: the spare shim, its berth-init and its clone end; the tasks run on', async () => {
    const s = await readySpareInit(e);
    await e.kill9();
    await waitUntil(
      'the spare berth-init, its clone and its shim to end',
      () => !alive(s.initPid) && !alive(s.childPid) && !alive(s.shimPid),
      5000,
    );
    assert.equal(existsSync(s.dir), false, 'the spare removed its directory');
    await e.restart();
    assert.match(ctr(['task', 'ls']).stdout, new RegExp(`^spinit-used-${process.pid}\\s+\\d+\\s+RUNNING`, 'm'));
  });
});
