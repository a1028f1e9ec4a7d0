// -v/--mount/--tmpfs and image VOLUMEs to the mount points of a container,
// with dockerd's rules: a -v host path that does not exist is created, a
// --mount bind source that does not exist is an error; a -v name that is not
// a path is a named volume; every destination is absolute and used once; an
// image VOLUME without a mount gets an anonymous volume.

import { mkdir, stat } from 'node:fs/promises';
import { isAbsolute, normalize } from 'node:path';
import { errnoOf } from '../../common/errors.js';
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

/** "src:dst[:opts]" of -v. */
async function parseBind(spec: string, volumes: VolumeStore): Promise<MountPoint> {
  const parts = spec.split(':');
  if (parts.length < 2 || parts.length > 3 || !parts[0] || !parts[1])
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
  const destination = checkTarget('bind', dst);
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
  return {
    Type: 'volume',
    Name: volume.Name,
    Source: volume.Mountpoint,
    Destination: destination,
    Driver: 'local',
    Mode: opts || 'z',
    RW: rw,
    Propagation: '',
    CopyUp: !opts.split(',').includes('nocopy'),
  };
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

export async function mountPoints(body: CreateBody, volumes: VolumeStore): Promise<MountPoint[]> {
  const h = body.HostConfig ?? {};
  const out: MountPoint[] = [];
  const add = (m: MountPoint) => {
    if (out.some((o) => o.Destination === m.Destination))
      throw badRequest(`Duplicate mount point: ${m.Destination}`, 'Mounts');
    out.push(m);
  };
  for (const b of h.Binds ?? []) add(await parseBind(b, volumes));
  for (const m of h.Mounts ?? []) {
    const type = m.Type ?? 'volume';
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
      Destination: checkTarget('tmpfs', dst),
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
