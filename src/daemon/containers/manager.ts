// The containers berthd knows: records in memory and on disk, lookup by id,
// id prefix or name as dockerd looks them up, create (the create body merged
// with the image's config, mounts resolved, the rootfs snapshot prepared)
// and remove. Running them is ./runtime.ts's job.

import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ContainerdClient } from '../../client/index.js';
import type { MountSpec } from '../../client/services.js';
import type { StagedFile } from '../../common/atomic.js';
import { isNotFound } from '../../client/errors.js';
import { messageOf } from '../../common/errors.js';
import { checkPlatform, verifyCreate } from './verify.js';
import type { Logger } from '../../common/log.js';
import type { DaemonConfig } from '../config.js';
import type { EventBus } from '../events.js';
import { badRequest, conflict, notFound, statusOf } from '../http/errors.js';
import type { ImageService } from '../images/service.js';
import type { VolumeStore } from '../volumes/store.js';
import { parseCreateBody, type CreateBody } from './body.js';
import { capabilities } from './caps.js';
import { writeHostFiles } from './files.js';
import { mountPoints } from './mounts.js';
import { emptyState, RecordStore, type ContainerRecord } from './record.js';
import { securityOpts, validateHostConfig } from './spec.js';
import { randomName } from './names.js';
import { logPathFor, logSettings, withDaemonDefaults } from './logdriver.js';
import { familiarString } from '../../image/storeless.js';
import { parseRef } from '../images/service.js';
import type { ContainerNetworking } from '../networking/service.js';
import { mergeHealthcheck, validateHealthcheck } from './healthcheck.js';
import { validRestartPolicy } from './restart.js';
import { BLKIO_WARNING, blkioWeightSupported } from './kernel.js';
import { Steps } from './steps.js';

export interface Services {
  client: ContainerdClient;
  images: ImageService;
  volumes: VolumeStore;
  events: EventBus;
  log: Logger;
  cfg: DaemonConfig;
  nets: ContainerNetworking;
}

const NAME = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;
/** The label on a container's rootfs snapshot that keeps containerd's gc away from it. */
const GC_ROOT = 'containerd.io/gc.root';

export class ContainerManager {
  readonly records: RecordStore;
  private readonly byId = new Map<string, ContainerRecord>();
  private readonly names = new Map<string, string>();
  /** The runtime's part of a create (./runtime.ts: the containerd container made beside the Prepare), and its undoing. */
  hooks?: {
    created(r: ContainerRecord): Promise<void>;
    failed(id: string): Promise<void>;
    /** The create is done (its record in place): what may begin before the start begins. */
    made(r: ContainerRecord): void;
  };
  /** The rootfs mounts of each container's snapshot, as its Prepare answered (they never change): a start needs no Mounts call. */
  private readonly rootfs = new Map<string, MountSpec[]>();

  constructor(readonly s: Services) {
    this.records = new RecordStore(join(s.cfg.dataRoot, 'containers'), s.log);
  }

  async load(): Promise<ContainerRecord[]> {
    for (const r of await this.records.loadAll()) {
      this.byId.set(r.Id, r);
      this.names.set(r.Name, r.Id);
    }
    return [...this.byId.values()];
  }

  all(): ContainerRecord[] {
    return [...this.byId.values()];
  }

