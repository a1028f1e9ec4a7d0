// The comparison suite's (compat-suite.ts) commands: info and version, bad
// input and an unreachable daemon, run with its flags and exit codes, the
// container lifecycle, and Go templates against the same objects.

import { it, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import type { Dockerd } from '../../helpers/daemons.js';
import { DRIVER, IMAGE, SUFFIX, berth, ok, pend, same, type CompatSuite } from './compare.js';

export function commandCases(s: CompatSuite): void {
  const { target } = s;
  let d!: Dockerd;
  before(() => {
    d = s.daemon();
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
      same(['run', ...n, '--cap-drop', 'ALL', '--cap-add', 'CHOWN', IMAGE, 'sh', '-c', 'grep CapEff /proc/self/status'])
        .stdout,
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
      const c = berth(['create', '--network', 'none', '--name', nm, '--label', `role=${nm}`, IMAGE, 'sleep', '300']);
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
    same(['network', 'inspect', '--format', '{{.Name}} {{.Driver}} {{.Scope}} {{json .IPAM.Driver}} {{.ID}}', 'none']);
    same(['image', 'inspect', '--format', '{{.Nope}}', IMAGE]);
    same(['volume', 'inspect', '--format', '{{.Nope}}', 'no-such-volume']);
    same(['container', 'inspect', 'no-such-container']);
    same(['network', 'inspect', 'none', 'no-such-network']);
    ok(berth(['rm', nm]));
  });
}
