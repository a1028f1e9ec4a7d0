// Runs that fail late, after berthd has begun to make the container's
// network, mounts and cgroups (berthd on berth-engine, in a network namespace
// of the test's with the default bridge): a process execve cannot start
// (an environment of 7.5 MB), a command that is not in the image, a port
// already published, a device that does not exist. Each is refused with a
// clear error and leaves nothing behind: no veth, no iptables rule, no
// mount of the container's rootfs, no cgroup, no running task; berthd keeps
// serving the container that was running before.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEngine, ENGINE_BIN, type Engine } from '../engine/helpers.js';
import type { Berthd } from '../../helpers/berthd.js';
import { NetFixture, netSkip, WEB } from './netfixture.js';
import { waitUntil } from '../../helpers/wait.js';
import { scratchDir } from '../../helpers/scratch.js';

const skip = netSkip || (!existsSync(ENGINE_BIN) ? 'bin/berth-engine is not built' : false);
const fx = new NetFixture();
const NS = `berthd-hleft-${process.pid}`;
let engine: Engine;
let b: Berthd;
let IMG = '';
const scratch = scratchDir('/tmp/berthd-hleft-');

before(async () => {
  if (skip) return;
  engine = await startEngine('berthd-hleft-eng-');
  await fx.start(engine.sock, NS);
  b = fx.b;
  IMG = fx.img;
});

after(async () => {
  await fx.stop();
  await engine?.stop();
});

/** The cgroups of berthd's namespace, in every hierarchy. */
function cgroups(): string[] {
  const out: string[] = [];
  for (const h of ['', ...readdirSync('/sys/fs/cgroup')]) {
    const dir = `/sys/fs/cgroup/${h}/${NS}`.replace('//', '/');
    if (existsSync(dir))
      for (const c of readdirSync(dir, { withFileTypes: true })) if (c.isDirectory()) out.push(c.name);
  }
  return [...new Set(out)].sort();
}

/** What a container leaves: veths, iptables rules, mounts under the engine's directory, cgroups, tasks. */
function state() {
  return {
    veths: fx.veths().sort(),
    rules: fx.rules(),
    mounts: readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4] ?? '')
      .filter((m) => m.startsWith(engine.dir))
      .sort(),
    cgroups: cgroups(),
    tasks: engine.ctr(['task', 'ls', '-q'], { ns: NS }).stdout.split('\n').filter(Boolean).sort(),
  };
}

test('late failures of docker run leave no veth, rule, mount, cgroup or task; berthd serves on', { skip }, async () => {
  // One container up, with a published port: what must keep working.
  b.ok(['run', '-d', '--name', 'hl-web', '-p', '127.0.0.1:8081:80', IMG, ...WEB('still-here')]);
  await waitUntil('the web container to answer', () => fx.curl('http://127.0.0.1:8081/').stdout === 'still-here\n');
  const before = state();
  // Through --env-file: as arguments it would be too much for the CLI's own execve.
  const envFile = join(scratch, 'env');
  writeFileSync(envFile, Array.from({ length: 50000 }, (_, i) => `V${i}=${'x'.repeat(150)}\n`).join(''));
  const cases: [string, string[], RegExp][] = [
    [
      'an environment execve cannot take',
      ['--env-file', envFile, IMG, 'true'],
      /process\.env: \d+ bytes of arguments and environment/,
    ],
    ['a command the image lacks', [IMG, '/no/such/program'], /no\/such\/program.*(no such file|not found)/i],
    ['a port already published', ['-p', '127.0.0.1:8081:80', IMG, 'true'], /8081.*(already allocated|in use)/i],
    [
      'a device that does not exist',
      ['--device', '/dev/berth-no-such-device', IMG, 'true'],
      /error gathering device information while adding custom device "\/dev\/berth-no-such-device": no such file or directory/,
    ],
    [
      'a device that is a regular file',
      ['--device', '/etc/hostname:/dev/x', IMG, 'true'],
      /error gathering device information while adding custom device "\/etc\/hostname": not a device node/,
    ],
  ];
  for (const [what, args, why] of cases) {
    const name = `hl-${process.pid}-${cases.findIndex((c) => c[0] === what)}`;
    const r = b.docker(['run', '--name', name, ...args], { timeout: 60000 });
    assert.notEqual(r.status, 0, `${what}: it ran`);
    assert.match(r.stderr, why, what);
    b.docker(['rm', '-f', name]);
    assert.deepEqual(state(), before, `${what}: something was left`);
    assert.equal(
      fx.curl('http://127.0.0.1:8081/').stdout,
      'still-here\n',
      `${what}: the running container still serves`,
    );
  }
  // An exec with that environment: refused, the container unharmed.
  const ex = b.docker(['exec', '--env-file', envFile, 'hl-web', 'true'], { timeout: 60000 });
  assert.notEqual(ex.status, 0);
  // As dockerd: exit 126 and the kernel's words (the exec's process is checked by execve itself).
  assert.equal(ex.status, 126);
  assert.match(ex.stdout + ex.stderr, /argument list too long|process\.env: \d+ bytes/);
  assert.equal(fx.curl('http://127.0.0.1:8081/').stdout, 'still-here\n');
  assert.deepEqual(state(), before, 'exec: something was left');
  // Also with --rm: nothing of the container either.
  const rm = b.docker(['run', '--rm', IMG, '/no/such/program']);
  assert.notEqual(rm.status, 0);
  assert.deepEqual(state(), before);
  b.ok(['rm', '-f', 'hl-web']);
});

test('--device gives the node asked for, with the cgroup permissions asked for, and no other', { skip }, () => {
  const open = (p: string) => `dd if=${p} of=/dev/null count=0 2>/dev/null && echo opened || echo refused`;
  const script = `stat -c "%t:%T" /dev/lc /dev/km; ${open('/dev/lc')}; ${open('/dev/km')}`;
  const out = b.ok([
    'run',
    '--rm',
    '--network',
    'none',
    '--device',
    '/dev/loop-control:/dev/lc',
    '--device',
    '/dev/kmsg:/dev/km:m',
    IMG,
    'sh',
    '-c',
    script,
  ]);
  // loop-control (10:237) with rwm opens; kmsg (1:11) with mknod only does not.
  assert.equal(out, 'a:ed\n1:b\nopened\nrefused\n');
  // Without --device the same node made in the container cannot be opened.
  const none = b.ok([
    'run',
    '--rm',
    '--network',
    'none',
    IMG,
    'sh',
    '-c',
    `mknod /dev/lc c 10 237; ${open('/dev/lc')}`,
  ]);
  assert.equal(none, 'refused\n');
});
