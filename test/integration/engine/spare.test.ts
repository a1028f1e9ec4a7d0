// The engine's spare berth-shim (started ahead of need, claimed by the next
// task create) never outlives the engine: not after SIGTERM with a client
// connected, an events stream open and a Wait in flight, and not after
// SIGKILL, where nothing of the engine's can clean up (the spare sees its
// engine's connection close and ends itself, its directory with it). The
// tasks' shims and containers go on in both cases.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitUntil } from '../../helpers/daemons.js';
import type { Engine } from './helpers.js';
import { startTaskEngine, stopTaskEngine, taskSkip } from '../../helpers/task-engine.js';

const skip = taskSkip;
const NS = `berth-spare${process.pid}`;

function alive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

/** The spare's directory and pid, once it serves. */
function spares(state: string): { dir: string; pid: number }[] {
  const root = join(state, 'shims');
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((n) => n.startsWith('.spare-'))
    .map((n) => {
      let pid = 0;
      try {
        pid = Number(readFileSync(join(root, n, 'shim.pid'), 'utf8').trim());
      } catch {
        // starting
      }
      return { dir: join(root, n), pid };
    });
}

async function readySpare(e: Engine): Promise<{ dir: string; pid: number }> {
  let s: { dir: string; pid: number } | undefined;
  await waitUntil('a spare shim', () => (s = spares(e.state).find((x) => x.pid > 0 && alive(x.pid))) !== undefined);
  return s!;
}

describe('the spare berth-shim never outlives its engine', { skip }, () => {
  let e: Engine;
  let rootfs: string;
  const ctr = (args: string[]) => e.ctr(args, { ns: NS });

  before(async () => ({ e, rootfs } = await startTaskEngine('berth-spare-')));
  after(() => stopTaskEngine(e, NS));

  it('SIGTERM with a client attached, an events stream and a Wait open: the engine stops at once, its spare ends, the container runs on', async () => {
    const ev = spawn('ctr', ['-a', e.sock, 'events'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const c = `spare-run-${process.pid}`;
    // attached: ctr holds a Wait (and its stdio) open on the engine
    const run = spawn('ctr', ['-a', e.sock, '-n', NS, 'run', '--rootfs', rootfs, c, 'sleep', '300'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      await waitUntil('the task to run', () => /RUNNING/.test(ctr(['task', 'ls']).stdout));
      const pid = Number(new RegExp(`^${c}\\s+(\\d+)`, 'm').exec(ctr(['task', 'ls']).stdout)?.[1]);
      assert.ok(alive(pid));
      const spare = await readySpare(e); // the one started after the run claimed the first
      const t0 = Date.now();
      e.proc.kill('SIGTERM');
      await new Promise((r) => e.proc.once('exit', r));
      assert.equal(e.proc.exitCode, 0, e.log().slice(-2000));
      assert.ok(Date.now() - t0 < 5000, `stopped in ${Date.now() - t0} ms (a Wait in flight must not hold it)`);
      await waitUntil('the spare to end', () => !alive(spare.pid), 3000);
      assert.deepEqual(spares(e.state), [], 'no spare directory is left');
      assert.ok(alive(pid), 'the container runs on');
      await e.restart();
      assert.match(ctr(['task', 'ls']).stdout, new RegExp(`^${c}\\s+${pid}\\s+RUNNING`, 'm'));
    } finally {
      ev.kill();
      run.kill();
    }
  });

  it('SIGKILL: the spare sees its engine gone and ends itself, its directory with it', async () => {
    const spare = await readySpare(e);
    await e.kill9();
    await waitUntil('the spare to end by itself', () => !alive(spare.pid), 3000);
    assert.equal(existsSync(spare.dir), false, 'the spare removed its directory');
    // the task's shim is no spare: it stays with its container
    await e.restart();
    assert.match(ctr(['task', 'ls']).stdout, /RUNNING/);
  });

  it('a spare that was claimed is a task shim: it stays when the engine is SIGKILLed', async () => {
    const c = `spare-claimed-${process.pid}`;
    const first = await readySpare(e);
    assert.equal(ctr(['run', '-d', '--rootfs', rootfs, c, 'sleep', '300']).status, 0);
    const shimDirs = readdirSync(join(e.state, 'shims')).filter((n) => !n.startsWith('.'));
    const pids = shimDirs.map((n) => Number(readFileSync(join(e.state, 'shims', n, 'shim.pid'), 'utf8').trim()));
    assert.ok(pids.includes(first.pid), 'the task got the spare');
    await e.kill9();
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(alive(first.pid), 'the claimed shim lives on');
    await e.restart();
    assert.match(ctr(['task', 'ls']).stdout, new RegExp(`^${c}\\s+\\d+\\s+RUNNING`, 'm'));
  });
});
