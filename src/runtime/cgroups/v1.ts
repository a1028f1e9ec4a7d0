// cgroup v1 (and the hybrid layout: v1 controllers plus a directory in the
// empty unified hierarchy, which runc joins too so that tools reading
// /proc/<pid>/cgroup's "0::" line, and eBPF programs, see the container).
// One directory per hierarchy; co-mounted controllers share one.

import { posix } from 'node:path';
import { errnoOf, isBerthError } from '../../common/errors.js';
import type { LinuxResources } from '../spec/types.js';
import {
  checkPid,
  freezeV2,
  isFrozenV2,
  pidsRecursive,
  pollUntil,
  readOptional,
  removeTree,
  thawV2,
  writeField,
} from './common.js';
import { applyDeviceRules, normalizeDeviceRules, v1DeviceTransition, v1DeviceWrites } from './devices/rules.js';
import { cgroupError } from './errors.js';
import type { CgroupManager, FreezerState, ManagerContext } from './types.js';
import { unifiedDir, v1Dir, type InnerPath } from './paths.js';
import type { Stats } from './stats.js';
import { setV1Resources } from './v1-set.js';
import { v1Stats } from './v1-stats.js';
import { v2HugetlbStats } from './v2-stats.js';

export class V1Manager implements CgroupManager {
  readonly version;
  /** hierarchy name → directory, one per hierarchy mounted on this host. */
  private readonly dirs: Record<string, string> = {};
  private readonly unified: string | undefined;
  /** Directories this instance made, outermost first, so a failed setup can remove them all. */
  private created: string[] = [];

  constructor(
    private readonly ctx: ManagerContext,
    inner: InnerPath,
  ) {
    this.version = ctx.layout.mode;
    for (const name of Object.keys(ctx.layout.v1)) {
      const d = v1Dir(ctx.layout, name, inner);
      if (d) this.dirs[name] = d;
    }
    this.unified = ctx.layout.mode === 'hybrid' ? unifiedDir(ctx.layout, inner) : undefined;
  }

  paths(): Record<string, string> {
    return this.unified ? { ...this.dirs, '': this.unified } : { ...this.dirs };
  }

  /** The directory of a controller, or an 'unavailable' error naming the setting that needs it. */
  dir(controller: string, field: string): string {
    const d = this.dirs[controller];
    if (!d) throw cgroupError('unavailable', `this host has no ${controller} cgroup controller mounted`, field);
    return d;
  }

  hasController(controller: string): boolean {
    return this.dirs[controller] !== undefined;
  }

  /**
   * On a hybrid host, a controller that no v1 hierarchy has bound is offered
   * by the cgroup2 hierarchy instead (hugetlb on our machines): enable it in
   * each ancestor's cgroup.subtree_control, top down, and return the
   * container's unified directory. Done on demand, so a host's unified root
   * is only changed for a container that asks for such a setting.
   */
  unifiedFor(controller: string, field: string): string {
    const mount = this.ctx.layout.unified;
    if (!this.unified || !mount) {
      throw cgroupError('unavailable', `this host has no ${controller} cgroup controller mounted`, field);
    }
    if (controller === '') return this.unified;
    const offered = (readOptional(this.ctx.fs, mount.mountpoint, 'cgroup.controllers') ?? '').trim().split(/\s+/);
    if (!offered.includes(controller)) {
      throw cgroupError(
        'unavailable',
        `this host has no ${controller} cgroup controller (not mounted as cgroup v1, not offered by the cgroup2 hierarchy at ${mount.mountpoint})`,
        field,
      );
    }
    const ancestors: string[] = [];
    for (let d = posix.dirname(this.unified); d.startsWith(mount.mountpoint); d = posix.dirname(d)) {
      ancestors.unshift(d);
      if (d === mount.mountpoint) break;
    }
    for (const d of ancestors) {
      const enabled = (readOptional(this.ctx.fs, d, 'cgroup.subtree_control') ?? '').trim().split(/\s+/);
      if (enabled.includes(controller)) continue;
      // Enabled only in directories this container made: turning it on in
      // the hierarchy's root (or anyone else's cgroup) would change the host
      // for good, and runc leaves it alone too (it ignores such settings).
      if (!this.created.includes(d)) {
        throw cgroupError(
          'unavailable',
          `this host has no ${controller} cgroup controller for containers: it is not mounted as cgroup v1, and ${d} does not delegate it in the cgroup2 hierarchy (add it to ${posix.join(d, 'cgroup.subtree_control')}, or mount ${controller} as cgroup v1)`,
          field,
        );
      }
      writeField(this.ctx.fs, d, 'cgroup.subtree_control', `+${controller}`, field);
    }
    return this.unified;
  }

