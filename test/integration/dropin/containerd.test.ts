// berth-runc as a drop-in runc under the REAL containerd (Debian's 1.6, its
// io.containerd.runc.v2 shim): `ctr run --runc-binary bin/berth-runc`. The
// shim drives berth-runc exactly as it drives runc (create --bundle
// --pid-file [--console-socket], start, state, kill, delete, exec --process
// --detach, ps --format json, pause, resume) and reads its --log file
// (--log-format json). The image is a busybox archive made on the spot and
// imported with `ctr images import`; containerd runs on its own temp root and
// socket and is stopped, unmounted and removed at the end.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isRoot, REPO, uniqueId } from '../../helpers/runtime.js';
import { haveBusybox } from '../../helpers/busybox.js';
import { makeBusyboxImageArchive } from '../../helpers/image-archive.js';
import { startContainerd, which, sleep, waitUntil, mountsUnder, type Containerd } from '../../helpers/daemons.js';
import { driveTty } from '../../helpers/pty.js';

const BERTH_RUNC = join(REPO, 'bin/berth-runc');
const IMAGE = 'docker.io/library/busybox-test:latest';

const missing = ['containerd', 'ctr', 'containerd-shim-runc-v2', 'script', 'tar'].filter((b) => !which(b));
const skip = !isRoot()
  ? 'needs root (containerd, namespaces, cgroups, mounts)'
  : missing.length
    ? `needs ${missing.join(', ')} (apt-get install containerd util-linux tar)`
    : !haveBusybox()
      ? 'needs /bin/busybox (apt-get install busybox-static)'
      : !existsSync(BERTH_RUNC) || !existsSync(join(REPO, 'bin/berth-runc.js'))
        ? 'needs the build (node scripts/build.mjs)'
        : false;