  /** By full id, name ("/x" or "x"), or unique id prefix. */
  get(ref: string): ContainerRecord {
    const direct = this.byId.get(ref) ?? this.byId.get(this.names.get(ref.startsWith('/') ? ref : `/${ref}`) ?? '');
    if (direct) return direct;
    if (/^[a-f0-9]+$/.test(ref)) {
      const hits = [...this.byId.keys()].filter((id) => id.startsWith(ref));
      if (hits.length === 1) return this.byId.get(hits[0]!)!;
      if (hits.length > 1) throw badRequest(`multiple IDs found with provided prefix: ${ref}`);
    }
    throw notFound(`No such container: ${ref}`);
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  /**
   * `durable: false` for the run state a start or an exit writes: it only
   * matters while the engine's tasks exist, and they do not outlive a reboot
   * (a restart reconciles the record with the engine: restore()), so it is
   * replaced atomically (kill -9 safe) without the fsyncs.
   */
  async save(r: ContainerRecord, opts: { durable?: boolean } = {}): Promise<void> {
    await this.records.save(r, opts);
  }

  /** The container's rootfs mounts: remembered from its Prepare, else asked for. */
  async rootfsMounts(id: string): Promise<MountSpec[]> {
    const known = this.rootfs.get(id);
    if (known) return known;
    const m = await this.s.client.snapshots(this.s.cfg.snapshotter).mounts(id);
    this.rootfs.set(id, m);
    return m;
  }

  private claimName(name: string, id: string): void {
    const held = this.names.get(name);
    if (held && held !== id) {
      throw conflict(
        `Conflict. The container name "${name}" is already in use by container "${held}". You have to remove (or rename) that container to be able to reuse that name.`,
      );
    }
    this.names.set(name, id);
  }

  async create(
    raw: unknown,
    nameParam: string | null,
    platform?: string | null,
  ): Promise<{ id: string; warnings: string[] }> {
    const steps = new Steps(this.s.log, 'create', '');
    const body = parseCreateBody(raw);
    const h = body.HostConfig ?? {};
    if (!body.Image) throw badRequest('no image specified: the field "Image" is required', 'Image');
    let name: string;
    if (nameParam) {
      if (!NAME.test(nameParam))
        throw badRequest(`Invalid container name (${nameParam}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`, 'name');
      name = nameParam.startsWith('/') ? nameParam : `/${nameParam}`;
    } else {
      do name = `/${randomName()}`;
      while (this.names.has(name));
    }
    const netMode = h.NetworkMode || 'default';
    const exposed = { ...(body.ExposedPorts ?? {}) };
    for (const k of Object.keys(h.PortBindings ?? {})) exposed[k.includes('/') ? k : `${k}/tcp`] ??= {};
    const policy = h.RestartPolicy?.Name ?? '';
    const policyErr = validRestartPolicy(h.RestartPolicy);
    if (policyErr) throw badRequest(policyErr, 'RestartPolicy');
    if (h.AutoRemove && policy && policy !== 'no')
      throw badRequest("can't create 'AutoRemove' container with restart policy", 'RestartPolicy');
    const caps = capabilities(h.Privileged ?? false, h.CapAdd ?? [], h.CapDrop ?? []);
    securityOpts(h.SecurityOpt ?? [], h.Privileged ?? false, caps); // refuse a bad option now, not at start
    validateHostConfig(h);
    validateHealthcheck(body.Healthcheck);
    // dockerd's adaptContainerSettings: swap defaults to as much again as memory, and is recorded so.
    if (h.Memory && h.Memory > 0 && !h.MemorySwap) h.MemorySwap = h.Memory * 2;
    const kernelWarnings: string[] = [];
    if (h.BlkioWeight && !blkioWeightSupported()) {
      kernelWarnings.push(BLKIO_WARNING);
      h.BlkioWeight = 0;
    }
    for (const [kind, mode] of [
      ['IPC', h.IpcMode],
      ['PID', h.PidMode],
      ['UTS', h.UTSMode],
    ] as const) {
      if (mode && !['host', 'private', 'shareable', ''].includes(mode) && !mode.startsWith('container:'))
        throw badRequest(
          `invalid ${kind} mode: ${mode}`,
          `${kind === 'UTS' ? 'UTS' : kind[0] + kind.slice(1).toLowerCase()}Mode`,
        );
    }
    verifyCreate(body, (ref) => {
      try {
        return Boolean(this.get(ref));
      } catch {
        return false;
      }
    });
    const logConfig = withDaemonDefaults(h.LogConfig, this.s.cfg);
    const logDriver = logSettings(logConfig.Type, logConfig.Config).driver;

    steps.mark('checked');
    const image = await this.s.images.find(body.Image, { allNames: false });
    if (platform) checkPlatform(body.Image, platform, image.resolved.config);
    steps.mark('image');
    const ic = image.resolved.config.config ?? {};
    const allExposed = { ...(ic.ExposedPorts ?? {}), ...exposed };
    let planned: ReturnType<typeof this.s.nets.planCreate>;
    try {
      planned = this.s.nets.planCreate(h, body.NetworkingConfig, Object.keys(allExposed));
    } catch (e) {
      // a 404 at create makes the docker CLI pull the image and retry: a missing network is the
      // request's fault here (dockerd finds it missing only at the start, where the CLI just reports it)
      if (isNotFound(e)) throw badRequest(messageOf(e), 'NetworkMode');
      throw e;
    }
    const endpoints = planned.endpoints;
    const warnings = [...kernelWarnings, ...planned.warnings];
    const merged: CreateBody = {
      ...body,
      Env: createEnv(ic.Env ?? [], body.Env ?? []),
      Cmd: body.Cmd?.length || body.Entrypoint?.length ? (body.Cmd ?? []) : (ic.Cmd ?? []),
      Entrypoint: body.Entrypoint?.length
        ? body.Entrypoint
        : body.Entrypoint === undefined || body.Entrypoint === null
          ? (ic.Entrypoint ?? null)
          : null,
      WorkingDir: body.WorkingDir || ic.WorkingDir || '',
      User: body.User || ic.User || '',
      Labels: { ...(ic.Labels ?? {}), ...(body.Labels ?? {}) },
      Volumes: { ...(ic.Volumes ?? {}), ...(body.Volumes ?? {}) },
      StopSignal: body.StopSignal || ic.StopSignal || undefined,
      ...(Object.keys(allExposed).length ? { ExposedPorts: allExposed } : {}),
      Healthcheck: mergeHealthcheck(body.Healthcheck, (ic as Record<string, unknown>).Healthcheck),
      Shell: body.Shell?.length ? body.Shell : imageShell(ic),
    };
    if (!merged.Healthcheck) delete merged.Healthcheck;
    if (!merged.Shell) delete merged.Shell;
    delete merged.HostConfig;
    delete merged.NetworkingConfig;
    const argv = [...(merged.Entrypoint ?? []), ...(merged.Cmd ?? [])];
    if (argv.length === 0) throw badRequest('no command specified', 'Cmd');

    const id = randomBytes(32).toString('hex');
    steps.container = id;
    this.claimName(name, id);
    const dir = this.records.dir(id);
    let snapshotMade = false;
    let prepared: Promise<MountSpec[]> | undefined;
    let precreated = false;
    let staged: Promise<StagedFile> | undefined;
    const madeVolumes: string[] = [];
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const parent = image.resolved.chainIds.at(-1) ?? '';
      // The snapshot is prepared (and the containerd container made) while the rest is worked
      // out; whatever fails, the clean-up below waits for the Prepare and undoes it.
      prepared = this.s.client
        .snapshots(this.s.cfg.snapshotter)
        .prepare(id, parent, { [GC_ROOT]: new Date().toISOString() })
        .then((m) => {
          snapshotMade = true;
          return m;
        });
      const [mounts, files] = await settleAll([
        mountPoints(
          { ...merged, HostConfig: h },
          this.s.volumes,
          (ref) => {
            // dockerd: an unknown container here is the request's fault (400), not a missing resource
            try {
              return this.get(ref).Mounts;
            } catch (e) {
              if (statusOf(e) === 404) throw badRequest(messageOf(e), 'VolumesFrom');
              throw e;
            }
          },
          madeVolumes,
        ),
        writeHostFiles(dir, merged.Hostname || id.slice(0, 12), netMode === 'host', h.ExtraHosts ?? []),
      ]);
      steps.mark('files');
      const rec: ContainerRecord = {
        Id: id,
        Name: name,
        Created: new Date().toISOString(),
        Config: { ...merged, Image: body.Image },
        HostConfig: { ...h, NetworkMode: netMode, LogConfig: logConfig },
        ImageRef: familiarString(parseRefSafe(body.Image)),
        Image: image.id,
        ParentChain: parent,
        Path: argv[0]!,
        Args: argv.slice(1),
        State: emptyState(),
        RestartCount: 0,
        ManuallyStopped: false,
        Mounts: mounts,
        LogPath: logPathFor(dir, id, logDriver),
        ResolvConfPath: files.resolv,
        HostnamePath: files.hostname,
        HostsPath: files.hosts,
        NetworkEndpoints: endpoints,
      };
      precreated = true;
      // the record is written and fsynced meanwhile, and renamed into place once the snapshot exists
      staged = this.records.stage(rec);
      const [rootfs, record] = await settleAll([prepared, staged, this.hooks?.created(rec) ?? Promise.resolve()]);
      this.rootfs.set(id, rootfs);
      steps.mark('snapshot');
      await record.commit();
      steps.mark('saved');
      this.byId.set(id, rec);
      this.hooks?.made(rec);
      this.s.events.emit('container', 'create', id, { image: rec.ImageRef, name: name.slice(1) });
      this.s.log.info('container created', { container: id, image: image.id, name });
      steps.done();
      return { id, warnings };
    } catch (e) {
      // Nothing half-made stays: the name, the snapshot, the directory, the volumes it made.
      this.names.delete(name);
      for (const v of madeVolumes) await this.s.volumes.remove(v, []).catch(() => undefined);
      this.rootfs.delete(id);
      await prepared?.catch(() => undefined);
      await staged?.then((f) => f.abort()).catch(() => undefined);
      if (precreated) await this.hooks?.failed(id).catch(() => undefined);
      if (snapshotMade)
        await this.s.client
          .snapshots(this.s.cfg.snapshotter)
          .remove(id)
          .catch(() => undefined);
      await this.records.remove(id);
      throw e;
    }
  }

