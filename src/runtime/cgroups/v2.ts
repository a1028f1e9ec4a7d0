// cgroup v2: one directory in the unified hierarchy. Controllers are enabled
// down the path (+controller in each ancestor's cgroup.subtree_control),
// freezing goes through cgroup.freeze and cgroup.events, devices through an
// eBPF program (devices/ebpf.ts).

import { posix } from 'node:path';
import { errnoOf, isBerthError } from '../../common/errors.js';
import type { LinuxResources } from '../spec/types.js';
import {
  checkPid,
  freezeV2,
  isFrozenV2,
  pidsRecursive,
  readOptional,
  removeTree,
  thawV2,
  writeField,
} from './common.js';
import { cgroupError } from './errors.js';
import type { CgroupManager, FreezerState, ManagerContext } from './types.js';
import { unifiedDir, type InnerPath } from './paths.js';
import type { Stats } from './stats.js';
import { setV2Resources, V2Writer } from './v2-set.js';
import { v2Stats } from './v2-stats.js';

export class V2Manager implements CgroupManager {
  readonly version = 'v2' as const;
  readonly dir: string;
  private created: string[] = [];

  constructor(
    private readonly ctx: ManagerContext,
    inner: InnerPath,
  ) {
    const d = unifiedDir(ctx.layout, inner);
    if (!d) throw cgroupError('unavailable', 'no cgroup2 hierarchy is mounted');
    this.dir = d;
  }

  paths(): Record<string, string> {
    return { '': this.dir };
  }

  async create(): Promise<void> {
    try {
      this.created.push(...this.ctx.fs.mkdir(this.dir));
      this.enableControllers();
    } catch (e) {
      await this.destroy().catch(() => {});
      throw isBerthError(e)
        ? e
        : cgroupError('unavailable', `creating ${this.dir}: ${(e as Error).message}`, 'linux.cgroupsPath', e);
    }
  }

  /**
   * Makes every controller the root offers available to the container's
   * cgroup, enabling it in each ancestor's cgroup.subtree_control from the
   * top down. A refusal (an ancestor with processes of its own, a controller
   * busy with real-time tasks) is not an error here: the setting that needs
   * the controller then fails with a message naming it.
   *
   * When the kernel also has v1 hierarchies (a hybrid host, seen as pure v2
   * from a mount namespace with only the cgroup2 mount), the hierarchy's root
   * is the host's unified root: it is never written, as on the v1 path, and
   * only what it already delegates reaches the container.
   */
  private enableControllers(): void {
    const mount = this.ctx.layout.unified!.mountpoint;
    const hostRootShared = (this.ctx.layout.v1Bound?.length ?? 0) > 0;
    const ancestors: string[] = [];
    for (let d = posix.dirname(this.dir); d.startsWith(mount); d = posix.dirname(d)) {
      if (d === mount) {
        if (!hostRootShared) ancestors.unshift(d);
        break;
      }
      ancestors.unshift(d);
    }
    for (const d of ancestors) {
      const available = (readOptional(this.ctx.fs, d, 'cgroup.controllers') ?? '').trim().split(/\s+/).filter(Boolean);
      const enabled = new Set((readOptional(this.ctx.fs, d, 'cgroup.subtree_control') ?? '').trim().split(/\s+/));
      for (const c of available) {
        if (enabled.has(c)) continue;
        try {
          this.ctx.fs.writeFile(posix.join(d, 'cgroup.subtree_control'), `+${c}`);
        } catch {
          /* see above */
        }
      }
    }
  }

  procsFiles(): string[] {
    return [posix.join(this.dir, 'cgroup.procs')];
  }

  async apply(pid: number): Promise<void> {
    checkPid(pid);
    writeField(this.ctx.fs, this.dir, 'cgroup.procs', String(pid), 'linux.cgroupsPath');
  }

  async set(resources: LinuxResources): Promise<void> {
    setV2Resources(new V2Writer(this.ctx, this.dir), this.ctx, resources);
  }

  async freeze(): Promise<void> {
    await freezeV2(this.ctx.fs, this.dir);
  }

  async thaw(): Promise<void> {
    await thawV2(this.ctx.fs, this.dir);
  }

  state(): FreezerState {
    return isFrozenV2(this.ctx.fs, this.dir) ? 'frozen' : 'thawed';
  }

  pids(): number[] {
    return this.ctx.fs.exists(this.dir) ? pidsRecursive(this.ctx.fs, this.dir) : [];
  }

  stats(): Stats {
    return v2Stats(this.ctx.fs, this.dir);
  }

  killAll(): boolean {
    if (!this.ctx.fs.exists(posix.join(this.dir, 'cgroup.kill'))) return false;
    writeField(this.ctx.fs, this.dir, 'cgroup.kill', '1', 'kill --all');
    return true;
  }

  async destroy(): Promise<void> {
    let first: Error | undefined;
    try {
      await removeTree(this.ctx.fs, this.dir);
    } catch (e) {
      first = e as Error;
    }
    for (const d of [...this.created].reverse()) {
      try {
        this.ctx.fs.rmdir(d);
      } catch (e) {
        const errno = errnoOf(e);
        if (errno !== 'ENOENT' && errno !== 'EBUSY' && errno !== 'ENOTEMPTY') first ??= e as Error;
      }
    }
    this.created = [];
    if (first) throw first;
  }

  exists(): boolean {
    return this.ctx.fs.exists(this.dir);
  }
}
