// berthd against dockerd, side by side: the same docker CLI commands (and a
// few raw API calls) against berthd on bin/berth-engine and against Debian's
// dockerd 20.10 on its own temp roots (its own containerd, --bridge=none),
// and a report of where the answers differ: exit codes, stderr, the shapes of
// `--format '{{json .}}'` output (keys and types, not values), list columns,
// events, prune words. Ids, names, times, digests and sizes are normalised
// away; what is left differs only where a user or an SDK would notice.
// Both sides speak API 1.41 (dockerd 20.10's) through the same CLI unless
// --newest is given. A hand-run tool, not a test: it prints, it asserts nothing.
//
//   sudo node --import tsx scripts/docker-differential.ts [--only SUBSTR] [--newest] [--all]

import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { loadavg } from 'node:os';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDockerd } from '../test/helpers/daemons.js';
import { startRegistry } from '../test/helpers/registry.js';
import { seedImage } from '../test/helpers/seed-registry.js';
import { startBerthd, rawRequest, DOCKER_28 } from '../test/helpers/berthd.js';
import { startEngine } from '../test/integration/engine/helpers.js';

const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
const showAll = process.argv.includes('--all');
const apiEnv: NodeJS.ProcessEnv = process.argv.includes('--newest') ? {} : { DOCKER_API_VERSION: '1.41' };

interface Side {
  name: string;
  sock: string;
  docker(args: string[], input?: string): SpawnSyncReturns<string>;
}

/** A value's shape: objects by their keys, arrays by their first element, scalars by type. */
function shape(v: unknown): unknown {
  if (v === null) return 'null';
  if (Array.isArray(v)) return v.length ? [shape(v[0])] : [];
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(o)
        .sort()
        .map((k) => [k, shape(o[k])]),
    );
  }
  return typeof v;
}

const tmp = mkdtempSync('/tmp/dfix-diff-');
let counter = 0;
function norm(s: string, side: Side): string {
  return s
    .replaceAll(side.sock, '<sock>')
    .replaceAll(tmp, '<tmp>')
    .replace(/sha256:[0-9a-f]{64}/g, '<digest>')
    .replace(/\b[0-9a-f]{64}\b/g, '<id>')
    .replace(/\b[0-9a-f]{12}\b/g, '<sid>')
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)/g, '<time>')
    .replace(/\b\d+(\.\d+)?\s?(B|kB|KB|MB|GB|KiB|MiB|GiB)\b/g, '<size>')
    .replace(/\b(About )?(an?|\d+|Less than a) (second|minute|hour)s? ago\b/g, '<ago>')
    .replace(/Up (Less than a second|\d+ seconds?|About a minute)/g, 'Up <t>')
    .replace(/\(\d+\) (Less than a second|\d+ seconds?) ago/g, '(<n>) <ago>')
    .replace(/dfx[a-z0-9]+/g, '<name>')
    .replace(/127\.0\.0\.1:\d+/g, '<registry>')
    .trim();
}

type Case = (s: Side) => Promise<Record<string, unknown>> | Record<string, unknown>;
const cases: [string, Case][] = [];
const c = (name: string, fn: Case) => cases.push([name, fn]);

let IMG = '';
const uniq = () => `dfx${process.pid.toString(36)}${(counter++).toString(36)}`;
/** exit code and stderr (normalised) of one command. */
const ec = (s: Side, args: string[], input?: string) => {
  const r = s.docker(args, input);
  return { code: r.status, err: norm(r.stderr ?? '', s), out: norm(r.stdout ?? '', s) };
};
const run = (s: Side, args: string[]) => s.docker(args).stdout.trim();
const jsonShape = (s: Side, args: string[]) => {
  const r = s.docker(args);
  const lines = r.stdout.trim().split('\n').filter(Boolean);
  try {
    return lines.length ? shape(JSON.parse(lines[0]!)) : `exit ${r.status}: ${norm(r.stderr, s)}`;
  } catch {
    return `not json: ${norm(r.stdout, s)}`;
  }
};