  async rename(r: ContainerRecord, newName: string): Promise<void> {
    const name = newName.startsWith('/') ? newName : `/${newName}`;
    // dockerd's words: its name reservation's error behind "Error when allocating new name"
    if (!NAME.test(newName))
      throw badRequest(
        `Error when allocating new name: Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`,
        'name',
      );
    if (name === r.Name) throw conflict(`Renaming a container with the same name as its current name`);
    try {
      this.claimName(name, r.Id);
    } catch (e) {
      throw conflict(`Error when allocating new name: ${messageOf(e)}`);
    }
    const old = r.Name;
    r.Name = name;
    try {
      await this.save(r);
    } catch (e) {
      r.Name = old;
      this.names.delete(name);
      throw e;
    }
    this.names.delete(old);
    this.s.events.emit('container', 'rename', r.Id, { name: name.slice(1), oldName: old });
  }

  /** Forget a stopped container: its snapshot, record and log, and its anonymous volumes with `removeVolumes` (rm -v, --rm); named volumes stay, as with dockerd. */
  async forget(r: ContainerRecord, removeVolumes: boolean): Promise<void> {
    this.rootfs.delete(r.Id);
    const snapshot = this.s.client
      .snapshots(this.s.cfg.snapshotter)
      .remove(r.Id)
      .catch((e: unknown) => {
        if (!isNotFound(e)) this.s.log.warn('snapshot removal failed', { container: r.Id, error: messageOf(e) });
      });
    await Promise.all([snapshot, this.records.remove(r.Id)]);
    await this.gone(r, removeVolumes);
  }

