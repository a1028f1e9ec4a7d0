// The JSON dockerd answers for a container: the long form of
// GET /containers/{id}/json and the summary of GET /containers/json, and the
// filters of the list (id, name, label, status, exited, ancestor, before,
// since, volume, network, is-task).

import { emptyEndpoint, type ContainerRecord } from './record.js';
import { configView, hostConfigView, type HostDefaults } from './inspect-defaults.js';
import { badRequest } from '../http/errors.js';

function ago(iso: string): string {
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 1) return 'Less than a second';
  if (s < 60) return `${Math.floor(s)} seconds`;
  if (s < 120) return 'About a minute';
  if (s < 3600) return `${Math.floor(s / 60)} minutes`;
  if (s < 7200) return 'About an hour';
  if (s < 86400 * 2) return `${Math.floor(s / 3600)} hours`;
  return `${Math.floor(s / 86400)} days`;
}

export function statusText(r: ContainerRecord): string {
  const st = r.State;
  switch (st.Status) {
    case 'running':
      if (st.Health)
        return `Up ${ago(st.StartedAt)} (${st.Health.Status === 'starting' ? 'health: starting' : st.Health.Status})`;
      return `Up ${ago(st.StartedAt)}`;
    case 'paused':
      return `Up ${ago(st.StartedAt)} (Paused)`;
    case 'restarting':
      return `Restarting (${st.ExitCode}) ${ago(st.FinishedAt)} ago`;
    case 'exited':
      return st.FinishedAt.startsWith('0001') ? 'Created' : `Exited (${st.ExitCode}) ${ago(st.FinishedAt)} ago`;
    case 'removing':
      return 'Removal In Progress';
    case 'dead':
      return 'Dead';
    default:
      return 'Created';
  }
}

function mountsView(r: ContainerRecord) {
  // dockerd lists --tmpfs mounts under HostConfig.Tmpfs only (a --mount type=tmpfs is a mount point)
  const tmpfs = r.HostConfig.Tmpfs ?? {};
  const shown = r.Mounts.filter((m) => !(m.Type === 'tmpfs' && Object.hasOwn(tmpfs, m.Destination)));
  return shown.map((m) => ({
    Type: m.Type,
    ...(m.Name ? { Name: m.Name } : {}),
    Source: m.Source,
    Destination: m.Destination,
    ...(m.Driver ? { Driver: m.Driver } : {}),
    Mode: m.Mode,
    RW: m.RW,
    Propagation: m.Propagation,
  }));
}

function networks(r: ContainerRecord): Record<string, unknown> {
  const mode = r.HostConfig.NetworkMode ?? 'default';
  if (mode.startsWith('container:')) return {};
  const name = mode === 'default' ? 'bridge' : mode;
  return { [name]: emptyEndpoint('', { Name: name }) };
}

/** `execIds`: the container's execs not yet ended (dockerd drops an exec from ExecIDs at its exit). */
export function inspectView(
  r: ContainerRecord,
  snapshotter: string,
  defaults: HostDefaults,
  execIds: string[],
): Record<string, unknown> {
  const st = r.State;
  return {
    Id: r.Id,
    Created: r.Created,
    Path: r.Path,
    Args: r.Args,
    State: {
      Status: st.Status,
      // dockerd: a restarting container is still Running (its State.Running flag stays set between the runs).
      Running: st.Status === 'running' || st.Status === 'paused' || st.Status === 'restarting',
      Paused: st.Status === 'paused',
      Restarting: st.Status === 'restarting',
      OOMKilled: st.OOMKilled,
      Dead: st.Status === 'dead',
      Pid: st.Pid,
      ExitCode: st.ExitCode,
      Error: st.Error,
      StartedAt: st.StartedAt,
      FinishedAt: st.FinishedAt,
      ...(st.Health ? { Health: st.Health } : {}),
    },
    Image: r.Image,
    ResolvConfPath: r.ResolvConfPath,
    HostnamePath: r.HostnamePath,
    HostsPath: r.HostsPath,
    LogPath: r.LogPath,
    Name: r.Name,
    RestartCount: r.RestartCount,
    Driver: snapshotter,
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: execIds.length ? execIds : null,
    HostConfig: hostConfigView(r.HostConfig, defaults),
    GraphDriver: { Name: snapshotter, Data: null },
    Mounts: mountsView(r),
    Config: {
      ...configView(r.Config),
      Hostname: r.Config.Hostname || r.Id.slice(0, 12),
      Env: r.Config.Env ?? [],
      Cmd: r.Config.Cmd ?? null,
    },
    NetworkSettings: {
      Bridge: '',
      SandboxID: '',
      SandboxKey: '',
      Ports: {},
      HairpinMode: false,
      LinkLocalIPv6Address: '',
      LinkLocalIPv6PrefixLen: 0,
      Networks: networks(r),
    },
  };
}