// ---------------------------------------------------------------- errors
c('no such image: run', (s) => ec(s, ['run', '--rm', '--network', 'none', IMG.replace('busybox', 'nosuch'), 'true']));
c('no such image: inspect/rmi/tag/history/save', (s) => ({
  inspect: ec(s, ['image', 'inspect', 'nosuchimage:x']),
  rmi: ec(s, ['rmi', 'nosuchimage:x']),
  tag: ec(s, ['tag', 'nosuchimage:x', 'other:y']),
  history: ec(s, ['history', 'nosuchimage:x']),
  save: ec(s, ['save', '-o', join(tmp, `${s.name}.tar`), 'nosuchimage:x']),
  create: ec(s, ['create', '--pull', 'never', 'nosuchimage:x']),
}));
c('no such container', (s) =>
  Object.fromEntries(
    [
      ['inspect'],
      ['container', 'inspect'],
      ['rm'],
      ['stop'],
      ['start'],
      ['kill'],
      ['restart'],
      ['logs'],
      ['pause'],
      ['unpause'],
      ['wait'],
      ['top'],
      ['port'],
      ['diff'],
      ['exec', '-', 'true'],
      ['rename', '-', 'x'],
      ['cp', '-:/etc', '/tmp/x'],
      ['update', '--memory', '64m', '-'],
      ['export', '-o', '/tmp/x.tar', '-'],
      ['stats', '--no-stream'],
      ['attach'],
    ].map((a) => {
      const args = a.includes('-')
        ? a.map((x) => (x === '-' ? 'nosuchctr' : x.replace('-:', 'nosuchctr:')))
        : [...a, 'nosuchctr'];
      return [a.join(' '), ec(s, args)];
    }),
  ),
);
c('name conflict', (s) => {
  const n = uniq();
  run(s, ['create', '--name', n, '--network', 'none', IMG, 'true']);
  const r = {
    create: ec(s, ['create', '--name', n, '--network', 'none', IMG, 'true']),
    renameSame: ec(s, ['rename', n, n]),
  };
  const m = uniq();
  run(s, ['create', '--name', m, '--network', 'none', IMG, 'true']);
  const r2 = { rename: ec(s, ['rename', m, n]), badName: ec(s, ['create', '--name', 'bad/name', IMG]) };
  run(s, ['rm', n, m]);
  return { ...r, ...r2 };
});
c('bad flag values', (s) =>
  Object.fromEntries(
    [
      ['--restart', 'bogus'],
      ['--restart', 'on-failure:x'],
      ['--restart', 'always:3'],
      ['--restart', 'always', '--rm'],
      ['--cpus', '-1'],
      ['--cpu-shares', '-5'],
      ['--memory', '1k'],
      ['--memory', '64m', '--memory-swap', '32m'],
      ['--memory-swappiness', '200'],
      ['--log-driver', 'bogus'],
      ['--log-opt', 'max-size=bogus'],
      ['--log-opt', 'bogus=1'],
      ['--network', 'nosuchnet'],
      ['--ipc', 'bogus'],
      ['--pid', 'container:nosuchctr'],
      ['--ipc', 'container:nosuchctr'],
      ['--volumes-from', 'nosuchctr'],
      ['--stop-signal', 'BOGUS'],
      ['--device', '/nonexistent/dev'],
      ['--security-opt', 'bogus'],
      ['--security-opt', 'seccomp=/nonexistent.json'],
      ['--security-opt', 'apparmor=nosuchprofile'],
      ['--sysctl', 'kernel.bogus=1'],
      ['--sysctl', 'net.ipv4.ip_forward=1', '--network', 'host'],
      ['--workdir', 'relative'],
      ['-v', 'relative:/x'],
      ['-v', '/tmp:relative'],
      ['--mount', 'type=bind,src=/nonexistent/dfix,dst=/x'],
      ['--mount', 'type=bogus,dst=/x'],
      ['--mount', 'type=volume,src=/abs,dst=/x'],
      ['--tmpfs', 'relative'],
      ['--cap-add', 'BOGUS'],
      ['--cap-drop', 'BOGUS'],
      ['--ulimit', 'bogus=1'],
      ['--ulimit', 'nofile=10:5'],
      ['--shm-size', '-1'],
      ['--health-interval', '100us', '--health-cmd', 'true'],
      ['--health-retries', '-1', '--health-cmd', 'true'],
      ['--oom-score-adj', '5000'],
      ['--pids-limit', '-5'],
      ['--blkio-weight', '5'],
      ['--cpuset-cpus', '99'],
      ['--cpuset-cpus', 'x'],
      ['--kernel-memory', '4m'],
      ['--user', 'nosuchuser'],
      ['--user', '1:nosuchgroup'],
      ['--entrypoint', '/nonexistent'],
      ['--runtime', 'nosuchrt'],
      ['--isolation', 'hyperv'],
      ['--platform', 'windows/amd64'],
      ['--uts', 'bogus'],
      ['--cgroupns', 'bogus'],
      ['--link', 'nosuchctr:alias'],
      ['--dns', 'notanip'],
      ['--add-host', 'bad'],
      ['--mac-address', 'bogus'],
      ['--ip', '10.0.0.5'],
      ['-p', '99999:80'],
      ['-p', '80:80', '--network', 'none'],
      ['-p', '80:80', '--network', 'host'],
      ['--gpus', 'all'],
      ['--storage-opt', 'size=1G'],
    ].map((flags) => [
      flags.join(' '),
      ec(s, ['run', '--rm', ...(flags.includes('--network') ? [] : ['--network', 'none']), ...flags, IMG, 'true']),
    ]),
  ),
);
c('in-container exec failures', (s) => ({
  missingCmd: ec(s, ['run', '--rm', '--network', 'none', IMG, '/nonexistent']),
  notExecutable: ec(s, ['run', '--rm', '--network', 'none', IMG, '/etc/passwd']),
  dirCmd: ec(s, ['run', '--rm', '--network', 'none', IMG, '/etc']),
  exit3: ec(s, ['run', '--rm', '--network', 'none', IMG, 'sh', '-c', 'exit 3']),
  badWorkdirFile: ec(s, ['run', '--rm', '--network', 'none', '-w', '/etc/passwd', IMG, 'true']),
  userMissing: ec(s, ['run', '--rm', '--network', 'none', '-u', 'nosuchuser', IMG, 'true']),
  killed: ec(s, ['run', '--rm', '--network', 'none', IMG, 'sh', '-c', 'kill -9 $$']),
}));
c('state errors', (s) => {
  const id = run(s, ['run', '-d', '--network', 'none', IMG, 'sleep', '300']);
  const stopped = run(s, ['create', '--network', 'none', IMG, 'true']);
  const r = {
    rmRunning: ec(s, ['rm', id]),
    startRunning: ec(s, ['start', id]),
    unpauseRunning: ec(s, ['unpause', id]),
    pause: ec(s, ['pause', id]),
    pauseTwice: ec(s, ['pause', id]),
    execPaused: ec(s, ['exec', id, 'true']),
    stopPaused: ec(s, ['kill', '-s', 'TERM', id]),
    unpause: ec(s, ['unpause', id]),
    killBadSignal: ec(s, ['kill', '-s', 'BOGUS', id]),
    killStopped: ec(s, ['kill', stopped]),
    pauseStopped: ec(s, ['pause', stopped]),
    execStopped: ec(s, ['exec', stopped, 'true']),
    execMissing: ec(s, ['exec', id, '/nonexistent']),
    execNotExec: ec(s, ['exec', id, '/etc/passwd']),
    execExit: ec(s, ['exec', id, 'sh', '-c', 'exit 4']),
    execBadUser: ec(s, ['exec', '-u', 'nosuch', id, 'true']),
    execBadWd: ec(s, ['exec', '-w', '/nonexistent', id, 'true']),
    topStopped: ec(s, ['top', stopped]),
    attachStopped: ec(s, ['attach', stopped]),
    logsStopped: ec(s, ['logs', stopped]),
    stopStopped: ec(s, ['stop', stopped]),
    waitStopped: ec(s, ['wait', stopped]),
    portNone: ec(s, ['port', id]),
    port80: ec(s, ['port', id, '80']),
    statsStopped: ec(s, [
      'stats',
      '--no-stream',
      '--format',
      '{{.Name}} {{.CPUPerc}} {{.MemUsage}} {{.PIDs}}',
      stopped,
    ]),
    rmiInUse: ec(s, ['rmi', IMG]),
  };
  run(s, ['rm', '-f', id, stopped]);
  return r;
});

