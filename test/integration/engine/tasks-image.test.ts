// A container from an image pulled into berth-engine (part 1's pull and
// snapshots) run by its tasks service: the rootfs is the snapshotter's
// overlay, mounted by the engine for the task and unmounted at its delete;
// the image's config (PATH) reaches the process.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { mountsUnder, waitUntil } from '../../helpers/daemons.js';
import { registryMissing, startRegistry, type RegistryInstance } from '../../helpers/registry.js';
import { isRoot } from '../../helpers/runtime.js';
import { layeredImage, pushImage, startEngine, type Engine } from './helpers.js';

const skip = !isRoot() ? 'needs root' : registryMissing;
const NS = `berth-i${process.pid}`;

describe('ctr run of a pulled image on berth-engine', { skip }, () => {
  let e: Engine;
  let reg: RegistryInstance;
  let ref: string;
  const ctr = (args: string[], o: Parameters<Engine['ctr']>[1] = {}) => e.ctr(args, { ns: NS, ...o });

  before(async () => {
    reg = await startRegistry();
    e = await startEngine('berth-tasks-img-');
    ref = pushImage(reg, layeredImage(0), 'tasks/busybox');
    const pull = ctr(['images', 'pull', '--plain-http', ref], { timeout: 120000 });
    assert.equal(pull.status, 0, pull.stderr);
  });
  after(async () => {
    for (const c of ctr(['task', 'ls', '-q']).stdout.split('\n').filter(Boolean))
      ctr(['task', 'kill', '-s', 'KILL', c]);
    await new Promise((r) => setTimeout(r, 300));
    for (const c of ctr(['task', 'ls', '-q']).stdout.split('\n').filter(Boolean)) ctr(['task', 'rm', '-f', c]);
    for (const c of ctr(['containers', 'ls', '-q']).stdout.split('\n').filter(Boolean)) ctr(['containers', 'rm', c]);
    await e?.stop();
    await reg?.stop();
    for (const dir of ['/sys/fs/cgroup', ...readdirSync('/sys/fs/cgroup').map((d) => `/sys/fs/cgroup/${d}`)]) {
      try {
        rmdirSync(`${dir}/${NS}`);
      } catch {
        // not there
      }
    }
  });

  it('runs the image: its layers (whiteouts included) are the rootfs, its PATH is the env', () => {
    const r = ctr([
      'run',
      '--rm',
      ref,
      `img-${process.pid}`,
      'sh',
      '-c',
      'cat /data.txt; test -e /hello.txt || echo whited-out; echo "$PATH"; exit 4',
    ]);
    assert.equal(r.status, 4, r.stderr);
    const lines = r.stdout.split('\n');
    assert.equal(lines[0], 'data');
    assert.equal(lines[1], 'whited-out');
    assert.match(lines[2]!, /\/bin/);
    assert.deepEqual(mountsUnder(e.state), [], 'the rootfs overlay is unmounted after the task is deleted');
  });

  it('the running task has the overlay mounted as its root; a snapshot that is gone is a clear error', async () => {
    const id = `img-d-${process.pid}`;
    assert.equal(ctr(['run', '-d', ref, id, 'sleep', '60']).status, 0);
    const pid = Number(
      ctr(['task', 'ls'])
        .stdout.split('\n')
        .find((l) => l.startsWith(`${id} `))
        ?.split(/\s+/)[1],
    );
    assert.ok(pid > 0);
    const rootMount = readFileSync(`/proc/${pid}/mountinfo`, 'utf8')
      .split('\n')
      .find((l) => l.split(' ')[4] === '/');
    assert.match(rootMount ?? '', / - overlay overlay /);
    assert.equal(ctr(['task', 'kill', '-s', 'KILL', id]).status, 0);
    await waitUntil(
      'the task to stop',
      () => new RegExp(`^${id}\\s+\\d+\\s+STOPPED`, 'm').test(ctr(['task', 'ls']).stdout),
      10000,
    );
    // a task create whose rootfs mount cannot be made names the mount
    assert.equal(ctr(['task', 'rm', id]).status, 0);
    const snap = ctr(['snapshots', 'rm', id]);
    assert.equal(snap.status, 0, snap.stderr);
    const bad = ctr(['task', 'start', id]);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /snapshot|not found/);
    assert.equal(ctr(['task', 'ls', '-q']).stdout.trim(), '');
    assert.deepEqual(mountsUnder(e.state), []);
  });
});