export function summaryView(r: ContainerRecord): Record<string, unknown> {
  return {
    Id: r.Id,
    Names: [r.Name],
    // What the create named, as dockerd lists it ("alpine", not "alpine:latest").
    Image: r.Config.Image || r.ImageRef,
    ImageID: r.Image,
    Command: [r.Path, ...r.Args].map((a) => (a.includes(' ') ? `"${a}"` : a)).join(' '),
    Created: Math.floor(Date.parse(r.Created) / 1000),
    Ports: [],
    Labels: r.Config.Labels ?? {},
    State: r.State.Status,
    Status: statusText(r),
    HostConfig: { NetworkMode: r.HostConfig.NetworkMode ?? 'default' },
    NetworkSettings: { Networks: networks(r) },
    Mounts: mountsView(r),
  };
}

/** Docker's filters: {"label":{"a=b":true}} (and the old {"label":["a=b"]}). */
export function parseFilters(raw: string | null): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (!raw) return out;
  let doc: unknown;
  try {
    doc = JSON.parse(raw);
  } catch {
    throw badRequest(`invalid filter: ${raw}`, 'filters');
  }
  if (!doc || typeof doc !== 'object') throw badRequest(`invalid filter: ${raw}`, 'filters');
  for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
    if (Array.isArray(v)) out.set(k, v.map(String));
    else if (v && typeof v === 'object') out.set(k, Object.keys(v));
    else throw badRequest(`invalid filter '${k}'`, 'filters');
  }
  return out;
}

/**
 * dockerd's filters.Args.Match: the term equals the value, or is a regular
 * expression found in it (`name=^web$`); a term that is no valid expression
 * matches only itself.
 */
export function filterMatch(term: string, value: string): boolean {
  if (term === value) return true;
  try {
    return new RegExp(term).test(value);
  } catch {
    return false;
  }
}

export function labelMatch(labels: Record<string, string>, want: string): boolean {
  const i = want.indexOf('=');
  if (i < 0) return want in labels;
  return labels[want.slice(0, i)] === want.slice(i + 1);
}

const HEALTH_VALUES = ['starting', 'healthy', 'unhealthy', 'none'];

const CONTAINER_FILTERS = [
  'id',
  'name',
  'label',
  'status',
  'exited',
  'ancestor',
  'before',
  'since',
  'volume',
  'network',
  'is-task',
  'health',
  'expose',
  'publish',
];

export function filterContainers(
  all: ContainerRecord[],
  f: Map<string, string[]>,
  get: (ref: string) => ContainerRecord,
): ContainerRecord[] {
  for (const k of f.keys()) if (!CONTAINER_FILTERS.includes(k)) throw badRequest(`invalid filter '${k}'`, 'filters');
  const any = (k: string, pred: (v: string) => boolean) => !f.has(k) || f.get(k)!.some(pred);
  const before = f.get('before')?.map((x) => Date.parse(get(x).Created));
  const since = f.get('since')?.map((x) => Date.parse(get(x).Created));
  for (const v of f.get('health') ?? [])
    if (!HEALTH_VALUES.includes(v)) throw badRequest(`Unrecognised filter value for health: ${v}`, 'filters');
  return all.filter(
    (r) =>
      any('id', (v) => r.Id.startsWith(v)) &&
      any('name', (v) => new RegExp(v).test(r.Name.slice(1))) &&
      (f.get('label') ?? []).every((v) => labelMatch(r.Config.Labels ?? {}, v)) &&
      any('status', (v) => r.State.Status === v || (v === 'created' && statusText(r) === 'Created')) &&
      any('exited', (v) => r.State.Status === 'exited' && r.State.ExitCode === Number(v)) &&
      any('ancestor', (v) => r.ImageRef === v || r.Config.Image === v || r.Image.includes(v)) &&
      any('volume', (v) => r.Mounts.some((m) => m.Name === v || m.Destination === v)) &&
      any(
        'network',
        (v) =>
          (r.HostConfig.NetworkMode ?? 'default') === v ||
          Object.entries(r.NetworkEndpoints ?? {}).some(([id, w]) => w.Name === v || id === v),
      ) &&
      any('health', (v) => (r.State.Health?.Status ?? 'none') === v) &&
      (!before || before.every((t) => Date.parse(r.Created) < t)) &&
      (!since || since.every((t) => Date.parse(r.Created) > t)),
  );
}