// ---------------------------------------------------------------- shapes
c('inspect shapes', (s) => {
  const n = uniq();
  const id = run(s, [
    'run',
    '-d',
    '--name',
    n,
    '--network',
    'none',
    '-l',
    'a=b',
    '-e',
    'X=1',
    '-v',
    '/data',
    '--tmpfs',
    '/tm',
    '--health-cmd',
    'true',
    '--health-interval',
    '1s',
    '--restart',
    'on-failure:2',
    IMG,
    'sleep',
    '300',
  ]);
  const ex = s.docker(['exec', '-d', id, 'sleep', '1']);
  const r = {
    container: jsonShape(s, ['inspect', '--format', '{{json .}}', id]),
    stoppedState: (() => {
      const t = run(s, ['create', '--network', 'none', IMG, 'true']);
      const v = jsonShape(s, ['inspect', '--format', '{{json .State}}', t]);
      run(s, ['rm', t]);
      return v;
    })(),
    image: jsonShape(s, ['image', 'inspect', '--format', '{{json .}}', IMG]),
    volume: jsonShape(s, [
      'volume',
      'inspect',
      '--format',
      '{{json .}}',
      (JSON.parse(run(s, ['inspect', '-f', '{{json .Mounts}}', id])) as { Name?: string }[])[0]?.Name ?? 'x',
    ]),
    networkNone: jsonShape(s, ['network', 'inspect', '--format', '{{json .}}', 'none']),
    networkHost: jsonShape(s, ['network', 'inspect', '--format', '{{json .}}', 'host']),
    execExit: ex.status,
    ps: jsonShape(s, ['ps', '--format', '{{json .}}', '-f', `name=${n}`]),
    psTable: norm(run(s, ['ps', '-f', `name=${n}`]).split('\n')[0]!, s),
    images: jsonShape(s, ['images', '--format', '{{json .}}']),
    imagesTable: norm(run(s, ['images']).split('\n')[0]!, s),
    volumeLs: jsonShape(s, ['volume', 'ls', '--format', '{{json .}}']),
    volumeTable: norm(run(s, ['volume', 'ls']).split('\n')[0]!, s),
    networkLs: norm(
      run(s, ['network', 'ls', '--format', '{{.Name}} {{.Driver}} {{.Scope}}', '-f', 'name=^(none|host)$']),
      s,
    ),
    networkTable: norm(run(s, ['network', 'ls']).split('\n')[0]!, s),
    history: jsonShape(s, ['history', '--format', '{{json .}}', IMG]),
    historyTable: norm(run(s, ['history', IMG]).split('\n')[0]!, s),
    stats: jsonShape(s, ['stats', '--no-stream', '--format', '{{json .}}', id]),
    statsTable: norm(run(s, ['stats', '--no-stream', id]).split('\n')[0]!, s),
    top: norm(run(s, ['top', id]).split('\n')[0]!, s),
    df: jsonShape(s, ['system', 'df', '--format', '{{json .}}']),
    dfTable: norm(run(s, ['system', 'df']), s),
    dfV: norm(
      run(s, ['system', 'df', '-v'])
        .split('\n')
        .filter((l) => /^[A-Z]/.test(l))
        .join('\n'),
      s,
    ),
    port: ec(s, ['port', id]),
  };
  run(s, ['rm', '-fv', id]);
  return r;
});
c('raw API shapes', async (s) => {
  const id = run(s, ['run', '-d', '--network', 'none', IMG, 'sleep', '300']);
  const get = async (p: string) => {
    const r = await rawRequest(s.sock, 'GET', `/v1.41${p}`);
    try {
      return { status: r.status, shape: shape(JSON.parse(r.body)) };
    } catch {
      return { status: r.status, body: norm(r.body.slice(0, 200), s) };
    }
  };
  const r = {
    stats: await get(`/containers/${id}/stats?stream=false`),
    statsOneShot: await get(`/containers/${id}/stats?stream=false&one-shot=true`),
    json: await get('/containers/json?all=1&size=1'),
    info: await get('/info'),
    version: await get('/version'),
    df: await get('/system/df'),
    changes: await get(`/containers/${id}/changes`),
    top: await get(`/containers/${id}/top`),
    notFound: await get('/containers/nosuch/json'),
    badPath: await get('/nosuchendpoint'),
    badVersion: await (async () => {
      const r2 = await rawRequest(s.sock, 'GET', '/v1.12/version');
      return { status: r2.status, body: norm(r2.body, s) };
    })(),
    swarm: await get('/swarm'),
    nodes: await get('/nodes'),
    plugins: await get('/plugins'),
    secrets: await get('/secrets'),
    distribution: await get(`/distribution/${encodeURIComponent(IMG)}/json`),
  };
  run(s, ['rm', '-f', id]);
  return r;
});

