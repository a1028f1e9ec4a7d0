// A container as berthd remembers it: the create body, the state Docker
// reports, and where its logs and FIFOs are. One JSON file per container,
// <data-root>/containers/<id>/config.v2.json (dockerd's name), written
// atomically (temp file, fsync, rename), so a kill -9 at any instant leaves
// the old record or the new one, never a torn one.

import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fsyncDir, stageFileAtomic, writeFileAtomic, type StagedFile } from '../../common/atomic.js';
import { errnoOf, messageOf } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import type { CreateBody, HostConfig } from './body.js';

export type Status = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export interface State {
  Status: Status;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
  OOMKilled: boolean;
  /** Present once a container with a healthcheck has started (see ./health.ts). */
  Health?: HealthState;
}

export interface HealthResult {
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}

export interface HealthState {
  Status: 'starting' | 'healthy' | 'unhealthy';
  FailingStreak: number;
  /** The last 5 probes, oldest first. */
  Log: HealthResult[];
}

export interface MountPoint {
  Type: 'bind' | 'volume' | 'tmpfs';
  Name?: string;
  Source: string;
  Destination: string;
  Driver?: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
  /** tmpfs options (size=, mode=), for Type tmpfs. */
  Options?: string[];
  /** A volume to seed from the image at first start if it is empty (cleared once done; `nocopy` leaves it unset). */
  CopyUp?: boolean;
}

/** A network the container is on, as the user asked (--network, --ip, --alias, network connect). */
export interface WantedEndpoint {
  Name: string;
  IPv4Address?: string;
  Aliases?: string[];
}

export interface ContainerRecord {
  Id: string;
  Name: string; // "/name"
  Created: string;
  Config: CreateBody;
  HostConfig: HostConfig;
  /** Image as the user named it, and the image id (config digest) it resolved to. */
  ImageRef: string;
  Image: string;
  /** The image's top chain id: the parent of the rootfs snapshot. */
  ParentChain: string;
  Path: string;
  Args: string[];
  State: State;
  RestartCount: number;
  /** Set by `docker stop`/`kill`: an exit the user asked for does not restart unless-stopped. */
  ManuallyStopped: boolean;
  Mounts: MountPoint[];
  LogPath: string;
  ResolvConfPath: string;
  HostnamePath: string;
  HostsPath: string;
  /** Network id → the endpoint asked for on it (the network mode's own first); see src/daemon/networking/. */
  NetworkEndpoints?: Record<string, WantedEndpoint>;
}

/** A container's settings on network `networkId` before it is connected (no address yet), as docker inspect shows them. */
export function emptyEndpoint(networkId: string, w: WantedEndpoint): Record<string, unknown> {
  return {
    IPAMConfig: w.IPv4Address ? { IPv4Address: w.IPv4Address } : null,
    Links: null,
    Aliases: w.Aliases ?? null,
    NetworkID: networkId,
    EndpointID: '',
    Gateway: '',
    IPAddress: '',
    IPPrefixLen: 0,
    IPv6Gateway: '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    MacAddress: '',
    DriverOpts: null,
  };
}

export function emptyState(): State {
  return {
    Status: 'created',
    Pid: 0,
    ExitCode: 0,
    Error: '',
    StartedAt: '0001-01-01T00:00:00Z',
    FinishedAt: '0001-01-01T00:00:00Z',
    OOMKilled: false,
  };
}

export class RecordStore {
  constructor(
    readonly root: string,
    private readonly log: Logger,
  ) {}

  dir(id: string): string {
    return join(this.root, id);
  }

  /**
   * A new container's record, written and fsynced now but in place only at
   * commit(): a berthd that dies before leaves a directory without a record,
   * which loadAll() removes.
   */
  async stage(r: ContainerRecord): Promise<StagedFile> {
    return stageFileAtomic(join(this.dir(r.Id), 'config.v2.json'), JSON.stringify(r), 0o600);
  }

