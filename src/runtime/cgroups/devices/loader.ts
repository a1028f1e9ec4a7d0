// Attaches a device filter to a cgroup v2 directory through native/berth-cgbpf
// (Node.js has no bpf(2)). The helper is found at $BERTH_CGBPF, else in
// native/build/ of the checkout this file belongs to.

import { spawnSync } from 'node:child_process';
import { nativeBinary } from '../../../common/native.js';
import { cgroupError } from '../errors.js';

export type DeviceFilterAttacher = (cgroupDir: string, program: Buffer) => void;

export function cgbpfPath(): string {
  return nativeBinary('berth-cgbpf', 'BERTH_CGBPF');
}

/** berth-cgbpf's exit status when the kernel refused with EPERM or ENOSYS. */
export const CGBPF_REFUSED = 3;

export const attachWithHelper: DeviceFilterAttacher = (cgroupDir, program) => {
  const bin = cgbpfPath();
  const r = spawnSync(bin, [cgroupDir], { input: program, encoding: 'utf8' });
  if (r.error) {
    throw cgroupError(
      'unavailable',
      `cannot run ${bin} to attach the eBPF device filter (${r.error.message}); build it with make -C native`,
      'linux.resources.devices',
      r.error,
    );
  }
  if (r.status !== 0) {
    const msg = (r.stderr || '').trim() || `exit status ${r.status}`;
    // berth-cgbpf exits 3 when the kernel refused (EPERM, ENOSYS): the host cannot do it.
    const code = r.status === CGBPF_REFUSED ? 'unavailable' : 'internal';
    throw cgroupError(
      code,
      `attaching the eBPF device filter to ${cgroupDir} failed: ${msg}`,
      'linux.resources.devices',
    );
  }
};

/** Ids of the device programs attached to a cgroup v2 directory. */
export function queryDeviceFilters(cgroupDir: string): number[] {
  const r = spawnSync(cgbpfPath(), ['--query', cgroupDir], { encoding: 'utf8' });
  if (r.status !== 0)
    throw cgroupError(
      'internal',
      `querying device programs of ${cgroupDir}: ${(r.stderr || r.error?.message || '').trim()}`,
    );
  return r.stdout.split('\n').filter(Boolean).map(Number);
}