// ---------------------------------------------------------------- streams and files
c('logs with and without tty', (s) => {
  const a = run(s, ['run', '-d', '--network', 'none', IMG, 'sh', '-c', 'echo out; echo err >&2']);
  const t = run(s, ['run', '-d', '-t', '--network', 'none', IMG, 'sh', '-c', 'echo out; echo err >&2']);
  run(s, ['wait', a, t]);
  const la = s.docker(['logs', a]);
  const lt = s.docker(['logs', t]);
  const r = {
    plain: [JSON.stringify(la.stdout), JSON.stringify(la.stderr)],
    tty: [JSON.stringify(lt.stdout), JSON.stringify(lt.stderr)],
    tail: JSON.stringify(run(s, ['logs', '--tail', '1', a])),
    tailBad: ec(s, ['logs', '--tail', 'x', a]),
    ts: norm(s.docker(['logs', '-t', a]).stdout, s),
    since: ec(s, ['logs', '--since', 'bogus', a]),
    details: ec(s, ['logs', '--details', a]),
    run: ec(s, ['run', '--rm', '--network', 'none', IMG, 'sh', '-c', 'echo out; echo err >&2']),
    runTty: JSON.stringify(s.docker(['run', '--rm', '-t', '--network', 'none', IMG, 'echo', 'hi']).stdout),
    attachStdin: ec(s, ['run', '--rm', '-i', '--network', 'none', IMG, 'cat'], 'piped\n'),
  };
  run(s, ['rm', a, t]);
  return r;
});
c('cp both ways', (s) => {
  const id = run(s, ['run', '-d', '--network', 'none', IMG, 'sleep', '300']);
  const src = join(tmp, `${s.name}-src`);
  writeFileSync(src, 'hello');
  const out = join(tmp, `${s.name}-out`);
  const r = {
    in: ec(s, ['cp', src, `${id}:/tmp/f`]),
    inDirMissing: ec(s, ['cp', src, `${id}:/nonexistent/dir/`]),
    inSrcMissing: ec(s, ['cp', join(tmp, 'nope'), `${id}:/tmp/`]),
    out: ec(s, ['cp', `${id}:/tmp/f`, out]),
    outMissing: ec(s, ['cp', `${id}:/nonexistent`, out]),
    outStdout: ec(s, ['cp', `${id}:/etc/hostname`, '-']).code,
    inStdinBad: ec(s, ['cp', '-', `${id}:/tmp/`], 'not a tar'),
    outDirToFile: ec(s, ['cp', `${id}:/etc`, out]),
    content: run(s, ['exec', id, 'cat', '/tmp/f']),
    readOnly: (() => {
      const ro = run(s, ['run', '-d', '--read-only', '--network', 'none', IMG, 'sleep', '300']);
      const v = ec(s, ['cp', src, `${ro}:/etc/`]);
      run(s, ['rm', '-f', ro]);
      return v;
    })(),
    stopped: (() => {
      run(s, ['stop', '-t', '0', id]);
      return [ec(s, ['cp', src, `${id}:/tmp/g`]), ec(s, ['cp', `${id}:/tmp/g`, `${out}2`])];
    })(),
  };
  run(s, ['rm', '-f', id]);
  rmSync(out, { force: true, recursive: true });
  rmSync(`${out}2`, { force: true, recursive: true });
  return r;
});
c('events', (s) => {
  const since = Math.floor(Date.now() / 1000) - 1;
  const n = uniq();
  run(s, ['run', '--name', n, '--network', 'none', '-l', 'k=v', IMG, 'true']);
  run(s, ['rm', n]);
  const v = uniq();
  run(s, ['volume', 'create', '-l', 'k=v', v]);
  run(s, ['volume', 'rm', v]);
  run(s, ['tag', IMG, `${n}:t`]);
  run(s, ['rmi', `${n}:t`]);
  const until = Math.floor(Date.now() / 1000) + 1;
  const lines = s.docker([
    'events',
    '--since',
    String(since),
    '--until',
    String(until),
    '--format',
    '{{json .}}',
  ]).stdout;
  return {
    events: lines
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const e = JSON.parse(l) as { Type: string; Action: string; Actor: { Attributes: Record<string, string> } };
        return `${e.Type} ${e.Action.replace(/: .*/, ': …')} [${Object.keys(e.Actor.Attributes).sort().join(',')}] ${JSON.stringify(Object.keys(e).sort())}`;
      }),
    plain: norm(
      s.docker(['events', '--since', String(since), '--until', String(until), '--filter', 'type=volume']).stdout,
      s,
    ),
    badFilter: ec(s, ['events', '--since', String(since), '--until', String(until), '--filter', 'bogus=1']),
    badType: ec(s, ['events', '--since', String(since), '--until', String(until), '--filter', 'type=bogus']),
  };
});
c('prune outputs', (s) => {
  const id = run(s, ['create', '--network', 'none', IMG, 'true']);
  run(s, ['volume', 'create', uniq()]);
  const r = {
    container: ec(s, ['container', 'prune', '-f']),
    volume: ec(s, ['volume', 'prune', '-f']),
    volumeAll: ec(s, ['volume', 'prune', '-af']),
    network: ec(s, ['network', 'prune', '-f']),
    image: ec(s, ['image', 'prune', '-f']),
    system: ec(s, ['system', 'prune', '-f']),
    badFilter: ec(s, ['container', 'prune', '-f', '--filter', 'bogus=1']),
    untilBad: ec(s, ['container', 'prune', '-f', '--filter', 'until=bogus']),
    builder: ec(s, ['builder', 'prune', '-f']),
  };
  void id;
  return r;
});
c('volumes and networks errors', (s) => {
  const v = uniq();
  run(s, ['volume', 'create', v]);
  const id = run(s, ['run', '-d', '--network', 'none', '-v', `${v}:/v`, IMG, 'sleep', '300']);
  const r = {
    createAgain: ec(s, ['volume', 'create', v]),
    createBadDriver: ec(s, ['volume', 'create', '-d', 'nosuchdriver', uniq()]),
    createBadOpt: ec(s, ['volume', 'create', '-o', 'bogus=1', uniq()]),
    createBadName: ec(s, ['volume', 'create', 'bad/name']),
    rmInUse: ec(s, ['volume', 'rm', v]),
    rmMissing: ec(s, ['volume', 'rm', 'nosuchvol']),
    inspectMissing: ec(s, ['volume', 'inspect', 'nosuchvol']),
    netInspectMissing: ec(s, ['network', 'inspect', 'nosuchnet']),
    netRmMissing: ec(s, ['network', 'rm', 'nosuchnet']),
    netRmNone: ec(s, ['network', 'rm', 'none']),
    netRmHost: ec(s, ['network', 'rm', 'host']),
    netCreateHost: ec(s, ['network', 'create', '-d', 'host', uniq()]),
    netCreateNone: ec(s, ['network', 'create', 'none']),
    netCreateBadDriver: ec(s, ['network', 'create', '-d', 'nosuchdriver', uniq()]),
    netCreateBadSubnet: ec(s, ['network', 'create', '--subnet', 'bogus', uniq()]),
    netConnectNone: ec(s, ['network', 'connect', 'host', id]),
    netDisconnectNotConnected: ec(s, ['network', 'disconnect', 'host', id]),
  };
  run(s, ['rm', '-f', id]);
  run(s, ['volume', 'rm', v]);
  return r;
});
c('wait, restart, rename, misc', (s) => {
  const id = run(s, ['run', '-d', '--network', 'none', IMG, 'sh', '-c', 'exit 7']);
  const r = {
    wait: ec(s, ['wait', id]),
    waitCondBad: ec(s, ['container', 'wait', id]),
    restartPolicyShown: run(s, ['inspect', '-f', '{{json .HostConfig.RestartPolicy}}', id]),
    updateRestart: ec(s, ['update', '--restart', 'always', id]),
    updateRestartRm: (() => {
      const t = run(s, ['run', '-d', '--rm', '--network', 'none', IMG, 'sleep', '300']);
      const v = ec(s, ['update', '--restart', 'always', t]);
      run(s, ['rm', '-f', t]);
      return v;
    })(),
    renameBad: ec(s, ['rename', id, 'bad/name']),
    renameEmpty: ec(s, ['rename', id, '']),
    commit: ec(s, ['commit', id, 'Bad:Ref']),
    commitChangeBad: ec(s, ['commit', '-c', 'BOGUS x', id]),
    tagBad: ec(s, ['tag', IMG, 'Bad:Ref']),
    pullBad: ec(s, ['pull', 'Bad:Ref']),
    pullMissingTag: ec(s, ['pull', `${IMG.replace(':latest', '')}:nosuchtag`]),
    loadBad: ec(s, ['load'], 'not a tar'),
    importBad: ec(s, ['import', '-'], 'not a tar'),
    loginBad: ec(s, ['login', '-u', 'x', '-p', 'y', IMG.split('/')[0]!]),
    search: ec(s, ['search', 'busybox']),
    build: ec(s, ['build', '-q', '-'], 'FROM scratch\n'),
    swarm: ec(s, ['swarm', 'init']),
    service: ec(s, ['service', 'ls']),
    plugin: ec(s, ['plugin', 'ls']),
    secret: ec(s, ['secret', 'ls']),
    checkpoint: ec(s, ['checkpoint', 'ls', id]),
    context: ec(s, [
      'system',
      'info',
      '--format',
      '{{.Driver}} {{.CgroupVersion}} {{.CgroupDriver}} {{json .SecurityOptions}}',
    ]).code,
  };
  run(s, ['rm', '-f', id]);
  return r;
});

