// The real dockerd (Debian's docker.io) on berth-engine and on a real
// containerd 1.6, side by side (`dockerd --containerd <socket>` each, own
// data roots): the same docker commands on both, exit codes, stdout and
// stderr compared after ids, times and sizes are replaced by placeholders.
// Prints every difference; exits 1 when there is one.
//
//   node --import tsx scripts/docker-diff.ts [--only SUBSTRING[,SUBSTRING...]]
//
// The image comes from a local registry (test/helpers/registry.ts), pulled
// by each dockerd through its containerd's content store. Run as root.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildImage, startRegistry, type RegistryInstance } from '../test/helpers/registry.js';
import {
  dockerCli,
  pidsWithArg,
  removeCgroup,
  startContainerd,
  terminate,
  unmountUnder,
  waitUntil,
  type Containerd,
} from '../test/helpers/daemons.js';
import { pushImage, startEngine, type Engine } from '../test/integration/engine/helpers.js';

interface Dockerd {
  name: string;
  dir: string;
  proc: ChildProcess;
  cgroupParent: string;
  restart(): Promise<void>;
  docker(
    args: string[],
    o?: { input?: string; timeout?: number; tty?: boolean },
  ): { status: number | null; stdout: string; stderr: string };
}

async function startDockerd(name: string, containerd: string): Promise<Dockerd> {
  const dir = mkdtempSync(join('/tmp', `berth-dkdiff-${name}-`));
  const sock = join(dir, 'docker.sock');
  const cgroupParent = `berth-dkdiff-${name}-${process.pid}`;
  writeFileSync(join(dir, 'daemon.json'), '{}\n');
  mkdirSync(join(dir, 'config'));
  const env = { ...process.env, DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: join(dir, 'config') };
  const docker: Dockerd['docker'] = (args, o = {}) => {
    const argv = [dockerCli() ?? 'docker', ...args];
    // a terminal for the CLI: script(1) runs it on a pty of its own
    const cmd = o.tty ? ['script', '-qec', argv.map((a) => `'${a}'`).join(' '), '/dev/null'] : argv;
    const r = spawnSync(cmd[0]!, cmd.slice(1), {
      encoding: 'utf8',
      timeout: o.timeout ?? 60000,
      input: o.input,
      env,
    });
    return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  };
  const launch = async (): Promise<ChildProcess> => {
    const fd = openSync(join(dir, 'dockerd.log'), 'a');
    const proc = spawn(
      'dockerd',
      [
        ...['--config-file', join(dir, 'daemon.json'), '--data-root', join(dir, 'data')],
        ...['--exec-root', join(dir, 'exec'), '--pidfile', join(dir, 'dockerd.pid')],
        ...['-H', `unix://${sock}`, '--containerd', containerd, '--live-restore'],
        ...['--iptables=false', '--ip6tables=false', '--ip-masq=false', '--bridge=none'],
        ...['--cgroup-parent', `/${cgroupParent}`, '--log-level', 'debug'],
      ],
      { stdio: ['ignore', fd, fd] },
    );
    closeSync(fd);
    await waitUntil(
      `dockerd (${name}) to serve`,
      () => {
        if (proc.exitCode !== null) throw new Error(readFileSync(join(dir, 'dockerd.log'), 'utf8').slice(-2000));
        return existsSync(sock) && docker(['version'], { timeout: 5000 }).status === 0;
      },
      60000,
      200,
    );
    return proc;
  };
  const d: Dockerd = {
    name,
    dir,
    proc: await launch(),
    cgroupParent,
    docker,
    // live-restore: dockerd ends (SIGTERM) and starts again, its containers running on
    restart: async () => {
      if (d.proc.pid) await terminate(d.proc.pid, 20000);
      d.proc = await launch();
    },
  };
  return d;
}

async function stopDockerd(d: Dockerd): Promise<void> {
  const ids = d.docker(['ps', '-aq']).stdout.split('\n').filter(Boolean);
  if (ids.length) d.docker(['rm', '-f', ...ids]);
  if (d.proc.pid) await terminate(d.proc.pid, 20000);
  for (const pid of pidsWithArg(d.dir)) await terminate(pid, 2000);
  unmountUnder(d.dir);
  await removeCgroup(d.cgroupParent);
  rmSync(d.dir, { recursive: true, force: true });
}

