// The fields of GET /images/{name}/json that older API versions still carry
// and newer ones dropped: `Container` and `ContainerConfig` (removed in API
// 1.45) and `VirtualSize` (removed in 1.44). Clients that pin an older
// version read them: docker-compose 1.29 (Debian's) reads
// ContainerConfig.Volumes whenever it recreates a container, and fails with
// a KeyError when the field is missing. dockerd takes both from the image
// config's `container` and `container_config` (what the builder recorded);
// an image without them gets an empty string and a zero-valued config.

import type { ImageConfig } from '../../image/storeless.js';
import { compareVersions } from '../http/router.js';

/** container.Config as dockerd marshals a zero value: omitempty fields left out. */
function containerConfig(raw: unknown): Record<string, unknown> {
  const c = raw && typeof raw === 'object' ? (raw as Record<string, unknown>) : {};
  const out: Record<string, unknown> = {
    Hostname: c.Hostname ?? '',
    Domainname: c.Domainname ?? '',
    User: c.User ?? '',
    AttachStdin: c.AttachStdin ?? false,
    AttachStdout: c.AttachStdout ?? false,
    AttachStderr: c.AttachStderr ?? false,
  };
  if (c.ExposedPorts) out.ExposedPorts = c.ExposedPorts;
  Object.assign(out, {
    Tty: c.Tty ?? false,
    OpenStdin: c.OpenStdin ?? false,
    StdinOnce: c.StdinOnce ?? false,
    Env: c.Env ?? null,
    Cmd: c.Cmd ?? null,
  });
  if (c.Healthcheck) out.Healthcheck = c.Healthcheck;
  if (c.ArgsEscaped) out.ArgsEscaped = c.ArgsEscaped;
  Object.assign(out, {
    Image: c.Image ?? '',
    Volumes: c.Volumes ?? null,
    WorkingDir: c.WorkingDir ?? '',
    Entrypoint: c.Entrypoint ?? null,
  });
  if (c.NetworkDisabled) out.NetworkDisabled = c.NetworkDisabled;
  if (c.MacAddress) out.MacAddress = c.MacAddress;
  Object.assign(out, { OnBuild: c.OnBuild ?? null, Labels: c.Labels ?? null });
  for (const k of ['StopSignal', 'StopTimeout', 'Shell'] as const) if (c[k] !== undefined) out[k] = c[k];
  return out;
}

/** The fields an image inspect answered at API `version` adds for `config`. */
export function legacyImageFields(version: string, config: ImageConfig, size: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (compareVersions(version, '1.45') < 0) {
    const name = (config as { container?: unknown }).container;
    out.Container = typeof name === 'string' ? name : '';
    out.ContainerConfig = containerConfig((config as { container_config?: unknown }).container_config);
  }
  if (compareVersions(version, '1.44') < 0) out.VirtualSize = size;
  return out;
}