describe('drop-in: real containerd runs containers through berth-runc', { skip }, () => {
  let cd: Containerd;
  let runcRoot: string;
  /** `ctr run` flags that select berth-runc (and keep its state under our temp root). */
  let rt: string[];
  /** `ctr run -d --null-io` of `sh -c SCRIPT` in container `id`, on berth-runc. */
  const runDetached = (id: string, script: string) =>
    cd.ctr(['run', '-d', '--null-io', ...rt, IMAGE, id, 'sh', '-c', script]);

  before(async () => {
    cd = await startContainerd();
    runcRoot = join(cd.dir, 'berth-runc-root');
    rt = ['--runc-binary', BERTH_RUNC, '--runc-root', runcRoot];
    const archive = makeBusyboxImageArchive(cd.dir);
    const r = cd.ctr(['images', 'import', archive.file]);
    assert.equal(r.status, 0, `ctr images import: ${r.stderr}\n${cd.logTail()}`);
    const ls = cd.ctr(['images', 'ls', '-q']);
    assert.ok(ls.stdout.split('\n').includes(IMAGE), ls.stdout);
  });

  after(async () => {
    if (cd) {
      const dir = cd.dir;
      await cd.stop();
      assert.deepEqual(mountsUnder(dir), [], 'mounts left under the temp root');
      assert.ok(!existsSync(dir));
    }
  });

  /** Remove a detached container whatever state it is in. */
  function remove(id: string): void {
    cd.ctr(['tasks', 'kill', '-s', 'SIGKILL', id]);
    cd.ctr(['tasks', 'delete', '--force', id]);
    cd.ctr(['containers', 'delete', id]);
  }

  function taskStatus(id: string): string | undefined {
    const r = cd.ctr(['tasks', 'ls']);
    assert.equal(r.status, 0, r.stderr);
    for (const line of r.stdout.split('\n').slice(1)) {
      const [task, pid, status] = line.trim().split(/\s+/);
      if (task === id && pid) return status;
    }
    return undefined;
  }

  function taskPid(id: string): number {
    const r = cd.ctr(['tasks', 'ls']);
    const line = r.stdout.split('\n').find((l) => l.startsWith(id + ' '));
    assert.ok(line, `task ${id} not listed:\n${r.stdout}`);
    return Number(line.trim().split(/\s+/)[1]);
  }

  it('ctr run --rm: the container sees its own pid namespace, root and cgroup, and its exit status comes back', () => {
    const id = uniqueId('ctr-run');
    const script = [
      'echo "pid=$$"',
      'echo "host=$(hostname)"',
      'echo "uid=$(id -u)"',
      'echo "cmd1=$(tr "\\0" " " < /proc/1/cmdline)"',
      'echo "pidns=$(readlink /proc/self/ns/pid)"',
      'echo "mntns=$(readlink /proc/self/ns/mnt)"',
      'echo "hostname-file=$(cat /etc/hostname)"',
      'grep -E "^[0-9]+:(pids|freezer):" /proc/self/cgroup',
      'ls /bin/busybox >/dev/null && echo busybox-root',
      'exit 3',
    ].join('; ');
    const r = cd.ctr(['run', '--rm', ...rt, IMAGE, id, 'sh', '-c', script]);
    assert.equal(
      r.status,
      3,
      `exit status of the container\nstdout: ${r.stdout}\nstderr: ${r.stderr}\n${cd.logTail()}`,
    );
    const out = r.stdout;
    assert.match(out, /^pid=1$/m);
    assert.match(out, /^uid=0$/m);
    assert.match(out, /^cmd1=sh -c /m);
    assert.match(out, /^busybox-root$/m);
    assert.match(out, /^hostname-file=busybox-test$/m, 'the rootfs is the imported image');
    // ctr sets no hostname: the container keeps the host's in its own UTS namespace.
    assert.match(out, new RegExp(`^host=${readFileSync('/proc/sys/kernel/hostname', 'utf8').trim()}$`, 'm'));
    const pidns = /^pidns=(.*)$/m.exec(out)?.[1];
    assert.ok(pidns && pidns !== readlinkSync('/proc/self/ns/pid'), `a new pid namespace (${pidns})`);
    const mntns = /^mntns=(.*)$/m.exec(out)?.[1];
    assert.ok(mntns && mntns !== readlinkSync('/proc/self/ns/mnt'), `a new mount namespace (${mntns})`);
    // ctr's default cgroupsPath is /<namespace>/<id>: berth-runc put the process there.
    assert.match(out, new RegExp(`^\\d+:pids:/${cd.namespace}/${id}$`, 'm'));
    assert.match(out, new RegExp(`^\\d+:freezer:/${cd.namespace}/${id}$`, 'm'));
    // --rm: no task, container, berth-runc state or cgroup left.
    assert.equal(taskStatus(id), undefined);
    assert.ok(!cd.ctr(['containers', 'ls', '-q']).stdout.split('\n').includes(id));
    assert.ok(!existsSync(join(runcRoot, cd.namespace, id)), 'berth-runc state removed');
    assert.ok(!existsSync(`/sys/fs/cgroup/pids/${cd.namespace}/${id}`), 'cgroup removed');
  });

  it('ctr run --rm of a program that exits at once (true, exit 5), again and again', () => {
    // A container that is gone before `start` reads the exec fifo has still
    // started: `start` must not call it stopped.
    for (let i = 0; i < 5; i++) {
      const id = uniqueId('ctr-fast');
      const r = cd.ctr(['run', '--rm', ...rt, IMAGE, id, i % 2 ? 'true' : 'sh', ...(i % 2 ? [] : ['-c', 'exit 5'])]);
      assert.equal(r.status, i % 2 ? 0 : 5, `run ${i}: ${r.stderr}\n${cd.logTail()}`);
    }
  });

  it('six ctr run --rm at once: each container gets its own id, output and status', async () => {
    const ids = Array.from({ length: 6 }, () => uniqueId('ctr-par'));
    const results = await Promise.all(
      ids.map(
        (id, i) =>
          new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
            const child = spawn('ctr', [
              '-a',
              cd.sock,
              '-n',
              cd.namespace,
              'run',
              '--rm',
              ...rt,
              IMAGE,
              id,
              'sh',
              '-c',
              `echo "n=${i} pid=$$"; exit ${10 + i}`,
            ]);
            let out = '';
            let err = '';
            child.stdout.on('data', (d: Buffer) => (out += d.toString()));
            child.stderr.on('data', (d: Buffer) => (err += d.toString()));
            child.on('close', (code) => resolve({ code, out, err }));
          }),
      ),
    );
    results.forEach((r, i) => {
      assert.equal(r.code, 10 + i, `container ${i}: ${r.err}`);
      assert.equal(r.out.trim(), `n=${i} pid=1`);
    });
    for (const id of ids) assert.ok(!existsSync(join(runcRoot, cd.namespace, id)));
  });

  it("ctr run -d, then task exec and task ps; the shim drove berth-runc (its state is berth's)", () => {
    const id = uniqueId('ctr-exec');
    try {
      let r = runDetached(id, 'echo ready > /tmp/ready; exec sleep 1000');
      assert.equal(r.status, 0, `${r.stderr}\n${cd.logTail()}`);
      assert.equal(taskStatus(id), 'RUNNING');
      // The state the runtime keeps is berth-runc's own record, not runc's.
      const state = JSON.parse(readFileSync(join(runcRoot, cd.namespace, id, 'state.json'), 'utf8')) as Record<
        string,
        unknown
      >;
      assert.equal(state.id, id);
      assert.ok('cgroupPaths' in state && 'pidStartTime' in state, 'a berth-runc state record');
      assert.equal(state.pid, taskPid(id));

      r = cd.ctr([
        'tasks',
        'exec',
        '--exec-id',
        'x1',
        id,
        'sh',
        '-c',
        'echo "exec-$((2+3)) pid=$$ ready=$(cat /tmp/ready) one=$(tr "\\0" " " < /proc/1/cmdline)"',
      ]);
      assert.equal(r.status, 0, `${r.stderr}\n${cd.logTail()}`);
      const m = /^exec-5 pid=(\d+) ready=ready one=sleep 1000 $/m.exec(r.stdout);
      assert.ok(m, `exec output: ${JSON.stringify(r.stdout)}`);
      assert.notEqual(Number(m[1]), 1, 'the exec is a second process in the same pid namespace');

      // Its exit status comes back through the shim.
      r = cd.ctr(['tasks', 'exec', '--exec-id', 'x2', id, 'sh', '-c', 'exit 6']);
      assert.equal(r.status, 6, r.stderr);

      // task ps: the shim asks `ps --format json`.
      r = cd.ctr(['tasks', 'ps', id]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^${taskPid(id)}\\s`, 'm'));
    } finally {
      remove(id);
    }
    assert.ok(!existsSync(join(runcRoot, cd.namespace, id)));
  });

  it('ctr run -t: an interactive shell on a real terminal', async () => {
    const id = uniqueId('ctr-tty');
    try {
      const r = await driveTty(
        ['ctr', '-a', cd.sock, '-n', cd.namespace, 'run', '-t', '--rm', ...rt, IMAGE, id, 'sh'],
        [
          {
            expect: /\/ # /,
            send: 'tty; echo "tt-$((6*7))"; test -t 0 && test -t 1 && test -t 2 && echo "all-$((1+1))-tty"\r',
          },
          { expect: /tt-42/ },
          { expect: /\/ # /, send: 'exit 4\r' },
        ],
      );
      assert.ok(!r.timedOut, `timed out; terminal showed:\n${r.output}\n${cd.logTail()}`);
      assert.match(r.output, /\/dev\/pts\/\d+/, 'stdin is a pty inside the container');
      assert.match(r.output, /tt-42/);
      assert.match(r.output, /all-2-tty/, 'stdin, stdout and stderr are the terminal');
      assert.equal(r.code, 4, r.output);
    } finally {
      remove(id);
    }
  });

  it('ctr task exec -t: a shell on a new terminal beside a running task (exec --console-socket)', async () => {
    const id = uniqueId('ctr-exec-tty');
    try {
      const r0 = cd.ctr(['run', '-d', '--null-io', ...rt, IMAGE, id, 'sleep', '1000']);
      assert.equal(r0.status, 0, r0.stderr);
      const r = await driveTty(
        ['ctr', '-a', cd.sock, '-n', cd.namespace, 'tasks', 'exec', '-t', '--exec-id', 'xt', id, 'sh'],
        [
          { expect: /\/ # /, send: 'tty; echo "ex-$((6*7))"; echo "one=$(tr "\\0" " " < /proc/1/cmdline)"\r' },
          { expect: /ex-42/ },
          { expect: /\/ # /, send: 'exit 2\r' },
        ],
      );
      assert.ok(!r.timedOut, `timed out; terminal showed:\n${r.output}\n${cd.logTail()}`);
      assert.match(r.output, /\/dev\/pts\/\d+/);
      assert.match(r.output, /ex-42/);
      assert.match(r.output, /one=sleep 1000 /);
      assert.equal(r.code, 2, r.output);
      assert.equal(taskStatus(id), 'RUNNING');
    } finally {
      remove(id);
    }
  });

  it('ctr run --seccomp: the default profile is loaded in the container', () => {
    const id = uniqueId('ctr-seccomp');
    const r = cd.ctr([
      'run',
      '--rm',
      '--seccomp',
      ...rt,
      IMAGE,
      id,
      'sh',
      '-c',
      'grep -E "^(Seccomp|NoNewPrivs):" /proc/self/status',
    ]);
    assert.equal(r.status, 0, `${r.stderr}\n${cd.logTail()}`);
    assert.match(r.stdout, /^NoNewPrivs:\s+1$/m, "ctr's default spec sets no_new_privileges");
    assert.match(r.stdout, /^Seccomp:\s+2$/m);
  });

  it('ctr run with --mount (rbind, ro), --read-only, --env and --cwd', () => {
    const id = uniqueId('ctr-opts');
    const vol = join(cd.dir, uniqueId('vol'));
    mkdirSync(vol);
    writeFileSync(join(vol, 'from-host'), 'host-data\n');
    const script = [
      'cat /data/from-host',
      'touch /data/x 2>/dev/null && echo data-writable || echo data-readonly',
      'touch /x 2>/dev/null && echo root-writable || echo root-readonly',
      'echo "env=$GREETING cwd=$(pwd)"',
    ].join('; ');
    const r = cd.ctr([
      'run',
      '--rm',
      ...rt,
      '--mount',
      `type=bind,src=${vol},dst=/data,options=rbind:ro`,
      '--read-only',
      '--env',
      'GREETING=hello',
      '--cwd',
      '/tmp',
      IMAGE,
      id,
      'sh',
      '-c',
      script,
    ]);
    assert.equal(r.status, 0, `${r.stderr}\n${cd.logTail()}`);
    const lines = r.stdout.trim().split('\n');
    assert.deepEqual(lines.slice(0, 4), ['host-data', 'data-readonly', 'root-readonly', 'env=hello cwd=/tmp']);
    assert.ok(!existsSync(join(vol, 'x')));
  });

  it('ctr task pause / resume: PAUSED then RUNNING, and the processes really stop', async () => {
    const id = uniqueId('ctr-pause');
    try {
      const r = runDetached(id, 'i=0; while true; do i=$((i+1)); echo $i > /tmp/count; sleep 0.05; done');
      assert.equal(r.status, 0, r.stderr);
      const pid = taskPid(id);
      const count = () => Number(readFileSync(`/proc/${pid}/root/tmp/count`, 'utf8').trim() || 0);
      await waitUntil('the counter to run', () => existsSync(`/proc/${pid}/root/tmp/count`) && count() > 2, 10000);

      let p = cd.ctr(['tasks', 'pause', id]);
      assert.equal(p.status, 0, p.stderr);
      assert.equal(taskStatus(id), 'PAUSED');
      assert.equal(readFileSync(`/sys/fs/cgroup/freezer/${cd.namespace}/${id}/freezer.state`, 'utf8').trim(), 'FROZEN');
      const frozenAt = count();
      await sleep(400);
      assert.equal(count(), frozenAt, 'no progress while paused');

      p = cd.ctr(['tasks', 'resume', id]);
      assert.equal(p.status, 0, p.stderr);
      assert.equal(taskStatus(id), 'RUNNING');
      assert.equal(readFileSync(`/sys/fs/cgroup/freezer/${cd.namespace}/${id}/freezer.state`, 'utf8').trim(), 'THAWED');
      await waitUntil('progress after resume', () => count() > frozenAt + 2, 10000);
    } finally {
      remove(id);
    }
  });

  it('ctr task kill: SIGTERM reaches the program (its trap sets the status), SIGKILL ends one that ignores TERM (137)', async () => {
    const a = uniqueId('ctr-term');
    const b = uniqueId('ctr-kill');
    try {
      let r = cd.ctr([
        'run',
        '-d',
        '--null-io',
        ...rt,
        IMAGE,
        a,
        'sh',
        '-c',
        'trap "exit 7" TERM; while true; do sleep 0.05; done',
      ]);
      assert.equal(r.status, 0, r.stderr);
      r = cd.ctr([
        'run',
        '-d',
        '--null-io',
        ...rt,
        IMAGE,
        b,
        'sh',
        '-c',
        'trap "" TERM; while true; do sleep 0.05; done',
      ]);
      assert.equal(r.status, 0, r.stderr);
      await sleep(300); // let both shells install their traps

      assert.equal(cd.ctr(['tasks', 'kill', '-s', 'SIGTERM', a]).status, 0);
      await waitUntil(`${a} to stop`, () => taskStatus(a) === 'STOPPED', 10000);
      r = cd.ctr(['tasks', 'delete', a]);
      assert.match(r.stderr, /exit code 7\b/, `exit status of ${a}: ${r.stderr}`);

      assert.equal(cd.ctr(['tasks', 'kill', '-s', 'SIGTERM', b]).status, 0);
      await sleep(500);
      assert.equal(taskStatus(b), 'RUNNING', 'TERM is ignored');
      assert.equal(cd.ctr(['tasks', 'kill', '-s', 'SIGKILL', b]).status, 0);
      await waitUntil(`${b} to stop`, () => taskStatus(b) === 'STOPPED', 10000);
      r = cd.ctr(['tasks', 'delete', b]);
      assert.match(r.stderr, /exit code 137\b/, `exit status of ${b}: ${r.stderr}`);
    } finally {
      remove(a);
      remove(b);
    }
  });

  it('ctr task kill --all reaches every process of the container', async () => {
    const id = uniqueId('ctr-killall');
    try {
      let r = runDetached(id, 'sleep 1000 & sleep 1000 & wait');
      assert.equal(r.status, 0, r.stderr);
      await waitUntil(
        'three processes',
        () =>
          readFileSync(`/sys/fs/cgroup/pids/${cd.namespace}/${id}/cgroup.procs`, 'utf8').trim().split('\n').length ===
          3,
        10000,
      );
      r = cd.ctr(['tasks', 'kill', '--all', '-s', 'SIGKILL', id]);
      assert.equal(r.status, 0, r.stderr);
      await waitUntil(`${id} to stop`, () => taskStatus(id) === 'STOPPED', 10000);
      assert.equal(readFileSync(`/sys/fs/cgroup/pids/${cd.namespace}/${id}/cgroup.procs`, 'utf8').trim(), '');
    } finally {
      remove(id);
    }
  });

  it('logs: stdout and stderr of a detached task reach --log-uri file://', async () => {
    const id = uniqueId('ctr-logs');
    const log = join(cd.dir, `${id}.log`);
    try {
      const r = cd.ctr([
        'run',
        '-d',
        '--log-uri',
        `file://${log}`,
        ...rt,
        IMAGE,
        id,
        'sh',
        '-c',
        'echo "to-stdout $((40+2))"; echo "to-stderr $((50+5))" >&2; exec sleep 1000',
      ]);
      assert.equal(r.status, 0, r.stderr);
      await waitUntil(
        'both lines in the log',
        () =>
          existsSync(log) &&
          /to-stdout 42/.test(readFileSync(log, 'utf8')) &&
          /to-stderr 55/.test(readFileSync(log, 'utf8')),
        10000,
      );
    } finally {
      remove(id);
    }
  });

  it("berth-runc's errors reach ctr with their cause (read from its --log file), and leave nothing behind", () => {
    const cases: [string[], RegExp][] = [
      [
        ['--rootfs-propagation', 'bogus'],
        /OCI runtime create failed: config\.json: linux\.rootfsPropagation: unknown rootfs propagation "bogus"/,
      ],
      [
        ['--with-ns', 'network:/no/such/netns'],
        /OCI runtime create failed: berth-init: join network namespace \/no\/such\/netns: no such file or directory/,
      ],
    ];
    for (const [flags, expected] of cases) {
      const id = uniqueId('ctr-err');
      try {
        const r = cd.ctr(['run', '--rm', ...rt, ...flags, IMAGE, id, 'true']);
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, expected);
      } finally {
        remove(id);
      }
      assert.ok(!existsSync(join(runcRoot, cd.namespace, id)), `no berth-runc state left (${flags.join(' ')})`);
      assert.ok(!existsSync(`/sys/fs/cgroup/pids/${cd.namespace}/${id}`), `no cgroup left (${flags.join(' ')})`);
    }
  });

  // runc looks the program up before `create` returns, so a missing one fails
  // `ctr run` with "exec: ...: no such file or directory"; berth-init does
  // the same (FIND_EXEC before it reports ready).
  it('a missing program fails create with its cause, as with runc', () => {
    const id = uniqueId('ctr-fail');
    try {
      const r = cd.ctr(['run', '--rm', ...rt, IMAGE, id, '/no/such/program']);
      assert.notEqual(r.status, 0);
      // The shim quotes the last error line of berth-runc's JSON log.
      assert.match(r.stderr, /no\/such\/program/, r.stderr);
      assert.match(r.stderr, /no such file or directory/i, r.stderr);
      assert.equal(taskStatus(id), undefined);
    } finally {
      remove(id);
    }
    assert.ok(!existsSync(join(runcRoot, cd.namespace, id)), 'no berth-runc state left by the failed create');
    assert.ok(!existsSync(`/sys/fs/cgroup/pids/${cd.namespace}/${id}`), 'no cgroup left by the failed create');
  });

  it('leaves no berth-runc state behind once every container is gone', () => {
    const dir = join(runcRoot, cd.namespace);
    const left = existsSync(dir) ? readdirSync(dir) : [];
    assert.deepEqual(left, []);
  });
});