// ---------------------------------------------------------------- docker-py
const py = `
import docker, json, sys
c = docker.DockerClient(base_url=sys.argv[1], version='1.41')
img = sys.argv[2]
out = {}
def tryit(k, f):
    try:
        v = f()
        out[k] = 'ok ' + (v if isinstance(v, str) else type(v).__name__)
    except Exception as e:
        out[k] = type(e).__name__ + ': ' + str(getattr(e, 'explanation', e))
tryit('getMissing', lambda: c.containers.get('nosuchctr'))
tryit('imgMissing', lambda: c.images.get('nosuchimg:x'))
tryit('volMissing', lambda: c.volumes.get('nosuchvol'))
tryit('netMissing', lambda: c.networks.get('nosuchnet'))
tryit('runFail', lambda: c.containers.run(img, 'sh -c "echo boom >&2; exit 3"', network_mode='none', remove=True))
tryit('runOut', lambda: c.containers.run(img, 'echo hi', network_mode='none', remove=True).decode())
tryit('runBadCmd', lambda: c.containers.run(img, '/nonexistent', network_mode='none', remove=True))
ct = c.containers.run(img, 'sleep 300', network_mode='none', detach=True, labels={'a': 'b'})
tryit('status', lambda: (ct.reload(), ct.status)[1])
tryit('execRun', lambda: str(ct.exec_run('sh -c "echo x; exit 2"')))
tryit('execStream', lambda: str(list(ct.exec_run('echo y', stream=True).output)))
tryit('stats', lambda: ','.join(sorted(ct.stats(stream=False).keys())))
tryit('top', lambda: ','.join(ct.top()['Titles']))
tryit('archiveGet', lambda: str(ct.get_archive('/etc/hostname')[1]['name']))
tryit('archiveMissing', lambda: ct.get_archive('/nonexistent'))
tryit('putArchiveBad', lambda: str(ct.put_archive('/nonexistent', b'')))
tryit('logs', lambda: ct.logs(tail=1).decode())
tryit('diff', lambda: str(ct.diff()))
tryit('listLabel', lambda: str(len(c.containers.list(filters={'label': 'a=b'}))))
tryit('listBadFilter', lambda: c.containers.list(filters={'bogus': 'x'}))
tryit('update', lambda: str(ct.update(mem_limit='64m')))
tryit('waitTimeout', lambda: ct.wait(timeout=0.5))
tryit('rename', lambda: ct.rename('bad/name'))
tryit('pauseTwice', lambda: (ct.pause(), ct.pause()))
tryit('unpause', lambda: str(ct.unpause()))
ct.remove(force=True)
tryit('removeAgain', lambda: ct.remove())
tryit('df', lambda: ','.join(sorted(c.df().keys())))
tryit('info', lambda: c.info()['Driver'] and 'ok')
tryit('pruneC', lambda: ','.join(sorted(c.containers.prune().keys())))
tryit('pruneI', lambda: ','.join(sorted(c.images.prune().keys())))
tryit('pruneV', lambda: ','.join(sorted(c.volumes.prune().keys())))
tryit('pruneN', lambda: ','.join(sorted(c.networks.prune().keys())))
tryit('events', lambda: str(sorted(next(c.events(decode=True, since=0, until=int(__import__('time').time()))).keys())))
tryit('createBad', lambda: c.api.create_container(img, host_config={'Memory': 'x'}))
tryit('createUnknownField', lambda: c.api.create_container(img, host_config={'Bogus': 1}))
tryit('imgHistory', lambda: ','.join(sorted(c.images.get(img).history()[0].keys())))
tryit('imgAttrs', lambda: ','.join(sorted(c.images.get(img).attrs.keys())))
print(json.dumps(out))
`;
c('docker-py', (s) => {
  const r = spawnSync('python3', ['-c', py, `unix://${s.sock}`, IMG], { encoding: 'utf8', timeout: 120000 });
  if (r.status !== 0) return { failed: norm(r.stderr, s) };
  const o = JSON.parse(r.stdout) as Record<string, string>;
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, norm(v, s)]));
});

