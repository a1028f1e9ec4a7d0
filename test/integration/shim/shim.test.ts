// berth-shim under the runtime library: a container whose parent is its shim,
// stdio through the client's FIFOs, exit status and time in the exit file,
// a terminal, exec processes, bad input, and the shim (and the container)
// surviving a SIGKILL of the process that started them.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
  constants as fsc,
} from 'node:fs';
import { Socket, connect } from 'node:net';
import { encodeRequest } from '../../../src/shim/protocol.js';
import { join } from 'node:path';
import { Runtime } from '../../../src/runtime/container.js';
import { procStat } from '../../../src/common/proc.js';
import { ShimSet, type ShimHandle } from '../../../src/shim/shims.js';
import { createInShim, execInShim, execName } from '../../../src/shim/container.js';
import { INIT } from '../../../src/shim/protocol.js';
import { isRoot, makeBundle, uniqueId, REPO, type Bundle } from '../../helpers/runtime.js';
import { haveBusybox } from '../../helpers/busybox.js';
import { sleep, waitUntil } from '../../helpers/wait.js';

const skip = !isRoot() ? 'needs root' : !haveBusybox() ? 'needs busybox-static' : false;

/** Collects everything written to a FIFO (opened for reading before the shim writes). */
function readFifo(path: string): { text: () => string; ended: Promise<void> } {
  execFileSync('mkfifo', [path]);
  const fd = openSync(path, fsc.O_RDONLY | fsc.O_NONBLOCK);
  const sock = new Socket({ fd, readable: true, writable: false });
  let buf = '';
  sock.setEncoding('utf8');
  sock.on('data', (d: string) => (buf += d));
  const ended = new Promise<void>((r) => sock.on('close', () => r()));
  return { text: () => buf, ended };
}

function ppid(pid: number): number {
  const m = /^PPid:\s+(\d+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1]);
}

function rssKb(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1]);
}

