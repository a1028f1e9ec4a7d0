// -v/--mount/--tmpfs and image VOLUMEs to the mount points of a container,
// with dockerd's rules: a -v host path that does not exist is created, a
// --mount bind source that does not exist is an error; a -v name that is not
// a path is a named volume; every destination is absolute and used once; an
// image VOLUME without a mount gets an anonymous volume. --volumes-from
// copies another container's bind and volume mounts (read-only with `:ro`),
// which the container's own -v/--mount of the same destination replace.

import { mkdir, stat } from 'node:fs/promises';
import { isAbsolute, normalize } from 'node:path';
import { errnoOf, messageOf } from '../../common/errors.js';
import { badRequest } from '../http/errors.js';
import type { VolumeStore } from '../volumes/store.js';
import type { CreateBody } from './body.js';
import type { MountPoint } from './record.js';

const PROPAGATIONS = ['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave'];

function checkTarget(type: string, target: string): string {
  if (!isAbsolute(target))
    throw badRequest(
      `invalid mount config for type "${type}": invalid mount path: '${target}' mount path must be absolute`,
      'Target',
    );
  const t = normalize(target);
  if (t === '/') throw badRequest(`invalid specification: destination can't be '/'`, 'Target');
  return t.length > 1 && t.endsWith('/') ? t.slice(0, -1) : t;
}

/** --tmpfs: dockerd says it without the mount type. */
function tmpfsTarget(dst: string): string {
  if (!isAbsolute(dst)) throw badRequest(`invalid mount path: '${dst}' mount path must be absolute`, 'Tmpfs');
  return checkTarget('tmpfs', dst);
}

const BIND_OPTIONS = ['ro', 'rw', 'z', 'Z', 'nocopy', 'consistent', 'cached', 'delegated', ...PROPAGATIONS];

/**
 * A Binds entry of a destination alone ("/data", what docker-py sends for
 * `volumes=['/data']`): an anonymous volume there, as dockerd makes it.
 */
async function anonymousBind(spec: string, volumes: Creator): Promise<MountPoint> {
  if (!isAbsolute(spec))
    throw badRequest(
      `invalid volume specification: '${spec}': invalid mount config for type "volume": invalid mount path: '${spec}' mount path must be absolute`,
      'Binds',
    );
  const destination = checkTarget('volume', spec);
  const { volume } = await volumes.create(undefined, { anonymous: true });
  return volumePoint(volume, destination, 'z', true, true);
}

/** A -v entry's local volume as its mount point. */
function volumePoint(
  volume: { Name: string; Mountpoint: string },
  destination: string,
  mode: string,
  rw: boolean,
  copyUp: boolean,
): MountPoint {
  return {
    Type: 'volume',
    Name: volume.Name,
    Source: volume.Mountpoint,
    Destination: destination,
    Driver: 'local',
    Mode: mode,
    RW: rw,
    Propagation: '',
    CopyUp: copyUp,
  };
}

/** "src:dst[:opts]" of -v, or "dst" alone. */
async function parseBind(spec: string, volumes: Creator): Promise<MountPoint> {
  const parts = spec.split(':');
  if (parts.length === 1 && spec) return anonymousBind(spec, volumes);
  // "dst:mode" is no volume: a volume spec with a mode needs a source (dockerd's words)
  const modeOnly = parts.length === 2 && parts[1]!.split(',').every((o) => BIND_OPTIONS.includes(o));
  if (parts.length < 2 || parts.length > 3 || !parts[0] || !parts[1] || modeOnly)
    throw badRequest(`invalid volume specification: '${spec}'`, 'Binds');
  const [src, dst, opts = ''] = parts as [string, string, string?];
  let rw = true;
  let propagation = '';
  for (const o of opts.split(',').filter(Boolean)) {
    if (o === 'ro' || o === 'rw') rw = o === 'rw';
    else if (PROPAGATIONS.includes(o)) propagation = o;
    else if (!['z', 'Z', 'nocopy', 'consistent', 'cached', 'delegated'].includes(o))
      throw badRequest(`invalid mode: ${o}`, 'Binds');
  }
  let destination: string;
  try {
    destination = checkTarget('bind', dst);
  } catch (e) {
    throw badRequest(`invalid volume specification: '${spec}': ${messageOf(e)}`, 'Binds');
  }
  if (isAbsolute(src)) {
    // dockerd creates a missing -v host path as a directory.
    await mkdir(src, { recursive: true });
    return {
      Type: 'bind',
      Source: normalize(src),
      Destination: destination,
      Mode: opts,
      RW: rw,
      Propagation: propagation || 'rprivate',
    };
  }
  const { volume } = await volumes.create(src);
  return volumePoint(volume, destination, opts || 'z', rw, !opts.split(',').includes('nocopy'));
}

function tmpfsOptions(raw: string): string[] {
  const out: string[] = [];
  for (const o of raw.split(',').filter(Boolean)) {
    if (
      !/^(rw|ro|nosuid|suid|nodev|dev|noexec|exec|size=\d+[kmgKMG%]?|mode=[0-7]{3,4}|uid=\d+|gid=\d+|nr_inodes=\d+[kmg]?)$/.test(
        o,
      )
    ) {
      throw badRequest(`invalid tmpfs option "${o}"`, 'Tmpfs');
    }
    out.push(o);
  }
  return out;
}

/** "container[:ro|rw]" of --volumes-from, as dockerd parses it (no propagation, no copy mode). */
function parseVolumesFrom(spec: string): { ref: string; rw: boolean } {
  if (!spec) throw badRequest('volumes-from specification cannot be an empty string', 'VolumesFrom');
  const i = spec.indexOf(':');
  if (i < 0) return { ref: spec, rw: true };
  const mode = spec.slice(i + 1);
  const opts = mode.split(',');
  if (!opts.every((o) => ['ro', 'rw', 'z', 'Z'].includes(o)) || opts.filter((o) => o === 'ro' || o === 'rw').length > 1)
    throw badRequest(`invalid mode: ${mode}`, 'VolumesFrom');
  return { ref: spec.slice(0, i), rw: !opts.includes('ro') };
}