// ---------------------------------------------------------------- raw bodies
c('bad bodies', async (s) => {
  const post = async (p: string, body: string | Buffer, ct = 'application/json') => {
    const r = await rawRequest(s.sock, 'POST', `/v1.41${p}`, body, { 'Content-Type': ct });
    return `${r.status} ${norm(r.body.slice(0, 300), s)}`;
  };
  return {
    malformed: await post('/containers/create', '{bad'),
    wrongType: await post('/containers/create', JSON.stringify({ Image: IMG, Cmd: 5 })),
    wrongTypeHost: await post('/containers/create', JSON.stringify({ Image: IMG, HostConfig: { Memory: 'x' } })),
    noImage: await post('/containers/create', JSON.stringify({})),
    empty: await post('/containers/create', ''),
    textPlain: await post('/containers/create', JSON.stringify({ Image: IMG }), 'text/plain'),
    badName: await post('/containers/create?name=a/b', JSON.stringify({ Image: IMG })),
    big: await post('/containers/create', `{"Image":"${IMG}","Labels":{"x":"${'a'.repeat(20 * 1024 * 1024)}"}}`),
    netBad: await post('/networks/create', '{bad'),
    volBad: await post('/volumes/create', JSON.stringify({ Name: 5 })),
    execBad: await post('/containers/nosuch/exec', JSON.stringify({ Cmd: ['true'] })),
  };
});

