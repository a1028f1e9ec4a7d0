// What the benches read of processes and of the host: CPU time from
// /proc/PID/stat (much less noisy than wall time on a shared machine), the
// load to print beside every figure, and the containerd configuration the
// benches start their own containerd with.

import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

/** The fields of /proc/PID/stat after the command, so that field 3 (the state) is [0]. */
function statFields(pid: number | 'self'): string[] {
  const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return st.slice(st.lastIndexOf(')') + 2).split(' ');
}

/** utime + stime of a process (all its threads), in ms. */
export function procCpuMs(pid: number): number {
  const f = statFields(pid);
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK;
}

/** cutime + cstime of this process: the CPU time of the children it has waited for, in ms. */
export function childrenCpuMs(): number {
  const f = statFields('self');
  return ((Number(f[13]) + Number(f[14])) * 1000) / CLK_TCK;
}

/** Load average and CPU and I/O pressure (PSI): on a saturated host every process hand-off waits in the run queue. */
export function hostLoad(): string {
  const la = loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');
  let psi = '';
  try {
    const m = /some avg10=([\d.]+)/.exec(readFileSync('/proc/pressure/cpu', 'utf8'));
    if (m) psi = `, cpu pressure ${m[1]}%`;
    const io = /some avg10=([\d.]+)/.exec(readFileSync('/proc/pressure/io', 'utf8'));
    if (io) psi += `, io pressure ${io[1]}%`;
  } catch {
    /* no PSI */
  }
  return `loadavg ${la}${psi}`;
}

/**
 * `dir`/config.toml for a bench's own containerd on `sock`: no CRI, tracing or
 * metrics, and only the snapshotters this host has; its path.
 */
export function containerdConfig(dir: string, sock: string): string {
  const p = join(dir, 'config.toml');
  writeFileSync(
    p,
    `version = 2
root = "${dir}/root"
state = "${dir}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.internal.v1.tracing", "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "${sock}"
[ttrpc]
  address = "${sock}.ttrpc"
[debug]
  level = "warn"
[metrics]
  address = ""
`,
  );
  return p;
}