  /** Distinct directories (co-mounted controllers appear once), plus the unified one. */
  private distinctDirs(): string[] {
    const set = new Set(Object.values(this.dirs));
    if (this.unified) set.add(this.unified);
    return [...set];
  }

  async create(): Promise<void> {
    const fs = this.ctx.fs;
    try {
      for (const d of this.distinctDirs()) {
        this.created.push(...fs.mkdir(d));
      }
      const cpuset = this.dirs['cpuset'];
      if (cpuset) this.fillCpuset(cpuset);
    } catch (e) {
      await this.destroy().catch(() => {});
      throw isBerthError(e)
        ? e
        : cgroupError(
            'unavailable',
            `creating the container's cgroups: ${(e as Error).message}`,
            'linux.cgroupsPath',
            e,
          );
    }
  }

  /**
   * A new v1 cpuset cgroup starts with empty cpuset.cpus and cpuset.mems, and
   * a process cannot join it until both are set: copy them down from the
   * nearest ancestor, through every empty directory on the way.
   */
  private fillCpuset(leaf: string): void {
    const mount = this.ctx.layout.v1['cpuset']!.mountpoint;
    const chain: string[] = [];
    for (let d = leaf; d.startsWith(mount) && d !== mount; d = posix.dirname(d)) chain.unshift(d);
    for (const file of ['cpuset.cpus', 'cpuset.mems']) {
      let inherited = (readOptional(this.ctx.fs, mount, file) ?? '').trim();
      for (const d of chain) {
        const own = (readOptional(this.ctx.fs, d, file) ?? '').trim();
        if (own === '' && inherited !== '')
          writeField(
            this.ctx.fs,
            d,
            file,
            inherited,
            `linux.resources.cpu.${file === 'cpuset.cpus' ? 'cpus' : 'mems'}`,
          );
        else inherited = own;
      }
    }
  }

  procsFiles(): string[] {
    return this.distinctDirs().map((d) => posix.join(d, 'cgroup.procs'));
  }

  async apply(pid: number): Promise<void> {
    checkPid(pid);
    for (const f of this.procsFiles()) {
      writeField(this.ctx.fs, posix.dirname(f), 'cgroup.procs', String(pid), 'linux.cgroupsPath');
    }
  }

  async set(resources: LinuxResources): Promise<void> {
    if (resources.devices) {
      const state = applyDeviceRules(normalizeDeviceRules(resources.devices));
      const dir = this.dir('devices', 'linux.resources.devices');
      const list = readOptional(this.ctx.fs, dir, 'devices.list');
      const writes = list !== undefined ? v1DeviceTransition(state, list) : v1DeviceWrites(state);
      for (const w of writes) writeField(this.ctx.fs, dir, w.file, w.value, 'linux.resources.devices');
    }
    setV1Resources(this, this.ctx, resources);
  }

  /** Without a v1 freezer, a hybrid host still freezes through the unified directory's cgroup.freeze. */
  private unifiedFreezer(): string | undefined {
    return !this.dirs['freezer'] && this.unified && this.ctx.fs.exists(posix.join(this.unified, 'cgroup.freeze'))
      ? this.unified
      : undefined;
  }