interface Step {
  name: string;
  args: string[];
  input?: string;
  /** Wait this many ms after the step. */
  after?: number;
  /** Run the CLI on a terminal. */
  tty?: boolean;
  /** Instead of a docker command: restart each dockerd (live-restore). */
  restartDaemon?: boolean;
  ignoreStdout?: boolean;
  normalise?: [RegExp, string][];
}

const steps = (ref: string): Step[] => [
  { name: 'pull', args: ['pull', ref], ignoreStdout: true },
  { name: 'images', args: ['images', '--format', '{{.Repository}}:{{.Tag}} {{.Size}}'] },
  { name: 'run exit', args: ['run', '--rm', ref, 'sh', '-c', 'echo out; echo err >&2; exit 3'] },
  { name: 'run missing', args: ['run', '--rm', ref, '/nonexistent'] },
  { name: 'run not executable', args: ['run', '--rm', ref, '/etc/passwd'] },
  { name: 'run stdin', args: ['run', '--rm', '-i', ref, 'sh', '-c', 'cat; echo done'], input: 'piped\n' },
  {
    name: 'run env',
    args: ['run', '--rm', '-e', 'A=1', '-w', '/tmp', '-u', '1000:1000', ref, 'sh', '-c', 'echo $A; pwd; id'],
  },
  { name: 'run memory', args: ['run', '--rm', '-m', '64m', ref, 'cat', '/sys/fs/cgroup/memory/memory.limit_in_bytes'] },
  {
    name: 'run oom',
    args: [
      'run',
      '--name',
      'dd-oom',
      '-m',
      '8m',
      '--memory-swap',
      '8m',
      ref,
      'sh',
      '-c',
      'x=a; while true; do x=$x$x; done',
    ],
  },
  {
    name: 'inspect oom',
    args: ['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}} {{.State.OOMKilled}}', 'dd-oom'],
  },
  {
    name: 'run -d',
    args: [
      'run',
      '-d',
      '--name',
      'dd-1',
      ref,
      'sh',
      '-c',
      'trap "echo term; exit 9" TERM; echo started; while true; do sleep 0.1; done',
    ],
    ignoreStdout: true,
    after: 500,
  },
  { name: 'ps', args: ['ps', '--format', '{{.Names}} {{.Status}} {{.Command}}'], normalise: [[/Up .*? /g, 'Up <t> ']] },
  { name: 'exec', args: ['exec', 'dd-1', 'sh', '-c', 'echo in; exit 4'] },
  { name: 'exec missing', args: ['exec', 'dd-1', '/nonexistent'] },
  { name: 'exec -i', args: ['exec', '-i', 'dd-1', 'cat'], input: 'x\n' },
  {
    name: 'exec -u -w -e',
    args: ['exec', '-u', '1000', '-w', '/tmp', '-e', 'B=2', 'dd-1', 'sh', '-c', 'id -u; pwd; echo $B'],
  },
  { name: 'top', args: ['top', 'dd-1'], normalise: [[/^root\s+\d+\s+\d+\s+\d+\s+\S+\s+\S+\s+\S+\s+/gm, 'root <ps> ']] },
  { name: 'logs', args: ['logs', 'dd-1'] },
  { name: 'pause', args: ['pause', 'dd-1'] },
  { name: 'inspect paused', args: ['inspect', '-f', '{{.State.Status}} {{.State.Paused}}', 'dd-1'] },
  { name: 'pause again', args: ['pause', 'dd-1'] },
  { name: 'exec paused', args: ['exec', 'dd-1', 'true'] },
  { name: 'unpause', args: ['unpause', 'dd-1'] },
  { name: 'unpause again', args: ['unpause', 'dd-1'] },
  { name: 'stats', args: ['stats', '--no-stream', '--format', '{{.Name}} {{.PIDs}}', 'dd-1'] },
  { name: 'stop', args: ['stop', '-t', '5', 'dd-1'] },
  { name: 'inspect stopped', args: ['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'dd-1'] },
  { name: 'logs after stop', args: ['logs', 'dd-1'] },
  { name: 'start', args: ['start', 'dd-1'], after: 500 },
  { name: 'restart', args: ['restart', '-t', '1', 'dd-1'], after: 500 },
  { name: 'logs after restart', args: ['logs', 'dd-1'] },
  { name: 'update', args: ['update', '-m', '32m', '--memory-swap', '64m', 'dd-1'], ignoreStdout: true },
  { name: 'update read', args: ['exec', 'dd-1', 'cat', '/sys/fs/cgroup/memory/memory.limit_in_bytes'] },
  { name: 'cp out', args: ['cp', 'dd-1:/etc/hostname', '-'], ignoreStdout: true },
  { name: 'diff', args: ['diff', 'dd-1'] },
  { name: 'commit', args: ['commit', 'dd-1', 'efix/committed:1'], ignoreStdout: true },
  { name: 'rename', args: ['rename', 'dd-1', 'dd-1b'] },
  { name: 'rename back', args: ['rename', 'dd-1b', 'dd-1'] },
  {
    name: 'stats mem',
    args: ['stats', '--no-stream', '--format', '{{.Name}} {{.MemPerc}}', 'dd-1'],
    normalise: [[/\d+\.\d+%/g, '<pct>']],
  },
  { name: 'kill', args: ['kill', '-s', 'KILL', 'dd-1'], after: 300 },
  { name: 'wait', args: ['wait', 'dd-1'] },
  { name: 'inspect killed', args: ['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'dd-1'] },
  { name: 'kill stopped', args: ['kill', 'dd-1'] },
  { name: 'exec stopped', args: ['exec', 'dd-1', 'true'] },
  { name: 'rm', args: ['rm', 'dd-1', 'dd-oom'] },
  {
    name: 'run restart policy',
    args: ['run', '-d', '--name', 'dd-2', '--restart', 'on-failure:2', ref, 'sh', '-c', 'exit 5'],
    ignoreStdout: true,
    after: 3000,
  },
  {
    name: 'inspect restarts',
    args: ['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}', 'dd-2'],
  },
  { name: 'rm -f', args: ['rm', '-f', 'dd-2'] },
  { name: 'run -d sleep', args: ['run', '-d', '--name', 'dd-3', ref, 'sleep', '600'], ignoreStdout: true },
  { name: 'stop sleep (SIGTERM ignored by pid 1, then KILL)', args: ['stop', '-t', '1', 'dd-3'] },
  { name: 'inspect sleep', args: ['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'dd-3'] },
  { name: 'run --init', args: ['run', '--rm', '--init', ref, 'sh', '-c', 'ps -o comm | head -3'] },
  { name: 'run --pids-limit', args: ['run', '--rm', '--pids-limit', '5', ref, 'cat', '/sys/fs/cgroup/pids/pids.max'] },
  { name: 'run --read-only', args: ['run', '--rm', '--read-only', ref, 'touch', '/x'] },
  { name: 'run --cap-drop', args: ['run', '--rm', '--cap-drop', 'ALL', ref, 'grep', 'CapEff', '/proc/self/status'] },
  { name: 'run --privileged', args: ['run', '--rm', '--privileged', ref, 'grep', 'CapEff', '/proc/self/status'] },
  {
    name: 'run --tmpfs',
    args: ['run', '--rm', '--tmpfs', '/scratch:size=1m', ref, 'sh', '-c', 'grep scratch /proc/mounts'],
  },
  {
    name: 'run -v',
    args: ['run', '--rm', '-v', '/etc/hostname:/h:ro', ref, 'sh', '-c', 'cat /h >/dev/null && touch /h'],
  },
  { name: 'run --network none', args: ['run', '--rm', '--network', 'none', ref, 'ls', '/sys/class/net'] },
  { name: 'run hostname', args: ['run', '--rm', '-h', 'efixhost', ref, 'hostname'] },
  { name: 'run signal exit', args: ['run', '--rm', ref, 'sh', '-c', 'kill -9 $$'] },
  { name: 'rm sleep', args: ['rm', 'dd-3'] },
  { name: 'images after', args: ['images', '--format', '{{.Repository}}:{{.Tag}}'] },
  { name: 'tty run -t', tty: true, args: ['run', '--rm', '-t', ref, 'sh', '-c', 'tty; echo $TERM; stty size; exit 3'] },
  { name: 'tty run -it', tty: true, args: ['run', '--rm', '-it', ref, 'sh', '-c', 'tty; exit 4'] },
  {
    name: 'tty run -d -t',
    args: ['run', '-d', '-t', '--name', 'dd-tty', ref, 'sh', '-c', 'while true; do sleep 1; done'],
    ignoreStdout: true,
    after: 300,
  },
  { name: 'tty exec -t', tty: true, args: ['exec', '-t', 'dd-tty', 'sh', '-c', 'tty; echo $TERM'] },
  { name: 'tty resize', args: ['exec', 'dd-tty', 'sh', '-c', 'stty size < /dev/console 2>&1 || true'] },
  { name: 'tty rm', args: ['rm', '-f', 'dd-tty'] },
  {
    name: 'attach start',
    args: ['run', '-d', '--name', 'dd-at', ref, 'sh', '-c', 'sleep 1; echo late; exit 6'],
    ignoreStdout: true,
  },
  { name: 'attach', args: ['attach', 'dd-at'] },
  { name: 'attach wait', args: ['wait', 'dd-at'] },
  { name: 'attach rm', args: ['rm', 'dd-at'] },
  {
    name: 'live run -d',
    args: [
      'run',
      '-d',
      '--name',
      'dd-live',
      ref,
      'sh',
      '-c',
      'i=0; while true; do echo tick $i; i=$((i+1)); sleep 1; done',
    ],
    ignoreStdout: true,
    after: 1500,
  },
  { name: 'live exec before', args: ['exec', 'dd-live', 'echo', 'before'] },
  { name: 'live restart dockerd', args: [], restartDaemon: true, after: 500 },
  { name: 'live ps', args: ['ps', '--format', '{{.Names}} {{.State}}'] },
  { name: 'live exec after', args: ['exec', 'dd-live', 'echo', 'after'] },
  { name: 'live logs', args: ['logs', '--tail', '1', 'dd-live'], normalise: [[/tick \d+/g, 'tick <n>']] },
  { name: 'live pause', args: ['pause', 'dd-live'] },
  { name: 'live unpause', args: ['unpause', 'dd-live'] },
  { name: 'live stop', args: ['stop', '-t', '1', 'dd-live'] },
  { name: 'live inspect', args: ['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'dd-live'] },
  { name: 'live rm', args: ['rm', 'dd-live'] },
];

function normalise(t: string, step: Step): string {
  let s = t.replace(/\b[0-9a-f]{64}\b/g, '<id>').replace(/\b[0-9a-f]{12}\b/g, '<id>');
  s = s.replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)/g, '<time>');
  s = s.replace(/berth-dkdiff-\w+-\w+/g, '<dir>');
  for (const [re, by] of step.normalise ?? []) s = s.replace(re, by);
  // containerd's shim writes a NUL first on a terminal (script shows it as ^@)
  s = s.replace(/\r|\0|\^@/g, '');
  return s.replace(/[ \t]+/g, ' ').replace(/ +\n/g, '\n');
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : undefined;
  let reg: RegistryInstance | undefined;
  let eng: Engine | undefined;
  let ctrd: Containerd | undefined;
  const dockerds: Dockerd[] = [];
  let differences = 0;
  try {
    reg = await startRegistry();
    const ref = pushImage(reg, buildImage({ config: { WorkingDir: '/' } }), 'efix/dockerdiff');
    eng = await startEngine('berth-dkdiff-eng-');
    ctrd = await startContainerd({ prefix: 'berth-dkdiff-ctrd-' });
    dockerds.push(await startDockerd('engine', eng.sock), await startDockerd('ctrd', ctrd.sock));
    for (const step of steps(ref)) {
      if (only && !only.split(',').some((o) => step.name.includes(o)) && step.name !== 'pull') continue;
      if (step.restartDaemon) {
        for (const d of dockerds) await d.restart();
        console.log(`---- ${step.name}`);
        continue;
      }
      const [a, b] = dockerds.map((d) => d.docker(step.args, { input: step.input, tty: step.tty }));
      if (step.after) await new Promise((r) => setTimeout(r, step.after));
      const diffs: string[] = [];
      if (a!.status !== b!.status) diffs.push(`  exit: ${a!.status} vs ${b!.status}`);
      const out = (x: typeof a) => normalise(x!.stdout, step);
      const err = (x: typeof a) => normalise(x!.stderr, step);
      if (!step.ignoreStdout && out(a) !== out(b))
        diffs.push(`  stdout:\n    engine: ${out(a)}\n    ctrd:   ${out(b)}`);
      if (err(a) !== err(b)) diffs.push(`  stderr:\n    engine: ${err(a)}\n    ctrd:   ${err(b)}`);
      if (diffs.length) {
        differences++;
        console.log(`DIFF ${step.name}: docker ${step.args.join(' ')}\n${diffs.join('\n')}`);
      } else console.log(`same ${step.name}`);
    }
  } finally {
    for (const d of dockerds) await stopDockerd(d);
    await ctrd?.stop();
    await eng?.stop();
    await reg?.stop();
  }
  console.log(`${differences} difference(s)`);
  process.exitCode = differences ? 1 : 0;
}

if (process.getuid?.() !== 0) {
  console.error('docker-diff: run as root');
  process.exit(2);
}
await main();