describe('berth-shim with the runtime library', { skip }, () => {
  let tmp: string;
  let rt: Runtime;
  let shims: ShimSet;
  const bundles: Bundle[] = [];
  const handles: ShimHandle[] = [];
  const ids: string[] = [];

  before(() => {
    tmp = mkdtempSync('/tmp/bshim-');
    rt = new Runtime({ root: join(tmp, 'rt'), spareInit: false });
    shims = new ShimSet(join(tmp, 'shims'));
  });
  after(async () => {
    for (const id of ids) await rt.delete(id, true).catch(() => undefined);
    for (const h of handles) await h.remove().catch(() => undefined);
    for (const s of await shims.recover().catch(() => [])) {
      if (s.alive()) process.kill(s.record.shimPid, 'SIGKILL');
    }
    for (const b of bundles) b.cleanup();
    rmSync(tmp, { recursive: true, force: true });
  });

  function bundle(script: string, edit?: Parameters<typeof makeBundle>[1]): Bundle {
    const b = makeBundle(script, edit);
    b.write();
    bundles.push(b);
    return b;
  }
  async function shimFor(id: string): Promise<ShimHandle> {
    const h = await shims.start(id, {});
    handles.push(h);
    ids.push(id);
    return h;
  }

  it('is the parent of the container, copies its output to the FIFOs and the log, and records its exit', async () => {
    const id = uniqueId('shim');
    const b = bundle('echo hello; echo oops >&2; sleep 0.2; exit 3');
    const shim = await shimFor(id);
    const out = readFifo(join(tmp, `${id}.out`));
    const err = readFifo(join(tmp, `${id}.err`));
    const log = join(tmp, `${id}.log`);
    const pid = await createInShim(rt, shim, id, b.dir, {
      stdout: join(tmp, `${id}.out`),
      stderr: join(tmp, `${id}.err`),
      log,
    });
    assert.equal(ppid(pid), shim.record.shimPid, 'the container process is the shim child');
    const t0 = Date.now();
    await rt.start(id);
    const w = await shim.client.wait(INIT);
    const t1 = Date.now();
    assert.equal(w.exited, true);
    assert.equal(w.status, 3);
    await out.ended;
    await err.ended;
    assert.equal(out.text(), 'hello\n');
    assert.equal(err.text(), 'oops\n');
    const exit = shim.readExit(INIT);
    assert.ok(exit, 'an exit file');
    assert.equal(exit.status, 3);
    assert.equal(exit.pid, pid);
    const at = exit.sec * 1000 + exit.nsec / 1e6;
    assert.ok(at >= t0 + 150 && at <= t1 + 5, `exit time ${at} between start ${t0} (+ the 0.2 s sleep) and wait ${t1}`);
    const records = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { log: string; stream: string; time: string });
    assert.deepEqual(records.map((r) => [r.stream, r.log]).sort(), [
      ['stderr', 'oops\n'],
      ['stdout', 'hello\n'],
    ]);
    assert.ok(records.every((r) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/.test(r.time)));
    assert.equal(rt.state(id).status, 'stopped');
  });

  /** A started container running `script` with its stdin and stdout on FIFOs. */
  async function withStdinFifo(prefix: string, script: string) {
    const id = uniqueId(prefix);
    const b = bundle(script);
    const shim = await shimFor(id);
    const inPath = join(tmp, `${id}.in`);
    execFileSync('mkfifo', [inPath]);
    const out = readFifo(join(tmp, `${id}.out`));
    await createInShim(rt, shim, id, b.dir, { stdin: inPath, stdout: join(tmp, `${id}.out`) });
    await rt.start(id);
    return { shim, inPath, out };
  }

  it('feeds stdin from a FIFO; a writer that goes away is no EOF, closestdin is', async () => {
    const { shim, inPath, out } = await withStdinFifo(
      'shim-in',
      'while read line; do echo "got $line"; done; echo eof',
    );
    const w = openSync(inPath, fsc.O_WRONLY); // the shim holds the read end: no wait
    writeSync(w, 'ping\npong\n');
    closeSync(w);
    await waitUntil('both lines copied', () => out.text() === 'got ping\ngot pong\n');
    // The client is gone (as berthd killed with -9); the shim's own writer keeps the FIFO
    // open, so the container still reads, and a new client can write again (containerd's shim).
    await sleep(200);
    const running = (await shim.client.state()).procs.find((p) => p.name === INIT);
    assert.equal(running?.exited, false, 'stdin did not end with the writer');
    const again = openSync(inPath, fsc.O_WRONLY);
    writeSync(again, 'again\n');
    closeSync(again);
    await shim.client.closeStdin(INIT);
    const done = await shim.client.wait(INIT);
    assert.equal(done.status, 0);
    await out.ended;
    assert.equal(out.text(), 'got ping\ngot pong\ngot again\neof\n');
  });

  it('closestdin after the writer closed: what the FIFO still holds reaches the process first', async () => {
    // The container reads nothing for a second, so its pipe fills, the shim's
    // buffer fills, and the rest waits in the FIFO when closestdin comes.
    const { shim, inPath, out } = await withStdinFifo('shim-cin', 'sleep 1; wc -c');
    const w = openSync(inPath, fsc.O_WRONLY);
    writeSync(w, Buffer.alloc(100000, 'x'));
    closeSync(w);
    await shim.client.closeStdin(INIT);
    const done = await shim.client.wait(INIT);
    assert.equal(done.status, 0);
    await out.ended;
    assert.equal(out.text().trim(), '100000');
  });

  it('runs a terminal: the pty master is copied, resize reaches the container', async () => {
    const id = uniqueId('shim-tty');
    const b = bundle('', (s) => {
      s.process!.terminal = true;
      s.process!.args = ['/bin/sh', '-c', 'read x; stty size; test -t 0 && echo tty-yes'];
    });
    const shim = await shimFor(id);
    const inPath = join(tmp, `${id}.in`);
    execFileSync('mkfifo', [inPath]);
    const out = readFifo(join(tmp, `${id}.out`));
    await createInShim(rt, shim, id, b.dir, { stdin: inPath, stdout: join(tmp, `${id}.out`), terminal: true });
    await shim.client.resize(INIT, 33, 101);
    await rt.start(id);
    const w = openSync(inPath, fsc.O_WRONLY);
    writeSync(w, 'go\n');
    const done = await shim.client.wait(INIT);
    closeSync(w);
    assert.equal(done.status, 0);
    assert.equal(done.terminal, true);
    assert.match(out.text(), /33 101\r\n/);
    assert.match(out.text(), /tty-yes/);
  });

  it('runs exec processes under the shim and kills through it', async () => {
    const id = uniqueId('shim-exec');
    const b = bundle('sleep 60');
    const shim = await shimFor(id);
    const pid = await createInShim(rt, shim, id, b.dir, {});
    await rt.start(id);
    const out = readFifo(join(tmp, `${id}.x.out`));
    const xpid = await execInShim(
      rt,
      shim,
      id,
      'x1',
      {
        args: ['/bin/sh', '-c', 'echo from-exec $$; sleep 0.3; exit 4'],
        cwd: '/',
        env: ['PATH=/bin'],
        user: { uid: 0, gid: 0 },
        terminal: false,
      },
      { stdout: join(tmp, `${id}.x.out`) },
    );
    // berth-init's own process for the exec leaves right after it forks the exec
    // process, which the shim (the subreaper) then adopts.
    await waitUntil('the exec process is the shim child too', () => ppid(xpid) === shim.record.shimPid, 5000, 10);
    const x = await shim.client.wait(execName('x1'));
    assert.equal(x.status, 4);
    await out.ended;
    assert.match(out.text(), /^from-exec \d+\n$/);
    assert.equal(shim.readExit(execName('x1'))?.status, 4);
    // the container's pid 1 ignores SIGTERM without a handler: SIGKILL
    await shim.client.kill(INIT, 9);
    const w = await shim.client.wait(INIT);
    assert.equal(w.status, 128 + 9);
    assert.equal(procStat(pid), undefined, 'reaped: no zombie left');
    await assert.rejects(shim.client.kill(INIT, 9), /not running/);
  });

  it('refuses bad stdio with the field and path named, and leaves nothing behind', async () => {
    const id = uniqueId('shim-bad');
    const b = bundle('true');
    const shim = await shimFor(id);
    const notFifo = join(tmp, `${id}.regular`);
    writeFileSync(notFifo, '');
    await assert.rejects(createInShim(rt, shim, id, b.dir, { stdout: notFifo }), (e: Error) =>
      e.message.includes(`stdout ${notFifo}`),
    );
    await assert.rejects(
      createInShim(rt, shim, id, b.dir, { stdin: join(tmp, 'missing') }),
      /stdin .*missing: No such file/,
    );
    assert.deepEqual((await shim.client.state()).procs, []);
    assert.ok(!rt.list().some((c) => c.id === id), 'no runtime state left');
    assert.ok(!existsSync(join(tmp, 'rt', id)));
  });

  it('keeps the container when its starter is killed with SIGKILL; reconnects; an exit while nobody listened keeps its code and time', async () => {
    const a = uniqueId('shim-a');
    const c = uniqueId('shim-c');
    const ba = bundle('sleep 1; exit 5');
    const bc = bundle('trap "exit 7" TERM; while true; do sleep 0.1; done');
    ids.push(a, c);
    const starter = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(REPO, 'test/helpers/shim-starter.ts'),
        join(tmp, 'rt'),
        join(tmp, 'shims'),
        `${a}=${ba.dir}`,
        `${c}=${bc.dir}`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let line = '';
    starter.stdout.setEncoding('utf8');
    starter.stdout.on('data', (d: string) => (line += d));
    await waitUntil('the starter to report', () => line.includes('\n') || starter.exitCode !== null, 30_000);
    const made = JSON.parse(line) as { id: string; pid: number; shimPid: number }[];
    const t0 = Date.now();
    starter.kill('SIGKILL');
    await new Promise((r) => starter.once('exit', r));
    for (const m of made) {
      assert.ok(procStat(m.shimPid), `shim of ${m.id} alive after its starter died`);
    }
    const cm = made.find((m) => m.id === c)!;
    assert.equal(ppid(cm.pid), cm.shimPid);
    // a exits (sleep 1; exit 5) while no engine is there
    const am = made.find((m) => m.id === a)!;
    await waitUntil(`${a} to exit`, () => !procStat(am.pid), 10_000);
    const t1 = Date.now();

    const found = await shims.recover();
    handles.push(...found);
    const ha = found.find((h) => h.key === a)!;
    const hc = found.find((h) => h.key === c)!;
    assert.ok(ha && hc, 'both shims found from the state directory');
    const ea = ha.readExit(INIT);
    assert.equal(ea?.status, 5);
    const at = ea.sec * 1000 + ea.nsec / 1e6;
    assert.ok(at > t0 - 2000 && at <= t1 + 5, `recorded exit time ${at}`);
    const sc = await hc.state();
    const initC = sc?.procs.find((p) => p.name === INIT);
    assert.equal(initC?.pid, cm.pid);
    assert.equal(initC?.exited, false);
    assert.equal(rssKb(hc.record.shimPid) < 1024, true, `shim RSS ${rssKb(hc.record.shimPid)} kB under 1 MiB`);
    await hc.client.kill(INIT, 15);
    const wc = await hc.client.wait(INIT);
    assert.equal(wc.status, 7);
  });

  it('answers malformed requests with an error and keeps serving', async () => {
    const id = uniqueId('shim-proto');
    const shim = await shimFor(id);
    const ask = (bytes: Buffer) =>
      new Promise<string>((resolve) => {
        const sock = connect(shim.client.socketPath);
        let out = '';
        sock.setEncoding('utf8');
        sock.on('data', (d: string) => (out += d));
        sock.on('close', () => resolve(out));
        sock.on('connect', () => sock.end(bytes));
      });
    const huge = Buffer.alloc(4);
    huge.writeUInt32LE(100000, 0);
    assert.match(await ask(huge), /"error":"bad request: 100000 operands"/);
    const tooLong = Buffer.alloc(8);
    tooLong.writeUInt32LE(1, 0);
    tooLong.writeUInt32LE(1 << 30, 4);
    assert.match(await ask(tooLong), /"error":"bad request: over 65536 bytes"/);
    assert.match(await ask(encodeRequest(['frobnicate'])), /"error":"unknown request \\"frobnicate\\"","errno":22/);
    assert.match(await ask(encodeRequest(['kill', 'init'])), /takes 2 operands, got 1/);
    assert.match(
      await ask(encodeRequest(['spawn', '../x', 'plan', '', '', '', '', '', '/bin/true'])),
      /invalid process name/,
    );
    assert.match(await ask(encodeRequest(['spawn', 'p', 'plan', '', '', '', '', '', 'relative'])), /absolute path/);
    assert.deepEqual((await shim.client.state()).procs, [], 'still serving, nothing spawned');
  });

  it('mounts and unmounts for the engine: one mount(2) each, every stacked mount undone, errors with their errno', async () => {
    const id = uniqueId('shim-mnt');
    const shim = await shimFor(id);
    const target = join(tmp, `${id}-rootfs`);
    execFileSync('mkdir', [target]);
    const mounts = () =>
      readFileSync('/proc/self/mountinfo', 'utf8')
        .split('\n')
        .filter((l) => l.split(' ')[4] === target);
    try {
      // MS_NOSUID|MS_NODEV (2|4), data for the filesystem
      await shim.client.request('mount', 'bshim-a', target, 'tmpfs', 6, 'size=1m,mode=0711');
      await shim.client.request('mount', 'bshim-b', target, 'tmpfs', 0, '');
      const two = mounts();
      assert.equal(two.length, 2, 'two mounts stacked on the target');
      assert.match(two[0]!, / - tmpfs bshim-a rw,size=1024k,mode=711/);
      assert.match(two[0]!.split(' ')[5]!, /nosuid,nodev/);
      assert.deepEqual(await shim.client.request('umount', target), { ok: true, unmounted: 2 });
      assert.deepEqual(mounts(), []);
      assert.deepEqual(await shim.client.request('umount', target), { ok: true, unmounted: 0 }, 'nothing mounted');
      await assert.rejects(
        shim.client.request('mount', 'x', target, 'no-such-fs', 0, ''),
        /errno|ENODEV|no such device/i,
      );
      await assert.rejects(shim.client.request('mount', 'x', 'relative', 'tmpfs', 0, ''), /absolute path/);
      await assert.rejects(shim.client.request('mount', 'x', target, 'tmpfs', 'rw', ''), /bad flags/);
      await assert.rejects(shim.client.request('umount', 'relative'), /absolute path/);
      assert.deepEqual(mounts(), [], 'nothing mounted by a refused request');
    } finally {
      while (mounts().length) execFileSync('umount', [target]);
    }
  });

  it('a shim killed with SIGKILL is seen as gone', async () => {
    const id = uniqueId('shim-crash');
    const b = bundle('sleep 60');
    const shim = await shimFor(id);
    const pid = await createInShim(rt, shim, id, b.dir, {});
    await rt.start(id);
    const rss = rssKb(shim.record.shimPid);
    process.stderr.write(`# berth-shim VmRSS with one running container: ${rss} kB\n`);
    assert.ok(rss < 1024, `shim RSS ${rss} kB`);
    process.kill(shim.record.shimPid, 'SIGKILL');
    await waitUntil('the shim to die', () => !shim.alive(), 5000);
    assert.equal(await shim.state(), undefined);
    assert.ok(procStat(pid), 'the container outlives its shim (the engine decides what to do with it)');
    await rt.delete(id, true);
    await sleep(10);
  });
});