// ---------------------------------------------------------------- main
const reg = await startRegistry();
const engine = await startEngine('dfix-diff-eng-');
const b = await startBerthd(engine.sock, { namespace: `dfix-diff-${process.pid}` });
const d = await startDockerd({ runtimes: {}, prefix: 'dfix-diff-dkd-' });
try {
  seedImage(reg.host, 'dfix/busybox:latest');
  IMG = `${reg.host}/dfix/busybox:latest`;
  const side = (name: string, daemon: { sock: string; env: NodeJS.ProcessEnv }): Side => ({
    name,
    sock: daemon.sock,
    docker: (a, input) =>
      spawnSync(DOCKER_28, a, {
        encoding: 'utf8',
        timeout: 60000,
        killSignal: 'SIGKILL',
        input,
        env: { ...daemon.env, ...apiEnv },
      }),
  });
  const sides = [side('berthd', b), side('dockerd', d)];
  for (const s of sides) s.docker(['pull', '-q', IMG]);
  let diffs = 0;
  for (const [name, fn] of cases) {
    if (only && !name.includes(only)) continue;
    const got: Record<string, Record<string, unknown>> = {};
    for (const s of sides) {
      try {
        got[s.name] = await fn(s);
      } catch (e) {
        got[s.name] = { threw: String(e) };
      }
    }
    const keys = new Set([...Object.keys(got.berthd!), ...Object.keys(got.dockerd!)]);
    console.log(`\n=== ${name}`);
    for (const k of keys) {
      const x = JSON.stringify(got.berthd![k], null, 1);
      const y = JSON.stringify(got.dockerd![k], null, 1);
      if (x === y && !showAll) continue;
      if (x !== y) diffs++;
      console.log(`--- ${k}${x === y ? ' (same)' : ''}\n  berthd:  ${x}\n  dockerd: ${y}`);
    }
  }
  console.log(
    `\n${diffs} differences; load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
} finally {
  await d.stop();
  await b.stop();
  await engine.stop();
  await reg.stop();
  rmSync(tmp, { recursive: true, force: true });
}