/** Another container's mount points, by name or id (`--volumes-from`); throws when there is none. */
export type MountsOf = (ref: string) => MountPoint[];

type Creator = Pick<VolumeStore, 'create'>;

/** `made` gets the names of the volumes this call created, for the caller to remove if the create fails later. */
export async function mountPoints(
  body: CreateBody,
  store: VolumeStore,
  mountsOf: MountsOf,
  made: string[] = [],
): Promise<MountPoint[]> {
  const volumes: Creator = {
    create: async (...a) => {
      const r = await store.create(...a);
      if (r.created) made.push(r.volume.Name);
      return r;
    },
  };
  const h = body.HostConfig ?? {};
  const out: MountPoint[] = [];
  // dockerd's order: what --volumes-from brings first; a -v or --mount of the same destination replaces it
  const inherited = new Set<MountPoint>();
  for (const spec of h.VolumesFrom ?? []) {
    const { ref, rw } = parseVolumesFrom(spec);
    for (const m of mountsOf(ref)) {
      if (m.Type !== 'bind' && m.Type !== 'volume') continue; // a tmpfs is the container's own
      const copy: MountPoint = { ...m, RW: m.RW && rw, CopyUp: false };
      const at = out.findIndex((o) => o.Destination === m.Destination);
      if (at >= 0) {
        inherited.delete(out[at]!);
        out[at] = copy;
      } else out.push(copy);
      inherited.add(copy);
    }
  }
  const add = (m: MountPoint) => {
    const at = out.findIndex((o) => o.Destination === m.Destination);
    if (at >= 0 && inherited.has(out[at]!)) {
      inherited.delete(out[at]!);
      out[at] = m;
      return;
    }
    if (at >= 0) throw badRequest(`Duplicate mount point: ${m.Destination}`, 'Mounts');
    out.push(m);
  };
  for (const b of h.Binds ?? []) add(await parseBind(b, volumes));
  for (const m of h.Mounts ?? []) {
    const type = m.Type ?? 'volume';
    if (!['bind', 'volume', 'tmpfs', 'npipe', 'cluster'].includes(type))
      throw badRequest(`invalid mount config for type "${type}": mount type unknown`, 'Mounts.Type');
    const target = checkTarget(type, m.Target);
    if (type === 'bind') {
      if (!m.Source || !isAbsolute(m.Source))
        throw badRequest(
          `invalid mount config for type "bind": invalid mount path: '${m.Source ?? ''}' mount path must be absolute`,
          'Mounts.Source',
        );
      try {
        await stat(m.Source);
      } catch (e) {
        if (errnoOf(e) === 'ENOENT')
          throw badRequest(
            `invalid mount config for type "bind": bind source path does not exist: ${m.Source}`,
            'Mounts.Source',
          );
        throw e;
      }
      const prop = m.BindOptions?.Propagation || 'rprivate';
      if (!PROPAGATIONS.includes(prop))
        throw badRequest(`invalid mount config for type "bind": invalid propagation "${prop}"`, 'Mounts.BindOptions');
      add({ Type: 'bind', Source: m.Source, Destination: target, Mode: '', RW: !m.ReadOnly, Propagation: prop });
    } else if (type === 'volume') {
      const { volume } = await volumes.create(m.Source || undefined, { labels: m.VolumeOptions?.Labels ?? undefined });
      add({
        Type: 'volume',
        Name: volume.Name,
        Source: volume.Mountpoint,
        Destination: target,
        Driver: 'local',
        Mode: 'z',
        RW: !m.ReadOnly,
        Propagation: '',
        CopyUp: !m.VolumeOptions?.NoCopy,
      });
    } else if (type === 'tmpfs') {
      if (m.Source)
        throw badRequest('invalid mount config for type "tmpfs": source must not be specified', 'Mounts.Source');
      const o: string[] = [];
      if (m.TmpfsOptions?.SizeBytes) o.push(`size=${m.TmpfsOptions.SizeBytes}`);
      if (m.TmpfsOptions?.Mode) o.push(`mode=${m.TmpfsOptions.Mode.toString(8)}`);
      add({
        Type: 'tmpfs',
        Source: '',
        Destination: target,
        Mode: '',
        RW: !m.ReadOnly,
        Propagation: '',
        Options: m.ReadOnly ? ['ro', ...o] : o,
      });
    } else {
      throw badRequest(`mount type "${type}" is not supported`, 'Mounts.Type');
    }
  }
  for (const [dst, opts] of Object.entries(h.Tmpfs ?? {})) {
    add({
      Type: 'tmpfs',
      Source: '',
      Destination: tmpfsTarget(dst),
      Mode: opts,
      RW: !opts.split(',').includes('ro'),
      Propagation: '',
      Options: tmpfsOptions(opts),
    });
  }
  // VOLUMEs of the image and -v /path: anonymous volumes where nothing is mounted.
  for (const dst of Object.keys(body.Volumes ?? {})) {
    const d = checkTarget('volume', dst);
    if (out.some((o) => o.Destination === d)) continue;
    const { volume } = await volumes.create(undefined, { anonymous: true });
    out.push({
      Type: 'volume',
      Name: volume.Name,
      Source: volume.Mountpoint,
      Destination: d,
      Driver: 'local',
      Mode: '',
      RW: true,
      Propagation: '',
      CopyUp: true,
    });
  }
  return out;
}
