// berth-runc as a drop-in runc under the REAL dockerd (Debian's docker.io
// 20.10): `dockerd --add-runtime berth=bin/berth-runc`, then
// `docker run --runtime berth`. dockerd runs on its own data root, exec root,
// socket and cgroup parent, with no iptables and no bridge, and starts its own
// containerd under its exec root; the image is a busybox archive made on the
// spot and `docker load`ed. Everything is stopped, unmounted and removed at
// the end.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isRoot, REPO, uniqueId } from '../../helpers/runtime.js';
import { haveBusybox } from '../../helpers/busybox.js';
import { makeBusyboxImageArchive } from '../../helpers/image-archive.js';
import { dockerCli, startDockerd, which, sleep, waitUntil, mountsUnder, type Dockerd } from '../../helpers/daemons.js';
import { driveTty } from '../../helpers/pty.js';

const BERTH_RUNC = join(REPO, 'bin/berth-runc');
const IMAGE = 'busybox-test:latest';

const missing = ['dockerd', 'containerd', 'containerd-shim-runc-v2', 'script', 'tar'].filter((b) => !which(b));
const skip = !isRoot()
  ? 'needs root (dockerd, namespaces, cgroups, mounts)'
  : missing.length
    ? `needs ${missing.join(', ')} (apt-get install docker.io util-linux tar)`
    : !dockerCli()
      ? 'needs the docker CLI (apt-get install docker.io)'
      : !haveBusybox()
        ? 'needs /bin/busybox (apt-get install busybox-static)'
        : !existsSync(BERTH_RUNC) || !existsSync(join(REPO, 'bin/berth-runc.js'))
          ? 'needs the build (node scripts/build.mjs)'
          : false;

/** Files named state.json under `dir` (berth-runc keeps one per container). */
function findStateFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, depth: number) => {
    if (depth > 6) return;
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(d, n);
      let st;
      try {
        st = statSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) walk(p, depth + 1);
      else if (n === 'state.json') out.push(p);
    }
  };
  walk(dir, 0);
  return out;
}

