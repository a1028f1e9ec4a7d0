// What containerd's CVE-2021-41103 and CVE-2020-15257 were about, asked of
// berth-engine with a container of a pulled image running: no unprivileged
// host user reaches a file of the container (its rootfs as the task sees
// it, the snapshots it is made of, the content store), so a setuid program
// in an image is never theirs to run; and neither the engine nor a shim
// listens on an abstract unix socket, which a container sharing the host's
// network namespace could connect to.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { registryMissing, startRegistry, type RegistryInstance } from '../../helpers/registry.js';
import { isRoot } from '../../helpers/runtime.js';
import { removeNamespaceCgroups } from '../../helpers/task-engine.js';
import { layeredImage, pushImage, startEngine, type Engine } from './helpers.js';

const skip = !isRoot() ? 'needs root' : registryMissing;
const NS = `berth-hs${process.pid}`;
const NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups'];

/** `stat` of `path` as the unprivileged user nobody: its exit status and stderr. */
function statAsNobody(path: string): { status: number | null; stderr: string } {
  const r = spawnSync('setpriv', [...NOBODY, 'stat', '-c', '%n', path], { encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}

/** Pids of processes whose command line mentions `dir`: the engine and its shims. */
function pidsUnder(dir: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(dir)) out.push(Number(p));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** The names (path, or "@..." for abstract) of the unix sockets `pid` holds, from /proc/net/unix of its netns. */
function unixSocketNames(pid: number): string[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  const names: string[] = [];
  for (const line of readFileSync(`/proc/${pid}/net/unix`, 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 8 && inodes.has(f[6]!)) names.push(f[7]!);
  }
  return names;
}

describe('berth-engine state against unprivileged users and host-network containers', { skip }, () => {
  let e: Engine;
  let reg: RegistryInstance;
  let ref: string;
  const ctr = (args: string[]) => e.ctr(args, { ns: NS });
  const c = `hostile-state-${process.pid}`;

  before(async () => {
    reg = await startRegistry();
    e = await startEngine('berth-hostile-state-');
    // mkdtemp made the test's directory 0700: opened up, as /var/lib and
    // /run are, so that only the modes the engine chose stand in the way.
    chmodSync(e.dir, 0o755);
    ref = pushImage(reg, layeredImage(0), 'hostile/state');
    const pull = e.ctr(['images', 'pull', '--plain-http', ref], { ns: NS, timeout: 120000 });
    assert.equal(pull.status, 0, pull.stderr);
    const run = ctr(['run', '-d', '--net-host', ref, c, 'sleep', '60']);
    assert.equal(run.status, 0, run.stderr);
  });
  after(async () => {
    ctr(['task', 'kill', '-s', 'KILL', c]);
    await new Promise((r) => setTimeout(r, 300));
    ctr(['task', 'rm', '-f', c]);
    ctr(['containers', 'rm', c]);
    await e?.stop();
    await reg?.stop();
    removeNamespaceCgroups(NS);
  });

  it("CVE-2021-41103: no file of the container's rootfs, snapshots or content is reachable by an unprivileged user", () => {
    // The rootfs as the running task has it, found from the host.
    const pid = Number(
      ctr(['task', 'ls'])
        .stdout.split('\n')
        .find((l) => l.startsWith(c))!
        .split(/\s+/)[1],
    );
    assert.ok(pid > 0);
    const viaProc = `/proc/${pid}/root/bin/busybox`;
    assert.ok(statSync(viaProc).isFile(), 'root sees the container file');
    const rootfsMounts = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4] ?? '')
      .filter((m) => m.startsWith(e.dir));
    assert.ok(rootfsMounts.length > 0, 'the task rootfs is mounted under the engine directories');
    const targets = [
      ...rootfsMounts.map((m) => join(m, 'bin/busybox')),
      viaProc,
      join(e.root, 'engine'),
      join(e.state),
    ];
    // Every file under the snapshots and the content store, as well.
    const walk = (dir: string, depth: number): void => {
      if (depth > 6) return;
      for (const d of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, d.name);
        if (d.isDirectory()) walk(p, depth + 1);
        else if (d.isFile()) targets.push(p);
      }
    };
    walk(join(e.root, 'engine'), 0);
    for (const t of targets) {
      if (t === join(e.root, 'engine') || t === e.state) continue;
      const r = statAsNobody(t);
      assert.notEqual(r.status, 0, `nobody reached ${t}`);
      assert.match(r.stderr, /Permission denied/, t);
    }
    // The directories themselves may be passed through (0711, as containerd
    // has them), never listed.
    for (const d of [join(e.root, 'engine'), e.state]) {
      const ls = spawnSync('setpriv', [...NOBODY, 'ls', d], { encoding: 'utf8' });
      assert.notEqual(ls.status, 0, `nobody listed ${d}: ${ls.stdout}`);
    }
  });

  it('CVE-2020-15257: the engine and its shims listen on no abstract socket a host-network container could reach', () => {
    const pids = pidsUnder(e.dir);
    assert.ok(pids.length >= 2, `the engine and the task's shim run: ${pids.join(',')}`);
    const names = pids.flatMap((p) => unixSocketNames(p));
    assert.ok(
      names.some((n) => n.startsWith('/')),
      `the shim and engine sockets are paths: ${names.join(' ')}`,
    );
    assert.deepEqual(
      names.filter((n) => n.startsWith('@')),
      [],
    );
    // From inside the container on the host's network: the abstract
    // namespace it shares holds nothing of the engine's directory.
    const seen = ctr(['task', 'exec', '--exec-id', 'look', c, 'cat', '/proc/net/unix']);
    assert.equal(seen.status, 0, seen.stderr);
    assert.doesNotMatch(seen.stdout, new RegExp(`@.*(${e.dir.replace(/[/.-]/g, '.')}|berth|shim)`));
  });

  it('identifiers that would climb in a path are refused as containerd refuses them; lease ids and snapshot keys stay keys', () => {
    const grammar = /identifier .* must match|invalid argument/;
    for (const [what, args] of [
      ['namespace', ['-n', '../x', 'containers', 'ls']],
      ['container id', ['-n', NS, 'containers', 'create', ref, '../../y', 'true']],
      ['exec id', ['-n', NS, 'task', 'exec', '--exec-id', '../../x', c, 'true']],
    ] as const) {
      const r = spawnSync('ctr', ['-a', e.sock, ...args], { encoding: 'utf8', timeout: 30000 });
      assert.notEqual(r.status, 0, `${what}: ${r.stdout}`);
      assert.match(r.stderr, grammar, what);
    }
    // Lease ids and snapshot keys are any string for containerd (its
    // random lease ids hold "_" and "-" anywhere): stored, never a path.
    const lease = ctr(['leases', 'create', '--id', `../../hkl-lease-${process.pid}`]);
    assert.equal(lease.status, 0, lease.stderr);
    assert.equal(ctr(['leases', 'rm', `../../hkl-lease-${process.pid}`]).status, 0);
    const key = `../../../../hkl-key-${process.pid}`;
    const prep = ctr(['snapshots', 'prepare', key, '']);
    assert.equal(prep.status, 0, prep.stderr);
    assert.ok(ctr(['snapshots', 'ls']).stdout.includes(key));
    const stray = spawnSync('find', ['/tmp', e.dir, '-maxdepth', '6', '-name', `hkl-*-${process.pid}`], {
      encoding: 'utf8',
    });
    assert.equal(stray.stdout.trim(), '', 'no file named after the key or the lease');
    assert.equal(ctr(['snapshots', 'rm', key]).status, 0);
  });
});