  /**
   * The half of a removal the user sees, for one whose engine side is left to
   * ./removal.ts: the record moved out of the records' directory (durably),
   * the name free, the anonymous volumes gone with `removeVolumes`, destroy.
   */
  async retire(r: ContainerRecord, removeVolumes: boolean): Promise<void> {
    this.rootfs.delete(r.Id);
    await this.records.retire(r.Id);
    await this.gone(r, removeVolumes);
  }

  /** A container whose record is gone: forgotten in memory, its anonymous volumes removed, the destroy event. */
  private async gone(r: ContainerRecord, removeVolumes: boolean): Promise<void> {
    this.byId.delete(r.Id);
    if (this.names.get(r.Name) === r.Id) this.names.delete(r.Name);
    for (const m of r.Mounts) {
      if (m.Type !== 'volume' || !m.Name) continue;
      const v = await this.s.volumes.get(m.Name).catch(() => undefined);
      if (v?.Anonymous && removeVolumes && !this.volumeUsers(m.Name).length)
        await this.s.volumes.remove(m.Name, []).catch(() => undefined);
    }
    // the record is gone already: its labels are given here
    this.s.events.emit('container', 'destroy', r.Id, {
      ...(r.Config.Labels ?? {}),
      image: r.ImageRef,
      name: r.Name.slice(1),
    });
  }

  volumeUsers(name: string): string[] {
    return this.all()
      .filter((c) => c.Mounts.some((m) => m.Type === 'volume' && m.Name === name))
      .map((c) => c.Id);
  }
}

function imageShell(ic: object): string[] | undefined {
  const sh = (ic as { Shell?: unknown }).Shell;
  return Array.isArray(sh) && sh.every((x) => typeof x === 'string') && sh.length ? sh : undefined;
}

function parseRefSafe(ref: string) {
  return parseRef(ref);
}

/** Promise.all that lets every promise settle before it throws the first failure (nothing is left running). */
async function settleAll<T extends readonly unknown[]>(ps: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const rs = await Promise.allSettled(ps);
  for (const r of rs) if (r.status === 'rejected') throw r.reason;
  return rs.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

/**
 * A new container's environment as dockerd makes it: the user's variables as
 * given, then each of the image's that the user did not set (the image's
 * alone when the user gave none).
 */
function createEnv(image: string[], user: string[]): string[] {
  if (user.length === 0) return image;
  const key = (e: string) => e.split('=', 1)[0]!;
  const set = new Set(user.map(key));
  return [...user, ...image.filter((e) => !set.has(key(e)))];
}

/** Image env first, the user's replaces a variable of the same name. */
export function mergeEnv(image: string[], user: string[]): string[] {
  const out = new Map<string, string>();
  for (const e of [...image, ...user]) {
    const k = e.split('=', 1)[0]!;
    out.set(k, e);
  }
  return [...out.values()];
}
