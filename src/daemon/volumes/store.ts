// The `local` volume driver: a volume is <data-root>/volumes/<name>/_data
// plus <name>/opts.json (labels, creation time, whether it is anonymous),
// written atomically. Options `type`, `device` and `o` mount a tmpfs or bind
// as dockerd's local driver does, at first use.

import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { openDir, PinnedRoot, type Dir } from '../containers/pinned.js';
import { join } from 'node:path';
import { writeFileAtomic } from '../../common/atomic.js';
import { errnoOf } from '../../common/errors.js';
import { badRequest, conflict, notFound } from '../http/errors.js';

export interface Volume {
  Name: string;
  Driver: 'local';
  Mountpoint: string;
  CreatedAt: string;
  Labels: Record<string, string>;
  Options: Record<string, string>;
  Scope: 'local';
  Anonymous: boolean;
}

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export class VolumeStore {
  constructor(readonly root: string) {}

  private dir(name: string): string {
    return join(this.root, name);
  }

  async create(
    name: string | undefined,
    opts: { labels?: Record<string, string>; options?: Record<string, string>; anonymous?: boolean } = {},
  ): Promise<{ volume: Volume; created: boolean }> {
    const anonymous = !name;
    const n = name || randomBytes(32).toString('hex');
    // dockerd's words: the local driver's error behind "create NAME"
    if (!NAME.test(n))
      throw badRequest(
        `create ${n}: "${n}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
        'Name',
      );
    for (const k of Object.keys(opts.options ?? {})) {
      if (!['type', 'device', 'o'].includes(k)) throw badRequest(`create ${n}: invalid option: "${k}"`, 'DriverOpts');
    }
    const have = await this.get(n).catch(() => undefined);
    if (have) return { volume: have, created: false };
    const v: Volume = {
      Name: n,
      Driver: 'local',
      Mountpoint: join(this.dir(n), '_data'),
      CreatedAt: new Date().toISOString(),
      Labels: opts.labels ?? {},
      Options: opts.options ?? {},
      Scope: 'local',
      Anonymous: opts.anonymous ?? anonymous,
    };
    await mkdir(v.Mountpoint, { recursive: true, mode: 0o755 });
    await writeFileAtomic(join(this.dir(n), 'opts.json'), JSON.stringify(v), 0o600);
    return { volume: v, created: true };
  }

  async get(name: string): Promise<Volume> {
    try {
      return JSON.parse(await readFile(join(this.dir(name), 'opts.json'), 'utf8')) as Volume;
    } catch (e) {
      if (errnoOf(e) === 'ENOENT' || errnoOf(e) === 'ENOTDIR') throw notFound(`get ${name}: no such volume`);
      throw e;
    }
  }

  async list(): Promise<Volume[]> {
    let names: string[] = [];
    try {
      names = await readdir(this.root);
    } catch (e) {
      if (errnoOf(e) !== 'ENOENT') throw e;
    }
    const out: Volume[] = [];
    for (const n of names) {
      const v = await this.get(n).catch(() => undefined);
      if (v) out.push(v);
    }
    return out;
  }

  async remove(name: string, inUseBy: string[]): Promise<void> {
    await this.get(name);
    if (inUseBy.length) throw conflict(`remove ${name}: volume is in use - [${inUseBy.join(', ')}]`);
    await rm(this.dir(name), { recursive: true, force: true });
  }

  /** Whether the volume's data directory is empty (copy-up happens only then). */
  async isEmpty(name: string): Promise<boolean> {
    const v = await this.get(name);
    try {
      return (await readdir(v.Mountpoint)).length === 0 && (await stat(v.Mountpoint)).isDirectory();
    } catch {
      return false;
    }
  }

  /**
   * What `docker system df` shows for a volume, as dockerd's local driver
   * counts it: the sizes of everything but directories under _data, a file
   * with several links once; -1 when the tree cannot be read.
   */
  async size(name: string): Promise<number> {
    const v = await this.get(name);
    const seen = new Set<bigint>();
    let total = 0;
    // Through pinned descriptors: a running container of the volume may swap
    // a directory for a symlink to a host path while we count.
    const walk = async (dir: Dir): Promise<void> => {
      for (const e of await readdir(dir.self, { withFileTypes: true })) {
        if (e.isDirectory()) {
          const sub = await openDir(dir, e.name);
          if (!sub) continue; // no longer a directory
          try {
            await walk(sub);
          } finally {
            await sub.close();
          }
          continue;
        }
        const st = await lstat(dir.at(e.name), { bigint: true }).catch(() => undefined);
        if (!st || st.isDirectory() || st.size === 0n || seen.has(st.ino)) continue;
        seen.add(st.ino);
        total += Number(st.size);
      }
    };
    try {
      const tree = await PinnedRoot.open(v.Mountpoint);
      try {
        await walk(tree.root);
      } finally {
        await tree.close();
      }
      return total;
    } catch {
      return -1;
    }
  }
}
