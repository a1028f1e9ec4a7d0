// Shared by the lifecycle flows (./lifecycle-flows.ts, ./lifecycle-health.ts):
// the fixture, the images (busybox plus a layer for whiteouts, an opaque
// directory and a file capability; the same with a HEALTHCHECK), and small
// readers of what berthd and the kernel show.

import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Berthd } from '../../helpers/berthd.js';
import { buildImage } from '../../helpers/registry.js';
import { seedImage } from '../../helpers/seed-registry.js';

export interface Fixture {
  b: Berthd;
  /** busybox plus a layer with /opq/{a,b} and /gone. */
  img: string;
  /** The same with a HEALTHCHECK (CMD-SHELL, 300 ms). */
  hcImg: string;
  /** containerd's own CLI in berthd's namespace: its stdout. */
  ctr(args: string[]): string;
}

export const V2 = existsSync('/sys/fs/cgroup/cgroup.controllers');

/** A layer with a directory of two files and a lone file, for whiteouts and opaque directories. */
function extraLayer(): Buffer {
  const d = mkdtempSync(join(tmpdir(), 'berthd-lc-layer-'));
  try {
    mkdirSync(join(d, 'opq'));
    writeFileSync(join(d, 'opq/a'), 'a\n');
    writeFileSync(join(d, 'opq/b'), 'b\n');
    writeFileSync(join(d, 'gone'), 'soon gone\n');
    // A file with a capability: a write in the container drops it, and moby's diff sees that.
    writeFileSync(join(d, 'capbin'), 'caps\n');
    execFileSync('setcap', ['cap_net_raw+ep', join(d, 'capbin')]);
    return execFileSync('tar', [
      ...['-C', d, '--numeric-owner', '--mtime=@1000000000', '--xattrs', '--xattrs-include=security.capability'],
      ...['-cf', '-', 'opq', 'gone', 'capbin'],
    ]);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
}

/** Seed both images into the registry; answers their references. */
export function seedLifecycleImages(registryHost: string): { img: string; hcImg: string } {
  const layer = extraLayer();
  seedImage(registryHost, 'berth/lc:latest', buildImage({ extraLayers: [layer] }));
  seedImage(
    registryHost,
    'berth/lc-hc:latest',
    buildImage({
      extraLayers: [layer],
      config: { Healthcheck: { Test: ['CMD-SHELL', 'echo img-probe $HC_MARK'], Interval: 300e6, Retries: 2 } },
    }),
  );
  return { img: `${registryHost}/berth/lc:latest`, hcImg: `${registryHost}/berth/lc-hc:latest` };
}

/** A cgroup file of a container, v1 (controller dir) or v2 (unified). */
export function cg(b: Berthd, id: string, v1: [string, string], v2: string): string {
  const p = V2 ? `/sys/fs/cgroup/${b.namespace}/${id}/${v2}` : `/sys/fs/cgroup/${v1[0]}/${b.namespace}/${id}/${v1[1]}`;
  return readFileSync(p, 'utf8').trim();
}

export interface HealthView {
  Status: string;
  FailingStreak: number;
  Log: { Start: string; End: string; ExitCode: number; Output: string }[];
}

export function health(b: Berthd, c: string): HealthView | null {
  return JSON.parse(b.ok(['inspect', '-f', '{{json .State.Health}}', c])) as HealthView | null;
}

export function pidOf(b: Berthd, c: string): number {
  return Number(b.ok(['inspect', '-f', '{{.State.Pid}}', c]).trim());
}

/** Host processes whose command line is exactly `argv`. */
export function procsWith(argv: string[]): number[] {
  const want = argv.join('\0') + '\0';
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readFileSync(`/proc/${p}/cmdline`, 'utf8') === want;
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Registers one test of a flow, under the engine's name. */
export type Register = (title: string, fn: () => Promise<void>) => void;
