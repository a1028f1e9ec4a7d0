// The comparison suite's (compat-suite.ts) terminal cases: --help and
// completion, run -it (the terminal restored on every way out), signals,
// attach, the live stats table, and inspect --layers.

import { it, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync, execSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { driveTty } from '../../helpers/pty.js';
import type { Dockerd } from '../../helpers/daemons.js';
import { BERTH, DOCKER, IMAGE, SUFFIX, berth, docker, ok, same, type CompatSuite } from './compare.js';

export function terminalCases(s: CompatSuite): void {
  const { target } = s;
  let d!: Dockerd;
  before(() => {
    d = s.daemon();
  });

  // Help and completion never reach a daemon: once, in the dockerd file.
  it(
    '--help and completion come from the command table',
    { skip: target === 'berthd' && 'no daemon involved (see docker-compat.test.ts)' },
    () => {
      // Every command and management command: help texts as docker 28 prints
      // them (flag columns, wrapping, aliases), except `image build` (not done)
      // and `inspect --layers` (berth's own flag).
      const top = [
        'attach',
        'commit',
        'container',
        'cp',
        'create',
        'diff',
        'events',
        'exec',
        'export',
        'history',
        'image',
        'images',
        'import',
        'info',
        'kill',
        'load',
        'login',
        'logout',
        'logs',
        'network',
        'pause',
        'port',
        'ps',
        'pull',
        'push',
        'rename',
        'restart',
        'rm',
        'rmi',
        'run',
        'save',
        'start',
        'stats',
        'stop',
        'system',
        'tag',
        'top',
        'unpause',
        'update',
        'version',
        'volume',
        'wait',
      ];
      const paths = top.map((c) => [c]);
      for (const m of ['container', 'image', 'network', 'system', 'volume']) {
        const help = berth([m, '--help']).stdout;
        const subs = help
          .slice(help.indexOf('Commands:'))
          .split('\n')
          .slice(1)
          .map((l) => l.trim().split(/\s+/)[0]!)
          .filter((w) => w && !w.startsWith('Run'));
        assert.ok(subs.length >= 4, `${m} lists its commands`);
        for (const s of subs) paths.push([m, s]);
      }
      for (const p of paths) {
        if (p.join(' ') === 'image') continue;
        same([...p, '--help']);
      }
      for (const sh of ['bash', 'zsh', 'fish']) {
        const r = berth(['completion', sh]);
        assert.equal(r.status, 0);
        assert.match(r.stdout, /volume/);
      }
      const bash = berth(['completion', 'bash']).stdout;
      const check = spawnSync('bash', ['-n'], { input: bash });
      assert.equal(check.status, 0, String(check.stderr));
    },
  );

  it('run -it: a real terminal, the exit status, and the terminal restored on every way out', async () => {
    const sh = (cmd: string) =>
      driveTty(['sh', '-c', `${cmd}; echo "rc=$?"; stty -a`], [], { env: d.env, timeoutMs: 60000 });
    const ok5 = await driveTty(
      ['sh', '-c', `${BERTH} run -it --rm --network none ${IMAGE} sh; echo "rc=$?"; stty -a`],
      [
        { expect: /\/ # /, send: 'echo $((6*7)) $(tty)\r' },
        { expect: /42 \/dev\/pts\/0/, send: 'exit 5\r' },
      ],
      { env: d.env, timeoutMs: 60000 },
    );
    assert.match(ok5.output, /rc=5/, ok5.output);
    const restored = (o: string) => / icanon /.test(o) && / echo /.test(o) && !/-icanon/.test(o);
    assert.ok(restored(ok5.output), `terminal back in cooked mode after a normal exit:\n${ok5.output}`);
    const missing = await sh(`${BERTH} run -it --rm --network none ${IMAGE} no-such-command`);
    assert.match(missing.output, /rc=127/);
    assert.ok(restored(missing.output), `terminal restored after a failed start:\n${missing.output}`);
    // ctrl-p ctrl-q: berth leaves, the container runs on; then attach again and end it.
    const det = `detach-${SUFFIX}`;
    const leave = await driveTty(
      ['sh', '-c', `${BERTH} run -it --network none --name ${det} ${IMAGE} sh; echo "rc=$?"`],
      [
        { expect: /\/ # /, send: 'echo before-detach\r' },
        { expect: /before-detach\r*\n/, send: '\x10\x11' },
      ],
      { env: d.env, timeoutMs: 60000 },
    );
    assert.match(leave.output, /rc=0/, leave.output);
    assert.equal(berth(['inspect', '--format', '{{.State.Running}}', det]).stdout, 'true\n');
    // (attach prints nothing by itself: the shell says when it starts it.)
    const back = await driveTty(
      ['sh', '-c', `echo attaching; exec ${BERTH} attach ${det}`],
      [
        { expect: /attaching/, send: 'echo again-$((1+1))\r' },
        { expect: /again-2/, send: 'exit 4\r' },
      ],
      { env: d.env, timeoutMs: 60000 },
    );
    assert.equal(back.code, 4, back.output);
    ok(berth(['rm', det]));
    same(['run', '-it', '--rm', '--network', 'none', IMAGE, 'true']);
    same(['exec', '-it', 'no-such-container', 'true']);
    // Ended from outside while the terminal is raw: a signal to berth (with
    // a tty there is no sig-proxy), or the container killed. Each time the terminal is cooked
    // again and the shell sees the status docker's would show.
    const berthPid = (needle: string) =>
      readdirSync('/proc')
        .filter((p) => /^\d+$/.test(p))
        .find((p) => {
          try {
            const argv = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
            return argv[0] === BERTH && argv.includes(needle);
          } catch {
            return false;
          }
        });
    for (const [how, rc] of [
      ['SIGTERM', 143],
      ['SIGHUP', 129],
      ['SIGINT', 130],
      ['SIGQUIT', 131],
      ['kill', 137],
    ] as const) {
      const nm = `raw-${how.toLowerCase()}-${SUFFIX}`;
      const session = driveTty(
        ['sh', '-c', `${BERTH} run -it --network none --name ${nm} ${IMAGE} sh; echo "rc=$?"; stty -a`],
        [{ expect: new RegExp(`/ # ${String.fromCharCode(0x1b)}\\[6n`), send: 'touch /tmp/raw-now\r' }],
        { env: d.env, timeoutMs: 60000 },
      );
      // The file is there once the shell read our line: berth is attached, the terminal raw.
      // (Polled without blocking: the terminal's driver runs on this event loop.)
      const there = () =>
        new Promise<boolean>((r) =>
          execFile(BERTH, ['exec', nm, 'test', '-f', '/tmp/raw-now'], { env: d.env }, (e) => r(!e)),
        );
      for (let i = 0; i < 300 && !(await there()); i++) await new Promise((r) => setTimeout(r, 100));
      if (how === 'kill') ok(berth(['kill', nm]));
      else process.kill(Number(berthPid(nm)), how);
      const r = await session;
      assert.match(r.output, new RegExp(`rc=${rc}\r?\n`), `${how}: ${r.output}`);
      assert.ok(restored(r.output), `terminal restored after ${how}:\n${r.output}`);
      ok(berth(['rm', '-f', nm]));
    }
  });

  it('signals reach the container (sig-proxy); attach; stats', async () => {
    const { spawn } = await import('node:child_process');
    const child = spawn(
      BERTH,
      [
        'run',
        '--rm',
        '--network',
        'none',
        IMAGE,
        'sh',
        '-c',
        'trap "echo got TERM; exit 7" TERM; echo ready; while true; do sleep 0.1; done',
      ],
      { env: d.env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      if (out === 'ready\n') child.kill('SIGTERM');
    });
    const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    assert.equal(out, 'ready\ngot TERM\n');
    assert.equal(code, 7);

    // attach: the output from the moment of attaching, then the container's status (twins for the two CLIs).
    for (const [cli, run] of [
      ['berth', berth],
      ['docker', docker],
    ] as const) {
      const nm = `attach-${cli}-${SUFFIX}`;
      ok(
        berth([
          'run',
          '-d',
          '--network',
          'none',
          '--name',
          nm,
          IMAGE,
          'sh',
          '-c',
          'sleep 1; echo late; echo err >&2; exit 3',
        ]),
      );
      const at = run(['attach', nm]);
      assert.equal(at.stdout, 'late\n', `${cli} attach`);
      assert.equal(at.stderr, 'err\n', `${cli} attach`);
      assert.equal(at.status, 3, `${cli} attach`);
      ok(berth(['rm', nm]));
    }
    same(['attach', 'no-such-container']);

    const st = `stats-${SUFFIX}`;
    ok(berth(['run', '-d', '--network', 'none', '--name', st, IMAGE, 'sleep', '300']));
    same(['stats', '--no-stream', '--format', '{{.Name}} {{.PIDs}}', st]);
    const table = berth(['stats', '--no-stream', st]).stdout.split('\n');
    assert.match(
      table[0]!,
      /^CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %\s+NET I\/O\s+BLOCK I\/O\s+PIDS$/,
    );
    assert.match(
      table[1]!,
      new RegExp(
        `^[0-9a-f]{12}\\s+${st}\\s+\\d+\\.\\d\\d%\\s+\\S+ / \\S+\\s+\\d+\\.\\d\\d%\\s+0B / 0B\\s+\\S+ / \\S+\\s+1$`,
      ),
    );
    // The live table: docker's redraws, from the streamed endpoint (a
    // frame every 500 ms), ended by SIGINT. The frames' shape is docker's
    // byte for byte once the figures are masked.
    const live = async (bin: string) => {
      const c = spawn(bin, ['stats', st], { env: d.env, stdio: ['ignore', 'pipe', 'pipe'] });
      let o = '';
      c.stdout.on('data', (b: Buffer) => (o += b.toString()));
      const closed = new Promise<NodeJS.Signals | null>((r) => c.on('close', (_code, sig) => r(sig)));
      await new Promise((r) => setTimeout(r, 3500));
      c.kill('SIGINT');
      // docker 28's stats outlives a SIGINT without a terminal: ended for it.
      const late = setTimeout(() => c.kill('SIGKILL'), 3000);
      const sig = await closed;
      clearTimeout(late);
      return { o, sig };
    };
    const mask = (o: string) => o.replace(/[\d.]+(%|[kMG]?i?B)?/g, '#').replace(/ +/g, ' ');
    const [b, k] = [await live(BERTH), await live(DOCKER)];
    assert.equal(b.sig, 'SIGINT', 'berth stats ends on ctrl-c');
    const [bl, dl] = [b.o, k.o];
    const frames = bl.split('\x1b[J').filter(Boolean);
    assert.ok(frames.length >= 3, `at least 3 frames in 3.5 s: ${JSON.stringify(bl)}`);
    assert.equal(mask(frames[0]!), mask(dl.split('\x1b[J')[0]!));
    assert.match(frames[0]!, new RegExp(`^\\x1b\\[HCONTAINER ID .*\\n[0-9a-f]{12} +${st} `));
    // Without names: the running containers, and those that start later
    // (docker follows the events); one that dies leaves the table.
    const watch = spawn(BERTH, ['stats', '--format', '{{.Name}}'], { env: d.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let seen = '';
    watch.stdout.on('data', (b: Buffer) => (seen += b.toString()));
    const lastFrame = () => seen.split('\x1b[J').filter(Boolean).pop() ?? '';
    const until = async (what: string, cond: () => boolean) => {
      for (let i = 0; i < 100 && !cond(); i++) await new Promise((r) => setTimeout(r, 100));
      assert.ok(cond(), `${what}: ${JSON.stringify(lastFrame())}`);
    };
    try {
      await until('the running container listed', () => lastFrame().includes(st));
      const late = `late-${SUFFIX}`;
      ok(berth(['run', '-d', '--network', 'none', '--name', late, IMAGE, 'sleep', '300']));
      await until('a container started later listed', () => lastFrame().includes(late));
      ok(berth(['kill', late]));
      await until('a container that died gone', () => !lastFrame().includes(late) && lastFrame().includes(st));
      ok(berth(['rm', '-f', late]));
    } finally {
      watch.kill('SIGINT');
    }
    ok(berth(['rm', '-f', st]));
  });

  it('inspect --layers names the layer of every fact', () => {
    const nm = `layers-${SUFFIX}`;
    ok(berth(['run', '-d', '--network', 'none', '--name', nm, IMAGE, 'sleep', '300']));
    const id = berth(['inspect', '--format', '{{.Id}}', nm]).stdout.trim();
    const pid = berth(['inspect', '--format', '{{.State.Pid}}', nm]).stdout.trim();
    const r = berth(['inspect', '--layers', nm]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^\\[daemon\\] id: ${id}$`, 'm'));
    assert.match(r.stdout, /^\[daemon\] status: running$/m);
    assert.match(r.stdout, /^\[containerd\] task: \d+\s+RUNNING$/m);
    assert.match(r.stdout, new RegExp(`^\\[runtime\\] init pid: ${pid}$`, 'm'));
    // The kernel's own view agrees: the namespaces shown are those of the container's pid.
    const mnt = execSync(`readlink /proc/${pid}/ns/mnt`, { encoding: 'utf8' }).trim();
    assert.match(r.stdout, new RegExp(`^\\[kernel\\] ns mnt: ${mnt.replace(/[[\]]/g, '\\$&')}$`, 'm'));
    assert.match(
      r.stdout,
      /^\[kernel\] ns net: net:\[\d+\]$/m,
      'a --network none container has its own network namespace',
    );
    assert.match(r.stdout, /^\[kernel\] ns pid: pid:\[\d+\]$/m);
    assert.match(r.stdout, new RegExp(`^\\[daemon\\] log: .*${target}\\.log: [1-9]\\d* recent line`, 'm'));
    // Stopped: no shim, no task, no process; containerd asked directly says it does not know the container.
    ok(berth(['kill', nm]));
    ok(berth(['wait', nm]));
    const s = berth(['inspect', '--layers', nm]);
    assert.equal(s.status, 0, s.stderr);
    assert.match(s.stdout, /^\[daemon\] status: exited$/m);
    assert.match(s.stdout, /^\[daemon\] exit code: 137$/m);
    assert.match(s.stdout, /^\[shim\] process: none found/m);
    assert.match(s.stdout, /^\[containerd\] container: not known/m);
    assert.match(s.stdout, /^\[kernel\] process: no process$/m);
    ok(berth(['rm', '-f', nm]));
  });
}
