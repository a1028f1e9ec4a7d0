// What berth-engine's task tests stand on: an engine with a busybox rootfs
// in its directory, the clean-up that leaves nothing of a namespace behind
// (tasks, containers, the engine itself, cgroups), run by each file's
// after() even when its tests failed, and a `ctr events` watch.

import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { startEngine, type Engine } from '../integration/engine/helpers.js';
import { haveBusybox, makeBusyboxRootfs } from './busybox.js';
import { isRoot } from './runtime.js';

export const taskSkip: string | false = !isRoot() ? 'needs root' : !haveBusybox() ? 'needs busybox-static' : false;

/** A fresh engine (its directory named from `prefix`) and a busybox rootfs at <dir>/rootfs. */
export async function startTaskEngine(prefix: string): Promise<{ e: Engine; rootfs: string }> {
  const e = await startEngine(prefix);
  const rootfs = join(e.dir, 'rootfs');
  mkdirSync(rootfs);
  makeBusyboxRootfs(rootfs);
  return { e, rootfs };
}

/** The namespace's cgroup removed from every hierarchy (the v1 controllers', the unified one, the v2 root). */
export function removeNamespaceCgroups(ns: string): void {
  for (const dir of ['/sys/fs/cgroup', ...readdirSync('/sys/fs/cgroup').map((d) => `/sys/fs/cgroup/${d}`)]) {
    try {
      rmdirSync(`${dir}/${ns}`);
    } catch {
      // not there, or not a hierarchy
    }
  }
}

/**
 * Every task in `ns` killed and removed, its containers removed, the engine
 * stopped (started again first when a test killed it, so that it can clean
 * up), and the namespace's cgroups removed.
 */
export async function stopTaskEngine(e: Engine | undefined, ns: string): Promise<void> {
  if (e) {
    if (e.proc.exitCode !== null) await e.restart().catch(() => undefined);
    const ls = (what: string[]) => e.ctr(what, { ns }).stdout.split('\n').filter(Boolean);
    const tasks = ls(['task', 'ls', '-q']);
    for (const t of tasks) e.ctr(['task', 'kill', '-s', 'KILL', t], { ns });
    if (tasks.length) await new Promise((r) => setTimeout(r, 500));
    for (const t of ls(['task', 'ls', '-q'])) e.ctr(['task', 'rm', '-f', t], { ns });
    for (const c of ls(['containers', 'ls', '-q'])) e.ctr(['containers', 'rm', c], { ns });
    await e.stop();
  }
  removeNamespaceCgroups(ns);
}

export interface EventWatch {
  /** All `ctr events` printed so far. */
  out(): string;
  /** The lines about `id`. */
  lines(id: string): string[];
  /** The topics (`/tasks/exit`, ...) of the events about `id`, in order. */
  topics(id: string): (string | undefined)[];
  stop(): void;
}

/** `ctr events` on the engine at `sock`, given `settleMs` to subscribe before the caller acts. */
export async function watchEvents(sock: string, settleMs = 300): Promise<EventWatch> {
  const ev = spawn('ctr', ['-a', sock, 'events'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  ev.stdout.setEncoding('utf8');
  ev.stdout.on('data', (d: string) => (out += d));
  await new Promise((r) => setTimeout(r, settleMs));
  const lines = (id: string) => out.split('\n').filter((l) => l.includes(id));
  return {
    out: () => out,
    lines,
    topics: (id) => lines(id).map((l) => /\s(\/[a-z/-]+)\s/.exec(l)?.[1]),
    stop: () => ev.kill(),
  };
}
