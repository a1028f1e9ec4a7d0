// The comparison suite's (compat-suite.ts) data: logs, port, update, cp
// (streamed), export; images (tag, history, save/load, import, prune);
// volumes and networks; system df, version/info's server half, events.

import { it, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, execSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { makeBundleDir } from '../../helpers/busybox.js';
import type { Dockerd } from '../../helpers/daemons.js';
import { BERTH, DOCKER, IMAGE, SUFFIX, berth, docker, ok, pend, same, type CompatSuite } from './compare.js';

export function dataCases(s: CompatSuite): void {
  let d!: Dockerd;
  before(() => {
    d = s.daemon();
  });

  it('logs, port, restart, update, cp, export', (t) => {
    const nm = `logs-${SUFFIX}`;
    ok(berth(['run', '-d', '--network', 'none', '--name', nm, IMAGE, 'sh', '-c', 'echo one; echo two >&2; sleep 300']));
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
    same(['images', 'berth-cli/tagged'], { sortLines: true }); // the docker CLI prints an image's repositories in Go map order
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
    // One image with two names (berthd keeps the tag its pending steps did not remove): Go's map order.
    same(['images', '--digests'], { sortLines: true });
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
        .replace(/^( {2}System Time: ).*$/m, '$1<T>')
        // and its open descriptors, counted at each call (the two CLIs' connections among them)
        .replace(/^( {2}File Descriptors: ).*$/m, '$1<N>');
    assert.equal(server(berth(['version']).stdout), server(docker(['version']).stdout));
    assert.equal(server(berth(['info']).stdout), server(docker(['info']).stdout));
    const since = String(Math.floor(Date.now() / 1000) - 3600);
    const vol = `ev-${SUFFIX}`;
    ok(berth(['volume', 'create', vol]));
    ok(berth(['volume', 'rm', vol]));
    assert.equal(berth(['run', '--rm', '--network', 'none', IMAGE, 'sh', '-c', 'exit 3']).status, 3);
    execSync('sleep 1.1');
    const until = String(Math.floor(Date.now() / 1000));
    /** `events` over the window above, with these filters and options. */
    const events = (...args: string[]) => ['events', '--since', since, '--until', until, ...args];
    const evs = berth(events('--filter', 'type=volume')).stdout;
    assert.match(
      evs,
      new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{9}Z volume create ${vol} \\(driver=local\\)$`, 'm'),
    );
    same(events('--filter', 'type=volume', '--format', '{{.Type}} {{.Action}} {{.Actor.ID}}'));
    same(events('--filter', 'type=volume'));
    same(
      events(
        '--filter',
        'type=container',
        '--filter',
        'event=die',
        '--format',
        '{{.Status}} {{.Actor.Attributes.exitCode}} {{json .Actor.Attributes.name}}',
      ),
    );
  });
}