describe('drop-in: real dockerd runs containers through berth-runc', { skip }, () => {
  let dk: Dockerd;
  const run = ['run', '--runtime', 'berth', '--network', 'none'];
  /** `docker run -d --name NAME IMAGE sh -c SCRIPT` on berth-runc, no network. */
  const runDetached = (name: string, script: string) =>
    dk.docker([...run, '-d', '--name', name, IMAGE, 'sh', '-c', script]);

  before(async () => {
    dk = await startDockerd({ runtimes: { berth: BERTH_RUNC } });
    const archive = makeBusyboxImageArchive(dk.dir);
    const r = dk.docker(['load', '-i', archive.file]);
    assert.equal(r.status, 0, `docker load: ${r.stderr}\n${dk.logTail()}`);
    assert.match(r.stdout, /Loaded image: busybox-test:latest/);
    const id = dk.docker(['image', 'inspect', '-f', '{{.Id}}', IMAGE]).stdout.trim();
    assert.equal(id, archive.configDigest, 'docker sees the image config we wrote');
  });

  after(async () => {
    if (dk) {
      const dir = dk.dir;
      await dk.stop();
      assert.deepEqual(mountsUnder(dir), [], 'mounts left under the temp root');
      assert.ok(!existsSync(dir));
    }
  });

  function inspect(name: string, format: string): string {
    const r = dk.docker(['inspect', '-f', format, name]);
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim();
  }

  function removeContainer(name: string): void {
    dk.docker(['rm', '-f', name]);
  }

  it('docker info lists the berth runtime', () => {
    const r = dk.docker(['info', '--format', '{{json .Runtimes}}']);
    assert.equal(r.status, 0, r.stderr);
    const runtimes = JSON.parse(r.stdout) as Record<string, { path: string }>;
    assert.equal(runtimes.berth?.path, BERTH_RUNC);
  });

  it("docker run --rm: pid 1, docker's hostname and cgroup, the exit status", () => {
    const cidfile = join(dk.dir, `${uniqueId('cid')}`);
    const script = [
      'echo "pid=$$"',
      'echo "host=$(hostname)"',
      'echo "etc-hostname=$(cat /etc/hostname)"',
      'echo "uid=$(id -u)"',
      'echo "pidns=$(readlink /proc/self/ns/pid)"',
      'grep -E "^[0-9]+:(pids|memory):" /proc/self/cgroup',
      'echo "ifaces=$(ls /sys/class/net | tr "\\n" " ")"',
      'exit 3',
    ].join('; ');
    const r = dk.docker([...run, '--rm', '--cidfile', cidfile, IMAGE, 'sh', '-c', script]);
    assert.equal(r.status, 3, `exit status\nstdout: ${r.stdout}\nstderr: ${r.stderr}\n${dk.logTail()}`);
    const id = readFileSync(cidfile, 'utf8').trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    const out = r.stdout;
    assert.match(out, /^pid=1$/m);
    assert.match(out, /^uid=0$/m);
    // Docker names the host after the container's short id (UTS namespace, /etc/hostname bind mount).
    assert.match(out, new RegExp(`^host=${id.slice(0, 12)}$`, 'm'));
    assert.match(out, new RegExp(`^etc-hostname=${id.slice(0, 12)}$`, 'm'));
    const pidns = /^pidns=(.*)$/m.exec(out)?.[1];
    assert.ok(pidns && pidns !== readlinkSync('/proc/self/ns/pid'));
    // --cgroup-parent of our dockerd, then the container id.
    assert.match(out, new RegExp(`^\\d+:pids:/${dk.cgroupParent}/${id}$`, 'm'));
    assert.match(out, new RegExp(`^\\d+:memory:/${dk.cgroupParent}/${id}$`, 'm'));
    // --network none: a network namespace with only the loopback.
    assert.match(out, /^ifaces=lo $/m);
    assert.ok(!existsSync(`/sys/fs/cgroup/pids/${dk.cgroupParent}/${id}`), 'cgroup removed after --rm');
  });

  it('docker run -d, docker exec (output and status) and docker top; the runtime is berth-runc', () => {
    const name = uniqueId('dk-exec');
    try {
      let r = runDetached(name, 'echo ready > /tmp/ready; exec sleep 1000');
      assert.equal(r.status, 0, `${r.stderr}\n${dk.logTail()}`);
      const id = r.stdout.trim();
      assert.equal(inspect(name, '{{.State.Status}}'), 'running');
      assert.equal(inspect(name, '{{.HostConfig.Runtime}}'), 'berth');
      // The runtime state of this container is berth-runc's record.
      const states = findStateFiles(join(dk.dir, 'exec')).filter((f) => f.includes(id));
      assert.equal(states.length, 1, `state.json for ${id}: ${states.join(', ')}`);
      const rec = JSON.parse(readFileSync(states[0]!, 'utf8')) as Record<string, unknown>;
      assert.ok('cgroupPaths' in rec && 'pidStartTime' in rec, 'a berth-runc state record');
      assert.equal(rec.pid, Number(inspect(name, '{{.State.Pid}}')));

      r = dk.docker([
        'exec',
        name,
        'sh',
        '-c',
        'echo "exec-$((2+3)) pid=$$ ready=$(cat /tmp/ready) one=$(tr "\\0" " " < /proc/1/cmdline)"',
      ]);
      assert.equal(r.status, 0, `${r.stderr}\n${dk.logTail()}`);
      const m = /^exec-5 pid=(\d+) ready=ready one=sleep 1000 $/m.exec(r.stdout);
      assert.ok(m, `exec output: ${JSON.stringify(r.stdout)}`);
      assert.notEqual(Number(m[1]), 1);

      r = dk.docker(['exec', '-e', 'X=from-exec', '-w', '/tmp', name, 'sh', '-c', 'echo "$X $(pwd)"; exit 6']);
      assert.equal(r.status, 6, r.stderr);
      assert.equal(r.stdout.trim(), 'from-exec /tmp');

      r = dk.docker(['top', name]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /sleep 1000/);
    } finally {
      removeContainer(name);
    }
  });

  it('docker run -it: an interactive shell on a real terminal', async () => {
    const name = uniqueId('dk-tty');
    try {
      const r = await driveTty(
        dk.dockerArgv([...run, '-it', '--rm', '--name', name, IMAGE, 'sh']),
        [
          { expect: /\/ # /, send: 'tty; echo "it-$((6*7))"; test -t 0 && test -t 1 && echo "all-$((1+1))-tty"\r' },
          { expect: /it-42/ },
          { expect: /\/ # /, send: 'exit 4\r' },
        ],
        { env: dk.env },
      );
      assert.ok(!r.timedOut, `timed out; terminal showed:\n${r.output}\n${dk.logTail()}`);
      assert.match(r.output, /\/dev\/pts\/\d+/);
      assert.match(r.output, /it-42/);
      assert.match(r.output, /all-2-tty/);
      assert.equal(r.code, 4, r.output);
    } finally {
      removeContainer(name);
    }
  });

  it('docker exec -it: a shell on a new terminal inside a running container (exec --console-socket)', async () => {
    const name = uniqueId('dk-exec-tty');
    try {
      const r0 = dk.docker([...run, '-d', '--name', name, IMAGE, 'sleep', '1000']);
      assert.equal(r0.status, 0, r0.stderr);
      const r = await driveTty(
        dk.dockerArgv(['exec', '-it', name, 'sh']),
        [
          { expect: /\/ # /, send: 'tty; echo "ex-$((6*7))"; echo "one=$(tr "\\0" " " < /proc/1/cmdline)"\r' },
          { expect: /ex-42/ },
          { expect: /\/ # /, send: 'exit 2\r' },
        ],
        { env: dk.env },
      );
      assert.ok(!r.timedOut, `timed out; terminal showed:\n${r.output}\n${dk.logTail()}`);
      assert.match(r.output, /\/dev\/pts\/\d+/);
      assert.match(r.output, /ex-42/);
      assert.match(r.output, /one=sleep 1000 /, "the exec runs beside the container's pid 1");
      assert.equal(r.code, 2, r.output);
      assert.equal(inspect(name, '{{.State.Status}}'), 'running', 'the container outlives the exec');
    } finally {
      removeContainer(name);
    }
  });

  it("docker's spec reaches the process: default capabilities and seccomp, --user, --read-only, --tmpfs", () => {
    const script = [
      'grep -E "^(CapEff|Seccomp|NoNewPrivs):" /proc/self/status',
      'echo "id=$(id -u):$(id -g)"',
      'touch /root-write 2>/dev/null && echo root-writable || echo root-readonly',
      'touch /scratch/x && echo tmpfs-writable',
      'grep " /scratch " /proc/mounts',
    ].join('; ');
    const r = dk.docker([
      ...run,
      '--rm',
      '--user',
      '1000:1000',
      '--read-only',
      '--tmpfs',
      '/scratch:mode=1777',
      IMAGE,
      'sh',
      '-c',
      script,
    ]);
    assert.equal(r.status, 0, `${r.stderr}\n${dk.logTail()}`);
    const out = r.stdout;
    // Docker's default capability set for a non-root user: the bounding set
    // is the default one and the effective set of uid 1000 is empty.
    assert.match(out, /^CapEff:\s+0000000000000000$/m);
    assert.match(out, /^Seccomp:\s+2$/m, "docker's default seccomp profile is loaded");
    assert.match(out, /^id=1000:1000$/m);
    assert.match(out, /^root-readonly$/m);
    assert.match(out, /^tmpfs-writable$/m);
    assert.match(out, /^tmpfs \/scratch tmpfs rw,/m);

    const root = dk.docker([...run, '--rm', IMAGE, 'sh', '-c', 'grep -E "^CapEff:" /proc/self/status']);
    assert.equal(root.status, 0, root.stderr);
    // runc's and Docker's default set: CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP
    // NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP.
    assert.match(root.stdout, /^CapEff:\s+00000000a80425fb$/m);
  });

  it('docker run with a bind volume, --init, --pids-limit, --cpus, --memory, -e and -w', () => {
    const vol = join(dk.dir, uniqueId('vol'));
    mkdirSync(vol);
    writeFileSync(join(vol, 'from-host'), 'host-data\n');
    const cidfile = join(dk.dir, uniqueId('cid'));
    const script = [
      'cat /data/from-host',
      'echo written > /data/from-container',
      'echo "one=$(tr "\\0" " " < /proc/1/cmdline)"',
      'echo "env=$GREETING cwd=$(pwd)"',
      'cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/memory/memory.limit_in_bytes',
    ].join('; ');
    const r = dk.docker([
      ...run,
      '--rm',
      '--cidfile',
      cidfile,
      '-v',
      `${vol}:/data`,
      '--init',
      '--pids-limit',
      '64',
      '--cpus',
      '0.5',
      '--memory',
      '48m',
      '-e',
      'GREETING=hello',
      '-w',
      '/tmp',
      IMAGE,
      'sh',
      '-c',
      script,
    ]);
    assert.equal(r.status, 0, `${r.stderr}\n${dk.logTail()}`);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines[0], 'host-data');
    assert.match(lines[1]!, /^one=\/sbin\/docker-init -- sh -c /, "docker's init is pid 1, bind-mounted by docker");
    assert.equal(lines[2], 'env=hello cwd=/tmp');
    // The cgroup mount inside shows the container's own cgroups (ro bind of each hierarchy).
    assert.deepEqual(lines.slice(3), ['64', '50000', String(48 * 1024 * 1024)]);
    assert.equal(readFileSync(join(vol, 'from-container'), 'utf8'), 'written\n', 'the bind mount is read-write');
  });

  it('docker stop: SIGTERM reaches the program, which exits on its own with its status', () => {
    const name = uniqueId('dk-stop');
    try {
      let r = runDetached(name, 'trap "echo term-caught; exit 5" TERM; echo started; while true; do sleep 0.05; done');
      assert.equal(r.status, 0, r.stderr);
      const t0 = Date.now();
      r = dk.docker(['stop', '-t', '20', name]);
      assert.equal(r.status, 0, r.stderr);
      assert.ok(Date.now() - t0 < 15000, 'stopped by SIGTERM, not by the SIGKILL after the timeout');
      assert.equal(inspect(name, '{{.State.Status}} {{.State.ExitCode}}'), 'exited 5');
      r = dk.docker(['logs', name]);
      assert.match(r.stdout, /started\n(.*\n)*term-caught/);
    } finally {
      removeContainer(name);
    }
  });

  it('docker kill: a signal the program ignores changes nothing; the default SIGKILL ends it (137)', async () => {
    const name = uniqueId('dk-kill');
    try {
      let r = runDetached(name, 'trap "" TERM; while true; do sleep 0.05; done');
      assert.equal(r.status, 0, r.stderr);
      await sleep(300);
      r = dk.docker(['kill', '-s', 'TERM', name]);
      assert.equal(r.status, 0, r.stderr);
      await sleep(500);
      assert.equal(inspect(name, '{{.State.Status}}'), 'running');
      r = dk.docker(['kill', name]);
      assert.equal(r.status, 0, r.stderr);
      await waitUntil('exit', () => inspect(name, '{{.State.Status}}') === 'exited', 10000);
      assert.equal(inspect(name, '{{.State.ExitCode}}'), '137');
    } finally {
      removeContainer(name);
    }
  });

  it('docker restart: the same container id is deleted and created again by berth-runc', async () => {
    const name = uniqueId('dk-restart');
    try {
      let r = runDetached(name, 'echo "start-$((20+1))"; exec sleep 1000');
      assert.equal(r.status, 0, r.stderr);
      const pid1 = Number(inspect(name, '{{.State.Pid}}'));
      r = dk.docker(['restart', '-t', '1', name]);
      assert.equal(r.status, 0, `${r.stderr}\n${dk.logTail()}`);
      assert.equal(inspect(name, '{{.State.Status}}'), 'running');
      const pid2 = Number(inspect(name, '{{.State.Pid}}'));
      assert.ok(pid2 > 0 && pid2 !== pid1, `a new process (${pid1} → ${pid2})`);
      await waitUntil(
        'two starts in the log',
        () => (dk.docker(['logs', name]).stdout.match(/^start-21$/gm) ?? []).length === 2,
        10000,
      );
      r = dk.docker(['wait', name], { timeout: 2000 });
      assert.equal(r.status, null, 'docker wait blocks while the container runs');
    } finally {
      removeContainer(name);
    }
  });

  it('docker pause / unpause: State.Paused, the freezer, and no progress while paused', async () => {
    const name = uniqueId('dk-pause');
    try {
      const r = runDetached(name, 'i=0; while true; do i=$((i+1)); echo $i > /tmp/count; sleep 0.05; done');
      assert.equal(r.status, 0, r.stderr);
      const id = r.stdout.trim();
      const pid = Number(inspect(name, '{{.State.Pid}}'));
      const count = () => Number(readFileSync(`/proc/${pid}/root/tmp/count`, 'utf8').trim() || 0);
      await waitUntil('the counter to run', () => existsSync(`/proc/${pid}/root/tmp/count`) && count() > 2, 10000);

      assert.equal(dk.docker(['pause', name]).status, 0);
      assert.equal(inspect(name, '{{.State.Status}} {{.State.Paused}}'), 'paused true');
      assert.equal(
        readFileSync(`/sys/fs/cgroup/freezer/${dk.cgroupParent}/${id}/freezer.state`, 'utf8').trim(),
        'FROZEN',
      );
      const frozenAt = count();
      await sleep(400);
      assert.equal(count(), frozenAt);

      assert.equal(dk.docker(['unpause', name]).status, 0);
      assert.equal(inspect(name, '{{.State.Status}} {{.State.Paused}}'), 'running false');
      await waitUntil('progress after unpause', () => count() > frozenAt + 2, 10000);
    } finally {
      removeContainer(name);
    }
  });

  it('docker logs: stdout and stderr of a detached container, each on its stream', async () => {
    const name = uniqueId('dk-logs');
    try {
      let r = runDetached(name, 'echo "out-$((40+2))"; echo "err-$((50+5))" >&2; exec sleep 1000');
      assert.equal(r.status, 0, r.stderr);
      await waitUntil(
        'the log lines',
        () => {
          r = dk.docker(['logs', name]);
          return /out-42/.test(r.stdout) && /err-55/.test(r.stderr);
        },
        10000,
      );
      assert.equal(r.stdout.trim(), 'out-42');
      assert.equal(r.stderr.trim(), 'err-55');
    } finally {
      removeContainer(name);
    }
  });

  it('docker update: new limits reach the cgroup through berth-runc update', () => {
    const name = uniqueId('dk-update');
    try {
      let r = dk.docker([...run, '-d', '--name', name, '--memory', '64m', IMAGE, 'sleep', '1000']);
      assert.equal(r.status, 0, r.stderr);
      const id = r.stdout.trim();
      const cg = `/sys/fs/cgroup/memory/${dk.cgroupParent}/${id}/memory.limit_in_bytes`;
      assert.equal(readFileSync(cg, 'utf8').trim(), String(64 * 1024 * 1024));
      r = dk.docker(['update', '--memory', '96m', '--memory-swap', '192m', '--pids-limit', '50', name]);
      assert.equal(r.status, 0, `${r.stderr}\n${dk.logTail()}`);
      assert.equal(readFileSync(cg, 'utf8').trim(), String(96 * 1024 * 1024));
      assert.equal(readFileSync(`/sys/fs/cgroup/pids/${dk.cgroupParent}/${id}/pids.max`, 'utf8').trim(), '50');
    } finally {
      removeContainer(name);
    }
  });

  // With runc, `docker run IMAGE /no/such/program` fails at create with
  // "exec: ...: no such file or directory" and docker exits 127; the same
  // must hold with berth-runc (berth-init looks the program up before ready).
  it('a missing program fails with its cause and status 127, as with runc', () => {
    const r = dk.docker([...run, '--rm', IMAGE, '/no/such/program']);
    assert.equal(r.status, 127, r.stderr);
    assert.match(r.stderr, /no\/such\/program/);
    assert.match(r.stderr, /no such file or directory/i);
  });
});