  async freeze(): Promise<void> {
    const u = this.unifiedFreezer();
    if (u) return freezeV2(this.ctx.fs, u);
    const dir = this.dir('freezer', 'pause');
    writeField(this.ctx.fs, dir, 'freezer.state', 'FROZEN', 'pause');
    // The kernel reports FREEZING until every task has stopped; a task in an
    // uninterruptible sleep can hold that up, so re-ask and give up in time.
    const ok = await pollUntil(() => {
      const s = this.freezerState(dir);
      if (s === 'FREEZING') this.ctx.fs.writeFile(posix.join(dir, 'freezer.state'), 'FROZEN');
      return s === 'FROZEN';
    }, 5000);
    if (!ok) {
      writeField(this.ctx.fs, dir, 'freezer.state', 'THAWED', 'pause');
      throw cgroupError(
        'failed-precondition',
        `the processes of ${dir} did not freeze within 5 s (some are in an uninterruptible sleep); thawed them again`,
      );
    }
  }

  async thaw(): Promise<void> {
    const u = this.unifiedFreezer();
    if (u) return thawV2(this.ctx.fs, u);
    const dir = this.dir('freezer', 'resume');
    writeField(this.ctx.fs, dir, 'freezer.state', 'THAWED', 'resume');
    await pollUntil(() => this.freezerState(dir) === 'THAWED', 5000);
  }

  private freezerState(dir: string): string {
    return (readOptional(this.ctx.fs, dir, 'freezer.state') ?? 'THAWED').trim();
  }

  state(): FreezerState {
    const u = this.unifiedFreezer();
    if (u) return isFrozenV2(this.ctx.fs, u) ? 'frozen' : 'thawed';
    const dir = this.dirs['freezer'];
    if (!dir) return 'thawed';
    return this.freezerState(dir) === 'FROZEN' ? 'frozen' : 'thawed';
  }

  pids(): number[] {
    // Every process joins every hierarchy; read one that is there for sure.
    for (const c of ['freezer', 'devices', 'pids', 'memory', 'cpu', 'name=systemd']) {
      const d = this.dirs[c];
      if (d && this.ctx.fs.exists(d)) return pidsRecursive(this.ctx.fs, d);
    }
    const any = this.distinctDirs().find((d) => this.ctx.fs.exists(d));
    return any ? pidsRecursive(this.ctx.fs, any) : [];
  }

  stats(): Stats {
    const s = v1Stats(this.ctx.fs, this.dirs);
    if (!this.dirs['hugetlb'] && this.unified) s.hugetlb = v2HugetlbStats(this.ctx.fs, this.unified);
    return s;
  }

  /**
   * v1 has no cgroup.kill; on a hybrid host every container process is also
   * in the unified directory, whose cgroup.kill (Linux 5.14+) works without
   * any controller: use it there.
   */
  killAll(): boolean {
    if (!this.unified || !this.ctx.fs.exists(posix.join(this.unified, 'cgroup.kill'))) return false;
    writeField(this.ctx.fs, this.unified, 'cgroup.kill', '1', 'kill --all');
    return true;
  }

  async destroy(): Promise<void> {
    let first: Error | undefined;
    for (const d of this.distinctDirs()) {
      try {
        await removeTree(this.ctx.fs, d);
      } catch (e) {
        first ??= e as Error;
      }
    }
    // Intermediate directories this instance made: remove them when nothing else uses them.
    for (const d of [...this.created].reverse()) {
      try {
        this.ctx.fs.rmdir(d);
      } catch (e) {
        if (errnoOf(e) !== 'ENOENT' && errnoOf(e) !== 'EBUSY' && errnoOf(e) !== 'ENOTEMPTY') first ??= e as Error;
      }
    }
    this.created = [];
    if (first) throw first;
  }

  exists(): boolean {
    return this.distinctDirs().some((d) => this.ctx.fs.exists(d));
  }
}
