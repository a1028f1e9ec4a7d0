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
  docker(
    args: string[],
    o?: { input?: string; timeout?: number },
  ): { status: number | null; stdout: string; stderr: string };
}

async function startDockerd(name: string, containerd: string): Promise<Dockerd> {
  const dir = mkdtempSync(join('/tmp', `berth-dkdiff-${name}-`));
  const sock = join(dir, 'docker.sock');
  const cgroupParent = `berth-dkdiff-${name}-${process.pid}`;
  writeFileSync(join(dir, 'daemon.json'), '{}\n');
  mkdirSync(join(dir, 'config'));
  const fd = openSync(join(dir, 'dockerd.log'), 'a');
  const proc = spawn(
    'dockerd',
    [
      ...[
        '--config-file',
        join(dir, 'daemon.json'),
        '--data-root',
        join(dir, 'data'),
        '--exec-root',
        join(dir, 'exec'),
      ],
      ...['--pidfile', join(dir, 'dockerd.pid'), '-H', `unix://${sock}`, '--containerd', containerd],
      ...['--iptables=false', '--ip6tables=false', '--ip-masq=false', '--bridge=none'],
      ...['--cgroup-parent', `/${cgroupParent}`, '--log-level', 'debug'],
    ],
    { stdio: ['ignore', fd, fd] },
  );
  closeSync(fd);
  const env = { ...process.env, DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: join(dir, 'config') };
  const docker: Dockerd['docker'] = (args, o = {}) => {
    const r = spawnSync(dockerCli() ?? 'docker', args, {
      encoding: 'utf8',
      timeout: o.timeout ?? 60000,
      input: o.input,
      env,
    });
    return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  };
  await waitUntil(
    `dockerd (${name}) to serve`,
    () => {
      if (proc.exitCode !== null) throw new Error(readFileSync(join(dir, 'dockerd.log'), 'utf8').slice(-2000));
      return existsSync(sock) && docker(['version'], { timeout: 5000 }).status === 0;
    },
    60000,
    200,
  );
  return { name, dir, proc, cgroupParent, docker };
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
  { name: 'kill', args: ['kill', '-s', 'KILL', 'dd-1'], after: 300 },
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
];

function normalise(t: string, step: Step): string {
  let s = t.replace(/\b[0-9a-f]{64}\b/g, '<id>').replace(/\b[0-9a-f]{12}\b/g, '<id>');
  s = s.replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)/g, '<time>');
  s = s.replace(/berth-dkdiff-\w+-\w+/g, '<dir>');
  for (const [re, by] of step.normalise ?? []) s = s.replace(re, by);
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
      const [a, b] = dockerds.map((d) => d.docker(step.args, { input: step.input }));
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
