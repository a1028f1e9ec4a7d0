// What the `ctr` benches (shim.ts, run-floor.ts) stand on: a work folder with
// a busybox rootfs, berth-engine and containerd 1.6 started side by side, a
// cpuacct group per daemon (cpuacct.ts), and one stop() that leaves nothing:
// every task and container of the bench's namespace killed and removed, both
// daemons stopped, the groups and the namespace's cgroups in every hierarchy
// removed, the work folder deleted.

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { makeBusyboxRootfs } from '../test/helpers/busybox.js';
import { startContainerd, type Containerd } from '../test/helpers/daemons.js';
import { startEngine, type Engine } from '../test/integration/engine/helpers.js';
import { cpuGroup, type CpuGroup } from './cpuacct.js';

export interface CtrPeers {
  work: string;
  /** A busybox root filesystem for `ctr run --rootfs`. */
  rootfs: string;
  engine: Engine;
  ctrd: Containerd;
  /** `pid` moved into a cpuacct group of its own, removed by stop(); undefined on a host without cpuacct. */
  cpu(name: string, pid: number): CpuGroup | undefined;
  /** Everything undone; `cgroups` are more names to remove in every hierarchy besides the namespace's. */
  stop(cgroups?: string[]): Promise<void>;
}

/** `tag` names the work folder, the daemons' folders and the groups; `ns` is the namespace ctr uses. */
export async function startCtrPeers(tag: string, ns: string): Promise<CtrPeers> {
  const work = mkdtempSync(`/tmp/${tag}-`);
  const rootfs = join(work, 'rootfs');
  const groups: CpuGroup[] = [];
  let engine: Engine | undefined;
  let ctrd: Containerd | undefined;
  const stop = async (cgroups: string[] = []) => {
    for (const d of [engine, ctrd]) if (d) removeAll(d.sock, ns);
    await engine?.stop();
    await ctrd?.stop();
    for (const g of groups) g.remove();
    for (const h of ['/sys/fs/cgroup', ...readdirSync('/sys/fs/cgroup').map((x) => `/sys/fs/cgroup/${x}`)])
      for (const name of [ns, ...cgroups]) {
        try {
          rmdirSync(join(h, name));
        } catch {
          // not there, or not empty (a runner's leftover)
        }
      }
    rmSync(work, { recursive: true, force: true });
  };
  try {
    mkdirSync(rootfs);
    makeBusyboxRootfs(rootfs);
    engine = await startEngine(`${tag}-eng-`);
    ctrd = await startContainerd({ prefix: `${tag}-ctrd-`, namespace: ns });
  } catch (e) {
    await stop();
    throw e;
  }
  const cpu = (name: string, pid: number) => {
    const g = cpuGroup(`${tag}-${process.pid}-${name}`);
    g?.add(pid);
    if (g) groups.push(g);
    return g;
  };
  return { work, rootfs, engine, ctrd, cpu, stop };
}

/** Every task of `ns` killed, then every task and container removed. */
function removeAll(sock: string, ns: string): void {
  const ctr = (a: string[]) => spawnSync('ctr', ['-a', sock, '-n', ns, ...a], { encoding: 'utf8', timeout: 60000 });
  const ids = ctr(['c', 'ls', '-q']).stdout.split('\n').filter(Boolean);
  for (const id of ids) ctr(['task', 'kill', '-s', 'KILL', id]);
  if (ids.length) spawnSync('sleep', ['0.5']);
  for (const id of ids) {
    ctr(['task', 'rm', '-f', id]);
    ctr(['c', 'rm', id]);
  }
}
