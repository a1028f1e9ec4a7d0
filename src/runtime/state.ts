// Container state on disk: <root>/<id>/state.json (written atomically) and
// <root>/<id>/exec.fifo while the container waits for `start`. The status is
// never stored: it is derived each time from what the kernel says about the
// recorded pid (and its start time, so a reused pid is not mistaken for ours).

import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BerthError, errnoOf } from '../common/errors.js';
import { writeFileAtomicSync } from '../common/atomic.js';
import { isProcessAlive } from '../common/proc.js';
import type { Spec } from './spec/types.js';
import type { Ownership } from './own.js';

export type Status = 'creating' | 'created' | 'running' | 'paused' | 'stopped';

export interface ContainerRecord {
  id: string;
  bundle: string;
  rootfs: string;
  /** Host pid of the container process; 0 while creating. */
  pid: number;
  /** Field 22 of /proc/<pid>/stat when the container was created. */
  pidStartTime: string;
  created: string;
  owner: string;
  config: Spec;
  cgroupsPath?: string;
  /** The manager's paths(), kept for `delete` of a container whose config changed. */
  cgroupPaths: Record<string, string>;
  rootless: boolean;
  /** Created with --no-new-keyring: the container (and its exec processes) keep the runtime's session keyring. */
  noNewKeyring?: boolean;
  /** How to tell the container's processes from others in its cgroup (own.ts). */
  own?: Ownership;
  /**
   * The runtime process creating the container, until create has finished:
   * the record is written before anything is made, so that a creator killed
   * half-way leaves a container that `list` shows and `delete` cleans up.
   */
  creator?: { pid: number; startTime: string };
  /**
   * No mount namespace at all: the container's mounts are made in the
   * runtime's, under the rootfs (its realpath); the ids of the mounts that
   * were there before are not the container's (hostmounts.ts).
   */
  hostMounts?: { rootfs: string; before: number[] };
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_+.-]*$/;

export function validateId(id: string | undefined): string {
  if (!id) throw new BerthError('runtime', 'invalid-argument', 'container id cannot be empty');
  if (!ID_RE.test(id) || id.length > 1024 || id === '.' || id === '..') {
    throw new BerthError('runtime', 'invalid-argument', `invalid container id format: ${id}`);
  }
  return id;
}

export class StateStore {
  constructor(
    readonly root: string,
    /** fsync each save (false: atomic for processes only, for a root that does not outlive a reboot anyway) */
    private readonly durable = true,
  ) {}

  dir(id: string): string {
    return join(this.root, validateId(id));
  }

  fifo(id: string): string {
    return join(this.dir(id), 'exec.fifo');
  }

  /** Reserve the id: the directory is created exclusively. */
  reserve(id: string): string {
    mkdirSync(this.root, { recursive: true, mode: 0o711 });
    const dir = this.dir(id);
    try {
      mkdirSync(dir, { mode: 0o711 });
    } catch (e) {
      if (errnoOf(e) === 'EEXIST') throw new BerthError('runtime', 'already-exists', `container with id exists: ${id}`);
      throw e;
    }
    return dir;
  }

  save(rec: ContainerRecord): void {
    writeFileAtomicSync(join(this.dir(rec.id), 'state.json'), JSON.stringify(rec), 0o600, { durable: this.durable });
  }

  load(id: string): ContainerRecord {
    const file = join(this.dir(id), 'state.json');
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') {
        throw new BerthError(
          'runtime',
          'not-found',
          existsSync(this.dir(id)) ? `container ${id} is still being created` : `container does not exist: ${id}`,
        );
      }
      throw e;
    }
    try {
      return JSON.parse(text) as ContainerRecord;
    } catch {
      throw new BerthError('runtime', 'internal', `state of container ${id} is corrupt (${file})`);
    }
  }

  tryLoad(id: string): ContainerRecord | undefined {
    try {
      return this.load(id);
    } catch (e) {
      if (e instanceof BerthError && e.code === 'not-found') return undefined;
      throw e;
    }
  }

  ids(): string[] {
    try {
      return readdirSync(this.root)
        .filter((n) => ID_RE.test(n) && statSync(join(this.root, n)).isDirectory())
        .sort();
    } catch (e) {
      if (errnoOf(e) === 'ENOENT') return [];
      throw e;
    }
  }

  remove(id: string): void {
    rmSync(this.dir(id), { recursive: true, force: true });
  }
}

/** Is the recorded process still ours and not a zombie? */
export function isAlive(rec: Pick<ContainerRecord, 'pid' | 'pidStartTime'>): boolean {
  // A record always has the start time; one without names no process.
  return !!rec.pidStartTime && isProcessAlive(rec.pid, rec.pidStartTime);
}
