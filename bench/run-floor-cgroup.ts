// run-floor.ts's view of the cgroup joins: a fresh process written into a
// cgroup of every hierarchy of this host (v1 and the unified one), one write
// after the other, with a timestamp around each. Every cgroup.procs write
// takes the kernel's global cgroup_threadgroup_rwsem for writing, whose
// percpu_down_write first waits for an RCU grace period unless a writer
// passed one within about a grace period before (rcu_sync): so only the
// first write of a burst should pay it, whatever its hierarchy.

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = '/sys/fs/cgroup';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Per round: the ms of each write, in hierarchy order; `gapMs` apart, so that the lock has gone cold. */
export async function cgroupJoins(
  name: string,
  rounds: number,
  gapMs = 100,
): Promise<{ hierarchies: string[]; writesMs: number[][] }> {
  const hierarchies = readdirSync(ROOT).filter((h) => existsSync(join(ROOT, h, 'cgroup.procs')));
  const made: string[] = [];
  const writesMs: number[][] = [];
  try {
    for (const h of hierarchies) {
      const d = join(ROOT, h, name);
      mkdirSync(d);
      made.push(d);
      // a v1 cpuset group takes no process before it has cpus and mems
      if (h === 'cpuset') {
        for (const f of ['cpuset.cpus', 'cpuset.mems']) writeFileSync(join(d, f), readFileSyncTrim(join(ROOT, h, f)));
      }
    }
    for (let r = 0; r < rounds; r++) {
      const child = spawn('sleep', ['10'], { stdio: 'ignore' });
      await new Promise((res) => child.once('spawn', res));
      await sleep(gapMs);
      const row: number[] = [];
      for (const d of made) {
        const t0 = performance.now();
        writeFileSync(join(d, 'cgroup.procs'), String(child.pid));
        row.push(Math.round((performance.now() - t0) * 100) / 100);
      }
      writesMs.push(row);
      child.kill('SIGKILL');
      await new Promise((res) => child.once('exit', res));
    }
  } finally {
    for (const d of made.reverse()) {
      for (let i = 0; i < 50; i++) {
        try {
          rmdirSync(d);
          break;
        } catch {
          await sleep(10); // the killed process is still leaving
        }
      }
    }
  }
  return { hierarchies, writesMs };
}

function readFileSyncTrim(p: string): string {
  return readFileSync(p, 'utf8').trim();
}
