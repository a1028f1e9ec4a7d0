// berth against the real docker CLI (28.x at /usr/local/bin/docker), both
// talking to one real daemon started for the file on a temporary root and
// socket: dockerd (no iptables, no bridge) or berthd on berth-engine.
// Containers use --network none. The same command goes through both CLIs;
// stdout, stderr and exit status are compared after ids, relative times and
// the program's name are normalised (compare.ts). The image is a busybox root
// filesystem made on the spot (`docker import`ed into dockerd, pulled from a
// local registry into berthd). The files docker-compat.test.ts (dockerd) and
// berthd-compat.test.ts (berthd, with its table of pending steps) run it.

import { describe, it, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync, execSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { makeBundleDir } from '../../helpers/busybox.js';
import { driveTty } from '../../helpers/pty.js';
import type { Dockerd } from '../../helpers/daemons.js';
import {
  BERTH,
  DOCKER,
  IMAGE,
  SUFFIX,
  berth,
  docker,
  ok,
  same,
  setTarget,
  skip,
  skipBerthd,
  startDaemon,
  step,
  unvisitedPending,
  type Pending,
  type Target,
} from './compare.js';

let d: Dockerd;

/** The storage driver each daemon reports: dockerd's graph driver, berthd's snapshotter. */
const DRIVER: Record<Target, string> = { dockerd: 'overlay2', berthd: 'overlayfs' };

/** A step berthd may still have pending (compare.ts `step`): its failure shown as a diagnostic. */
function pend(t: TestContext, key: string, fn: () => void): void {
  const m = step(key, fn);
  if (m) t.diagnostic(m);
}

export function compatSuite(target: Target, pending: Pending = {}): void {
  describe(
    `berth CLI against ${target}, compared with the docker CLI`,
    { skip: target === 'berthd' ? skipBerthd : skip, concurrency: false },
    () => {
      before(async () => {
        setTarget(target, pending);
        d = await startDaemon(target);
      });
      after(async () => {
        if (d) await d.stop();
      });

      it("info --format '{{.Driver}}' prints what docker prints", () => {
        const b = same(['info', '--format', '{{.Driver}}']);
        assert.equal(b.stdout, `${DRIVER[target]}\n`);
        same(['info', '--format', '{{.Containers}} {{.Images}} {{json .Plugins.Volume}} {{.ServerVersion}}']);
        same(['info', '--format', '{{range .Plugins.Log}}{{.}},{{end}}']);
        same(['info', '--format', '{{- if eq .OSType "linux" -}} L {{- else}}X{{end -}}']);
      });

      it('version --format reads the server through the negotiated API version', () => {
        same(['version', '--format', '{{.Server.Version}} {{.Server.APIVersion}} {{.Server.Os}}/{{.Server.Arch}}']);
        same(['version', '--format', '{{.Client.APIVersion}}']);
        // A pinned API version is used as is (no negotiation).
        same(['version', '--format', '{{.Client.APIVersion}} {{.Server.Version}}'], {
          env: { DOCKER_API_VERSION: '1.40' },
        });
        same(['ps', '-a', '--format', '{{.Names}}'], { env: { DOCKER_API_VERSION: '1.40' } });
      });

      it('bad input: flags, commands, argument counts, templates', () => {
        same(['ps', '--foo']);
        same(['ps', '-x']);
        same(['nosuchcommand']);
        same(['run']);
        same(['ps', '-a', 'extra']);
        same(['rename', 'one']);
        same(['logs', '--tail']);
        same(['volume', 'nosuch']);
        same(['info', '--format', '{{.Nope}}']);
        same(['info', '--format', '{{.Driver']);
        same(['ps', '--format', '{{.Nope}}']);
        same(['ps', '-a', '--format', '{{.Names']);
        same(['images', '--format', '{{nofunc .ID}}']);
        same(['run', '-p', 'abc', IMAGE]);
        same(['run', '--network', 'none', '--mount', 'type=bind', IMAGE]);
        same(['run', '--network', 'none', '--mount', 'source=/tmp', IMAGE]);
        same(['inspect', 'no-such-thing']);
        same(['ps', '--filter', 'novalue']);
        same(['images', '-f', 'novalue']);
        same(['run', '--pull', 'never', '--network', 'none', 'berth-no-such-image:1']);
        same(['run', '--network', 'none', '--name', 'bad name!', IMAGE]);
        same(['create', '--network', 'none', '--memory', 'lots', IMAGE]);
        same(['run', '--network', 'none', '--ulimit', 'nofile', IMAGE]);
        same(['run', '--network', 'none', '--restart', 'sometimes', IMAGE]);
        const cid = join(d.dir, 'existing.cid');
        writeFileSync(cid, 'x');
        same(['run', '--network', 'none', '--cidfile', cid, IMAGE]);
        same(['rmi', 'no-such-image']);
        same(['stop', 'no-such-container']);
        for (const ref of ['Busybox', 'Bad:Name', 'a@b', 'x:y:z', 'registry.example:5000/Up/per:1', 'ok/-bad']) {
          same(['pull', ref]);
          same(['tag', IMAGE, ref]);
          same(['run', '--network', 'none', ref]);
        }
        same(['rmi', '-f', 'no-such-image']);
        for (const c of [
          ['start', 'nope', 'nope2'],
          ['rename', 'nope', 'other'],
          ['kill', '-s', 'BOGUS', 'nope'],
          ['wait', 'nope'],
          ['exec', 'nope', 'true'],
          ['pause', 'nope'],
          ['logs', 'nope'],
          ['port', 'nope'],
          ['top', 'nope'],
          ['diff', 'nope'],
          ['tag', 'nope', 'x'],
          ['history', 'nope'],
          ['commit', 'nope'],
          ['cp', 'nope:/x', '/tmp/berth-nope'],
          ['export', 'nope'],
          ['stats', '--no-stream', 'nope'],
          ['login', '--password-stdin'],
          ['network', 'create', '--driver', 'bogus', 'x'],
        ]) {
          same(c);
        }
      });

      it('an unreachable daemon: docker message and status', () => {
        const env = { DOCKER_HOST: 'unix:///tmp/berth-no-such-daemon.sock' };
        same(['ps'], { env });
        same(['run', IMAGE], { env });
        same(['images', '-q'], { env });
      });

      it('run: output, exit codes 0/3/125/126/127, flags reaching the container', (t) => {
        const n = ['--rm', '--network', 'none'];
        assert.equal(same(['run', ...n, IMAGE, 'echo', 'hello']).stdout, 'hello\n');
        assert.equal(same(['run', ...n, IMAGE, 'sh', '-c', 'exit 3']).status, 3);
        assert.equal(same(['run', ...n, IMAGE, 'no-such-command']).status, 127);
        assert.equal(same(['run', ...n, IMAGE, '/etc/passwd']).status, 126);
        same(['run', ...n, IMAGE, 'sh', '-c', 'echo out; echo err >&2']);
        const env = same([
          'run',
          ...n,
          '-e',
          'A=1',
          '--env',
          'B=two words',
          '-w',
          '/tmp',
          '-u',
          '65534:65534',
          '--hostname',
          'h-berth',
          IMAGE,
          'sh',
          '-c',
          'echo $A $B $(pwd) $(id -u):$(id -g) $(hostname)',
        ]);
        assert.equal(env.stdout, '1 two words /tmp 65534:65534 h-berth\n');
        const envFile = join(d.dir, 'env.list');
        writeFileSync(envFile, '# comment\nFROMFILE=yes\n');
        assert.equal(same(['run', ...n, '--env-file', envFile, IMAGE, 'sh', '-c', 'echo $FROMFILE']).stdout, 'yes\n');
        same(['run', ...n, '--read-only', IMAGE, 'touch', '/x']);
        assert.match(
          same([
            'run',
            ...n,
            '--tmpfs',
            '/scratch:size=1m',
            IMAGE,
            'sh',
            '-c',
            'grep /scratch /proc/mounts | cut -d" " -f1,2,3',
          ]).stdout,
          /^tmpfs \/scratch tmpfs\n$/,
        );
        assert.equal(
          same([
            'run',
            ...n,
            '--cap-drop',
            'ALL',
            '--cap-add',
            'CHOWN',
            IMAGE,
            'sh',
            '-c',
            'grep CapEff /proc/self/status',
          ]).stdout,
          'CapEff:\t0000000000000001\n',
        );
        assert.equal(same(['run', ...n, '--memory', '64m', '--pids-limit', '42', IMAGE, 'true']).status, 0);
        assert.equal(
          same(['run', ...n, '--entrypoint', '/bin/echo', IMAGE, 'via', 'entrypoint']).stdout,
          'via entrypoint\n',
        );
        assert.equal(same(['run', ...n, '-i', IMAGE, 'cat'], { input: 'piped stdin\n' }).stdout, 'piped stdin\n');
        pend(t, 'run --add-host', () =>
          assert.equal(
            same(['run', ...n, '--add-host', 'berth-host:127.0.0.9', IMAGE, 'grep', 'berth-host', '/etc/hosts']).stdout,
            '127.0.0.9\tberth-host\n',
          ),
        );
        const host = mkdtempSync(join(tmpdir(), 'berth-cli-vol-'));
        try {
          writeFileSync(join(host, 'f'), 'from host\n');
          assert.equal(same(['run', ...n, '-v', `${host}:/data:ro`, IMAGE, 'cat', '/data/f']).stdout, 'from host\n');
          assert.equal(
            same(['run', ...n, '--mount', `type=bind,source=${host},target=/m,readonly`, IMAGE, 'cat', '/m/f']).stdout,
            'from host\n',
          );
        } finally {
          rmSync(host, { recursive: true, force: true });
        }
      });

      it('container lifecycle: create, start, ps (formats, filters), pause, rename, stop, wait, rm', (t) => {
        const names = ['a', 'b'].map((x) => `${x}-${SUFFIX}`);
        for (const nm of names) {
          const c = berth([
            'create',
            '--network',
            'none',
            '--name',
            nm,
            '--label',
            `role=${nm}`,
            IMAGE,
            'sleep',
            '300',
          ]);
          assert.equal(c.status, 0, c.stderr);
          assert.match(c.stdout, /^[0-9a-f]{64}\n$/);
        }
        same(['ps', '-a', '--format', '{{.Names}} {{.State}} {{.Label "role"}} {{.Command}}']);
        same(['ps', '-a', '--filter', `name=a-${SUFFIX}`, '--format', '{{.Names}}']);
        same(['ps', '-a', '--format', 'table {{.Names}}\t{{.Image}}\t{{.Labels}}']);
        same(['ps', '-a', '--format', '{{json .Labels}} {{.Mounts}} {{.Networks}} {{.LocalVolumes}}']);
        same(['ps', '-a', '--format', '{{range $i, $n := split .Names "-"}}{{if $i}}+{{end}}{{upper $n}}{{end}}']);
        same(['ps', '-a', '-q']);
        same(['ps', '-a', '--no-trunc', '--format', '{{.ID}} {{.Command}}']);
        assert.equal(berth(['start', ...names]).stdout, names.join('\n') + '\n');
        same(['ps']);
        same(['ps', '-a']);
        same(['ps', '--no-trunc']);
        same(['ps', '-s', '--format', '{{.Names}}']);
        assert.equal(berth(['pause', names[0]!]).status, 0);
        same(['ps', '--filter', 'status=paused', '--format', '{{.Names}} {{.Status}}']);
        assert.equal(berth(['unpause', names[0]!]).status, 0);
        same([
          'inspect',
          '--format',
          '{{.State.Status}} {{.Config.Labels.role}} {{json .Config.Cmd}} {{.HostConfig.NetworkMode}}',
          names[0]!,
        ]);
        same(['container', 'inspect', '--format', '{{index .Config.Labels "role"}} {{len .Config.Cmd}}', names[1]!]);
        same(['top', names[0]!, '-o', 'comm']);
        same(['exec', names[0]!, 'sh', '-c', 'echo in $(hostname | wc -c) && exit 4']);
        assert.equal(same(['exec', '-i', names[0]!, 'cat'], { input: 'exec stdin\n' }).stdout, 'exec stdin\n');
        same(['exec', '-e', 'X=1', '-w', '/etc', names[0]!, 'sh', '-c', 'echo $X $(pwd)']);
        pend(t, 'container diff', () => assert.equal(same(['diff', names[0]!]).status, 0));
        const renamed = `c-${SUFFIX}`;
        assert.equal(berth(['rename', names[1]!, renamed]).status, 0);
        same(['ps', '--filter', `name=${renamed}`, '--format', '{{.Names}}']);
        // sleep is pid 1 in the container: TERM has no default action there, KILL does.
        assert.equal(berth(['kill', '-s', 'KILL', names[0]!]).status, 0);
        const w = berth(['wait', names[0]!]);
        assert.equal(w.stdout, '137\n');
        ok(berth(['stop', '-t', '1', renamed]));
        same(['ps', '-a', '--format', '{{.Names}} {{.State}}']);
        same(['container', 'ls', '-a', '--format', '{{.Names}}']);
        const rm = berth(['rm', names[0]!, 'no-such-container']);
        assert.equal(rm.stdout, `${names[0]}\n`);
        assert.equal(rm.stderr, 'Error response from daemon: No such container: no-such-container\n');
        assert.equal(rm.status, 1);
        same(['rm', names[0]!]);
        assert.equal(berth(['rm', renamed]).stdout, `${renamed}\n`);
        same(['ps', '-a']);
      });

      it('templates: the same text as docker for the same objects', () => {
        const nm = `tmpl-${SUFFIX}`;
        ok(
          berth([
            'create',
            '--network',
            'none',
            '--name',
            nm,
            '--label',
            'a=1',
            '--label',
            'b=<two>',
            '-e',
            'K=V',
            IMAGE,
            'sh',
            '-c',
            'echo "quoted arg"',
          ]),
        );
        const ps = (t: string) => same(['ps', '-a', '--filter', `name=${nm}`, '--format', t]);
        ps('{{printf "%-12s|%5d|%q" .Names 42 .Status}}');
        ps('{{pad .Names 2 3}}|{{truncate .Names 4}}|{{len .Names}}|{{slice .Names 0 4}}');
        ps('{{if and (eq .State "created") (ne .Names "x")}}yes{{else}}no{{end}} {{or .Ports "none"}} {{not .Ports}}');
        ps('{{with .Ports}}p={{.}}{{else}}no ports{{end}} {{lt 1 2}} {{ge (len .Names) 3}}');
        ps('{{- .Names -}}   {{- "!" -}}\n{{/* a comment */}}next');
        ps('{{json .Labels}} {{.Labels}} {{.Label "b"}} {{join (split .Labels ",") ";"}}');
        ps('{{$n := .Names}}{{range $i, $c := split $n "-"}}[{{$i}}:{{upper $c}}]{{end}} {{println "x"}}');
        ps('{{title .State}} {{lower "ABC"}} {{index (split .Names "-") 0}}');
        ps('table {{.Names}}\t{{.Label "a"}}\t{{upper .State}}');
        ps('{{json .}}');
        ps('{{index .Names 99}}');
        ps('{{.Names.Nope}}');
        ps('{{range .Names}}x{{end}}');
        const ins = (t: string) => same(['inspect', '--format', t, nm]);
        ins('{{.Name}} {{.Config.Image}} {{json .Config.Cmd}} {{index .Config.Labels "b"}} {{.Config.Labels.a}}');
        ins(
          '{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}} {{range .Config.Env}}{{if eq . "K=V"}}found{{end}}{{end}}',
        );
        ins('{{.State.Running}} {{.State.ExitCode}} {{.HostConfig.Memory}} {{len .Mounts}} {{.RestartCount}}');
        ins('{{.ID}} {{.Id}}');
        ins('{{json .Config.Labels}}');
        ins('{{.Nope}}');
        ins('{{.Config.Nope}}');
        ins('{{range .Config.Cmd}}<{{.}}>{{end}}');
        same(['image', 'inspect', '--format', '{{.ID}} {{.Os}} {{index .RepoTags 0}} {{json .RootFS.Type}}', IMAGE]);
        same([
          'network',
          'inspect',
          '--format',
          '{{.Name}} {{.Driver}} {{.Scope}} {{json .IPAM.Driver}} {{.ID}}',
          'none',
        ]);
        same(['image', 'inspect', '--format', '{{.Nope}}', IMAGE]);
        same(['volume', 'inspect', '--format', '{{.Nope}}', 'no-such-volume']);
        same(['container', 'inspect', 'no-such-container']);
        same(['network', 'inspect', 'none', 'no-such-network']);
        ok(berth(['rm', nm]));
      });

      it('logs, port, restart, update, cp, export', (t) => {
        const nm = `logs-${SUFFIX}`;
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
            'echo one; echo two >&2; sleep 300',
          ]),
        );
        for (let i = 0; i < 50 && !berth(['logs', nm]).stdout.includes('one'); i++) execSync('sleep 0.1');
        same(['logs', nm]);
        same(['logs', '--tail', '1', nm]);
        same(['logs', '-t', nm]);
        same(['logs', '--since', '0', '--tail', '0', nm]);
        same(['logs', '--since', '10m', nm]);
        same(['logs', '--since', '2000-01-01T00:00:00Z', '--until', '1h', nm]);
        same(['logs', '--since', 'bogus', nm]);
        same(['events', '--until', 'bogus']);
        same(['port', nm]);
        same(['port', nm, '80']);
        pend(t, 'update', () => {
          ok(berth(['update', '--memory', '96m', '--memory-swap', '-1', nm]));
          assert.equal(same(['inspect', '--format', '{{.HostConfig.Memory}}', nm]).stdout, `${96 * 1024 * 1024}\n`);
        });
        const dir = mkdtempSync(join(tmpdir(), 'berth-cli-cp-'));
        try {
          writeFileSync(join(dir, 'in.txt'), 'copied in\n');
          ok(berth(['cp', join(dir, 'in.txt'), `${nm}:/tmp/`]));
          assert.equal(berth(['exec', nm, 'cat', '/tmp/in.txt']).stdout, 'copied in\n');
          ok(berth(['cp', `${nm}:/etc/passwd`, join(dir, 'passwd')]));
          assert.match(readFileSync(join(dir, 'passwd'), 'utf8'), /^root:x:0:0/);
          ok(berth(['export', '-o', join(dir, 'fs.tar'), nm]));
          const listing = execSync(`tar -tf ${join(dir, 'fs.tar')}`, { encoding: 'utf8' });
          assert.match(listing, /^bin\/busybox$/m);
          // dockerd's names: no `./` prefix, no entry for the root itself.
          assert.doesNotMatch(listing, /^\.\/?$|^\.\//m);
          // A large file goes in and out streamed: berth's own memory stays far below its size.
          const big = join(dir, 'big.bin');
          writeFileSync(big, '');
          truncateSync(big, 192 * 1024 * 1024);
          const rss = (args: string[]) => {
            const r = spawnSync('/usr/bin/time', ['-f', '%M', BERTH, ...args], { encoding: 'utf8', env: d.env });
            assert.equal(r.status, 0, r.stderr);
            return Number(r.stderr.trim().split('\n').pop()) * 1024;
          };
          const into = rss(['cp', big, `${nm}:/tmp/`]);
          assert.equal(berth(['exec', nm, 'stat', '-c', '%s', '/tmp/big.bin']).stdout, `${192 * 1024 * 1024}\n`);
          rmSync(big);
          const out = rss(['cp', `${nm}:/tmp/big.bin`, dir]);
          assert.equal(statSync(big).size, 192 * 1024 * 1024);
          ok(berth(['exec', nm, 'rm', '/tmp/big.bin']));
          for (const [way, bytes] of [
            ['in', into],
            ['out', out],
          ] as const)
            assert.ok(bytes < 150 * 1024 * 1024, `cp ${way}: berth's peak RSS ${bytes} B for a 192 MiB file`);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
        // A reader that goes away: status 141 as for docker (killed by SIGPIPE), no trace on stderr.
        const big = `big-${SUFFIX}`;
        ok(
          berth([
            'run',
            '--network',
            'none',
            '--name',
            big,
            IMAGE,
            'sh',
            '-c',
            'i=0; while [ $i -lt 20000 ]; do echo line $i; i=$((i+1)); done',
          ]),
        );
        for (const bin of [BERTH, DOCKER]) {
          const r = spawnSync('bash', ['-c', `${bin} logs ${big} | head -1; echo "rc=\${PIPESTATUS[0]}"`], {
            encoding: 'utf8',
            env: d.env,
          });
          assert.equal(r.stdout, 'line 0\nrc=141\n', bin);
          assert.equal(r.stderr, '', bin);
        }
        ok(berth(['rm', big]));
        ok(berth(['restart', '-t', '1', nm]));
        same(['ps', '--filter', `name=${nm}`, '--format', '{{.Names}} {{.State}}']);
        ok(berth(['rm', '-f', nm]));
      });

      it('images: ls, tag, history, save/load, import, rmi, image prune', (t) => {
        const tag = `berth-cli/tagged:${SUFFIX}`;
        ok(berth(['tag', IMAGE, tag]));
        // One image with two names: docker's order of its rows is Go's map order, so compare as sets.
        same(['images'], { sortLines: true });
        same(['image', 'ls', '--format', '{{.Repository}}:{{.Tag}} {{.Size}}'], { sortLines: true });
        same(['images', '--format', 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}'], { sortLines: true });
        same(['images', '-q']);
        same(['images', 'berth-cli/tagged']);
        same(['images', '--format', '{{json .}}'], { sortLines: true });
        same(['history', IMAGE]);
        same(['history', '--no-trunc', '--format', '{{.ID}} {{.Comment}}', IMAGE]);
        same(['image', 'inspect', '--format', '{{.Os}} {{.Architecture}} {{len .RootFS.Layers}}', IMAGE]);
        const dir = mkdtempSync(join(tmpdir(), 'berth-cli-img-'));
        try {
          pend(t, 'image save and load', () => {
            ok(berth(['save', '-o', join(dir, 'img.tar'), tag]));
            assert.match(execSync(`tar -tf ${join(dir, 'img.tar')}`, { encoding: 'utf8' }), /manifest\.json/);
            assert.equal(berth(['rmi', tag]).stdout, `Untagged: ${tag}\n`);
            same(['rmi', tag]);
            const l = berth(['load', '-i', join(dir, 'img.tar')]);
            assert.equal(l.status, 0, l.stderr);
            assert.match(l.stdout, new RegExp(`Loaded image: ${tag.replace(/[/.]/g, '\\$&')}`));
          });
          pend(t, 'image import', () => {
            const bb = makeBundleDir('berth-cli-imp-');
            try {
              execSync(`tar -C ${bb.rootfs} -cf ${join(dir, 'rootfs.tar')} .`);
            } finally {
              bb.cleanup();
            }
            const imp = berth([
              'import',
              '-m',
              'imported by berth',
              join(dir, 'rootfs.tar'),
              `berth-cli/imported:${SUFFIX}`,
            ]);
            assert.equal(imp.status, 0, imp.stderr);
            assert.match(imp.stdout, /^sha256:[0-9a-f]{64}\n$/);
            same(['history', '--format', '{{.Comment}}', `berth-cli/imported:${SUFFIX}`]);
            const rmi = berth(['rmi', `berth-cli/imported:${SUFFIX}`, tag]);
            assert.equal(rmi.status, 0, rmi.stderr);
            assert.match(
              rmi.stdout,
              new RegExp(
                `^Untagged: berth-cli/imported:${SUFFIX}\n(Deleted: sha256:[0-9a-f]{64}\n)+Untagged: ${tag.replace(/[/.]/g, '\\$&')}\n$`,
              ),
            );
            same(['rmi', tag]);
          });
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
        same(['image', 'prune', '-f']);
        // Without -f: docker's question, answered on stdin.
        for (const p of [
          ['container', 'prune'],
          ['image', 'prune'],
          ['image', 'prune', '-a'],
          ['volume', 'prune'],
          ['network', 'prune'],
          ['system', 'prune'],
          ['system', 'prune', '--volumes'],
        ]) {
          same(p, { input: 'n\n' });
          same(p, { input: '' });
        }
        same(['container', 'prune'], { input: 'y\n' });
      });

      it('volumes and networks', () => {
        const v = `vol-${SUFFIX}`;
        same(['volume', 'create', '--label', 'k=v', v]);
        same(['volume', 'ls']);
        same(['volume', 'ls', '-q']);
        same(['volume', 'ls', '--format', '{{.Name}} {{.Driver}} {{.Labels}} {{.Label "k"}}']);
        same(['volume', 'inspect', '--format', '{{.Name}} {{.Driver}} {{.Labels}}', v]);
        assert.equal(
          same(['run', '--rm', '--network', 'none', '-v', `${v}:/v`, IMAGE, 'sh', '-c', 'echo data > /v/f && cat /v/f'])
            .stdout,
          'data\n',
        );
        assert.equal(berth(['volume', 'rm', v]).stdout, `${v}\n`);
        same(['volume', 'rm', v]);
        same(['volume', 'prune', '-f']);
        // Below API 1.42 (dockerd 20.10) refused; from it (berthd), all unused volumes.
        same(['volume', 'prune', '-a', '-f']);
        same(['network', 'ls']);
        same(['network', 'ls', '--format', '{{.Name}} {{.Driver}} {{.Scope}}']);
        same(['network', 'ls', '--format', 'json']);
        same(['inspect', '--format', 'json', IMAGE, 'none']);
        same(['network', 'inspect', '--format', '{{.Name}} {{.Driver}}', 'host', 'none']);
        same(['network', 'rm', 'no-such-network']);
        same(['network', 'create', '-d', 'no-such-driver', `net-${SUFFIX}`]);
      });

      it('system df and events', () => {
        same(['system', 'df', '--format', '{{.Type}} {{.TotalCount}} {{.Active}}']);
        same(['system', 'df']);
        same(['history', '--format', 'json', IMAGE]);
        same(['images', '--digests']);
        same(['images', '--filter', 'dangling=true']);
        same(['ps', '-a', '--format', 'json']);
        same(['volume', 'ls', '--format', 'json']);
        // The server's half of version and info: the client's half is berth's own.
        // docker prints the runtimes in Go's map order (random): compared as a set.
        const server = (s: string) =>
          s
            .slice(s.indexOf('\nServer'))
            .replace(/^( Runtimes: )(.*)$/m, (_, a: string, b: string) => a + b.split(' ').sort().join(' '))
            // A debug-mode daemon (berthd here) reports its clock: two calls, two times.
            .replace(/^( {2}System Time: ).*$/m, '$1<T>');
        assert.equal(server(berth(['version']).stdout), server(docker(['version']).stdout));
        assert.equal(server(berth(['info']).stdout), server(docker(['info']).stdout));
        const since = String(Math.floor(Date.now() / 1000) - 3600);
        const vol = `ev-${SUFFIX}`;
        ok(berth(['volume', 'create', vol]));
        ok(berth(['volume', 'rm', vol]));
        assert.equal(berth(['run', '--rm', '--network', 'none', IMAGE, 'sh', '-c', 'exit 3']).status, 3);
        execSync('sleep 1.1');
        const until = String(Math.floor(Date.now() / 1000));
        const evs = berth(['events', '--since', since, '--until', until, '--filter', 'type=volume']).stdout;
        assert.match(
          evs,
          new RegExp(
            `^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{9}Z volume create ${vol} \\(driver=local\\)$`,
            'm',
          ),
        );
        same([
          'events',
          '--since',
          since,
          '--until',
          until,
          '--filter',
          'type=volume',
          '--format',
          '{{.Type}} {{.Action}} {{.Actor.ID}}',
        ]);
        same(['events', '--since', since, '--until', until, '--filter', 'type=volume']);
        same([
          'events',
          '--since',
          since,
          '--until',
          until,
          '--filter',
          'type=container',
          '--filter',
          'event=die',
          '--format',
          '{{.Status}} {{.Actor.Attributes.exitCode}} {{json .Actor.Attributes.name}}',
        ]);
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

      it(
        'every pending step was reached (no stale entry in the table)',
        { skip: target !== 'berthd' && 'berthd only' },
        () => {
          assert.deepEqual(unvisitedPending(), []);
        },
      );
    },
  );
}