  /** `retiredRoot` exists (made by this berthd). */
  private retiredMade = false;
  /** Per container, the last save asked for: saves of one record land in the order they were asked for. */
  private readonly saving = new Map<string, Promise<void>>();

  /**
   * `durable: false`: no fsyncs (see ContainerManager.save). The directory is
   * made when missing. Two saves of one record never overlap (each renames a
   * temp file of its own into place: the later one asked for must land last);
   * each writes the record as it is when its turn comes.
   */
  async save(r: ContainerRecord, opts: { durable?: boolean } = {}): Promise<void> {
    const write = () =>
      writeFileAtomic(join(this.dir(r.Id), 'config.v2.json'), JSON.stringify(r), 0o600, {
        durable: opts.durable ?? true,
      });
    const turn = (this.saving.get(r.Id) ?? Promise.resolve()).then(async () => {
      try {
        await write();
      } catch (e) {
        if (errnoOf(e) !== 'ENOENT') throw e;
        await mkdir(this.dir(r.Id), { recursive: true, mode: 0o700 });
        await write();
      }
    });
    const settled = turn.catch(() => undefined);
    this.saving.set(r.Id, settled);
    try {
      await turn;
    } finally {
      if (this.saving.get(r.Id) === settled) this.saving.delete(r.Id);
    }
  }

  /** The saves of `id` under way have landed (before its record is removed or moved). */
  private async saved(id: string): Promise<void> {
    await this.saving.get(id);
  }

  async remove(id: string): Promise<void> {
    await this.saved(id);
    await rm(this.dir(id), { recursive: true, force: true });
  }

  /**
   * Where the records of containers being removed wait for the end of their
   * clean-up (./removal.ts): `<data-root>/removing/<id>`, beside the records'
   * directory so that a rename moves them.
   */
  get retiredRoot(): string {
    return join(dirname(this.root), 'removing');
  }

  /**
   * The record moved out of the records' directory in one rename (loadAll no
   * longer sees it), both directories fsynced: from here on the container is
   * gone for berthd, even after a power loss, and what of it is left in the
   * engine and the kernel is found again from `retiredRoot` (retired()).
   */
  async retire(id: string): Promise<void> {
    await this.saved(id);
    if (!this.retiredMade) await mkdir(this.retiredRoot, { recursive: true, mode: 0o700 });
    this.retiredMade = true;
    const to = join(this.retiredRoot, id);
    try {
      await rename(this.dir(id), to);
    } catch (e) {
      // no directory (a record never written): the mark alone, for the clean-up to be found again
      if (errnoOf(e) !== 'ENOENT') throw e;
      await mkdir(to, { recursive: true, mode: 0o700 });
    }
    await Promise.all([fsyncDir(this.root), fsyncDir(this.retiredRoot)]);
  }

  /** The ids of the retired records whose clean-up has not ended. */
  async retired(): Promise<string[]> {
    try {
      return (await readdir(this.retiredRoot)).filter((n) => /^[a-f0-9]{64}$/.test(n));
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') return [];
      throw e;
    }
  }

  /** The end of a retired record: its clean-up is done. */
  async purge(id: string): Promise<void> {
    await rm(join(this.retiredRoot, id), { recursive: true, force: true });
  }

  /** Every record on disk; an unreadable one is logged and left for a human, not deleted. */
  async loadAll(): Promise<ContainerRecord[]> {
    let names: string[];
    try {
      names = await readdir(this.root);
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') return [];
      throw e;
    }
    const out: ContainerRecord[] = [];
    for (const id of names) {
      try {
        out.push(JSON.parse(await readFile(join(this.dir(id), 'config.v2.json'), 'utf8')) as ContainerRecord);
      } catch (e) {
        // A directory without a record is a create that died before its first save.
        if (errnoOf(e) === 'ENOENT') await rm(this.dir(id), { recursive: true, force: true });
        else this.log.error('container record unreadable, skipped', { container: id, error: messageOf(e) });
      }
    }
    return out;
  }
}
