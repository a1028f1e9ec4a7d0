// ps / container ls: the list, its default table and docker's
// ContainerContext fields (ID, Image, Command, CreatedAt, RunningFor, Ports,
// State, Status, Size, Names, Labels, Label, Mounts, LocalVolumes, Networks).

import type { Command, Ctx } from '../command.js';
import { filterFlag, formatFlag } from '../command.js';
import type { Flags } from '../flags.js';
import { ellipsis, formatRows, goQuote, struct, truncateID } from '../formatter.js';
import { goTimeString, humanDuration, humanSizeWithPrecision } from '../units.js';
import { filterQuery } from './filters.js';
import { CliError } from '../errors.js';
import { Template, TemplateExecError, TemplateSyntaxError } from '../template/index.js';

const emptySummary: ContainerSummary = {
  Id: '',
  Names: [],
  Image: '',
  ImageID: '',
  Command: '',
  Created: 0,
  Ports: [],
  Labels: null,
  State: '',
  Status: '',
  Mounts: [],
};

export interface PortSummary {
  IP?: string;
  PrivatePort: number;
  PublicPort?: number;
  Type: string;
}

export interface ContainerSummary {
  Id: string;
  Names: string[];
  Image: string;
  ImageID: string;
  Command: string;
  Created: number;
  Ports: PortSummary[];
  SizeRw?: number;
  SizeRootFs?: number;
  Labels: Record<string, string> | null;
  State: string;
  Status: string;
  Mounts: { Name?: string; Source: string; Driver?: string }[];
  NetworkSettings?: { Networks?: Record<string, unknown> };
}

const joinHostPort = (ip: string, port: string) => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);

/** docker's DisplayablePorts: consecutive ports grouped into ranges, other host mappings last. */
export function displayablePorts(ports: PortSummary[]): string {
  const groups = new Map<string, { first: number; last: number }>();
  const keys: string[] = [];
  const result: string[] = [];
  const hostMappings: string[] = [];
  const sorted = [...ports].sort(
    (a, b) =>
      a.PrivatePort - b.PrivatePort ||
      (a.IP ?? '').localeCompare(b.IP ?? '') ||
      (a.PublicPort ?? 0) - (b.PublicPort ?? 0) ||
      a.Type.localeCompare(b.Type),
  );
  for (const p of sorted) {
    const current = p.PrivatePort;
    let key = p.Type;
    if (p.IP) {
      if (p.PublicPort !== current) {
        hostMappings.push(`${joinHostPort(p.IP, String(p.PublicPort))}->${p.PrivatePort}/${p.Type}`);
        continue;
      }
      key = `${p.IP}/${p.Type}`;
    }
    const g = groups.get(key);
    if (!g) {
      groups.set(key, { first: current, last: current });
      keys.push(key);
      continue;
    }
    if (current === g.last + 1) {
      g.last = current;
      continue;
    }
    result.push(formGroup(key, g.first, g.last));
    groups.set(key, { first: current, last: current });
  }
  for (const k of keys) {
    const g = groups.get(k)!;
    result.push(formGroup(k, g.first, g.last));
  }
  return [...result, ...hostMappings].join(', ');
}

function formGroup(key: string, start: number, last: number): string {
  const slash = key.lastIndexOf('/');
  const ip = slash >= 0 ? key.slice(0, slash) : '';
  const typ = slash >= 0 ? key.slice(slash + 1) : key;
  let group = start === last ? String(start) : `${start}-${last}`;
  if (ip) group = `${joinHostPort(ip, group)}->${group}`;
  return `${group}/${typ}`;
}

/** `onSize` is told when the template asks for .Size (docker then asks the daemon for sizes). */
export function containerContext(c: ContainerSummary, trunc: boolean, onSize?: () => void) {
  return struct('*formatter.ContainerContext', {
    ID: () => (trunc ? truncateID(c.Id) : c.Id),
    Names: () => {
      const names = c.Names.map((n) => n.replace(/^\//, ''));
      if (trunc) return names.find((n) => !n.includes('/')) ?? '';
      return names.join(',');
    },
    Image: () => {
      if (!c.Image) return '<no image>';
      if (!trunc) return c.Image;
      if (truncateID(c.ImageID) === truncateID(c.Image)) return truncateID(c.Image);
      // A digested reference shows without its digest.
      const at = c.Image.indexOf('@');
      return at >= 0 ? c.Image.slice(0, at) : c.Image;
    },
    Command: () => goQuote(trunc ? ellipsis(c.Command, 20) : c.Command),
    CreatedAt: () => goTimeString(c.Created),
    RunningFor: () => humanDuration(Date.now() - c.Created * 1000) + ' ago',
    Ports: () => displayablePorts(c.Ports ?? []),
    State: () => c.State,
    Status: () => c.Status,
    Size: () => {
      onSize?.();
      const srw = humanSizeWithPrecision(c.SizeRw ?? 0, 3);
      return (c.SizeRootFs ?? 0) > 0 ? `${srw} (virtual ${humanSizeWithPrecision(c.SizeRootFs!, 3)})` : srw;
    },
    Labels: () =>
      Object.entries(c.Labels ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .sort()
        .join(','),
    Label: (name: unknown) => (c.Labels ?? {})[String(name)] ?? '',
    Mounts: () => c.Mounts.map((m) => (trunc ? ellipsis(m.Name || m.Source, 15) : m.Name || m.Source)).join(','),
    LocalVolumes: () => String(c.Mounts.filter((m) => m.Driver === 'local').length),
    Networks: () => Object.keys(c.NetworkSettings?.Networks ?? {}).join(','),
    // docker 28's image platform: nil unless the daemon reports the image's manifest descriptor.
    Platform: () =>
      (c as { ImageManifestDescriptor?: { platform?: unknown } }).ImageManifestDescriptor?.platform ?? null,
  });
}

export const containerHeader: Record<string, string> = {
  ID: 'CONTAINER ID',
  Names: 'NAMES',
  Image: 'IMAGE',
  Command: 'COMMAND',
  CreatedAt: 'CREATED AT',
  RunningFor: 'CREATED',
  Ports: 'PORTS',
  State: 'STATE',
  Status: 'STATUS',
  Size: 'SIZE',
  Labels: 'LABELS',
  Mounts: 'MOUNTS',
  LocalVolumes: 'LOCAL VOLUMES',
  Networks: 'NETWORKS',
};

async function ps(ctx: Ctx, f: Flags): Promise<number> {
  const quiet = f.bool('quiet');
  let format = f.string('format');
  const size = f.bool('size');
  if (!format || format === 'table') {
    format = quiet
      ? '{{.ID}}'
      : 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}' +
        (size ? '\t{{.Size}}' : '');
  } else if (quiet) format = '{{.ID}}';
  let sizeUsed = false;
  if (f.string('format')) {
    // docker validates a given template against an empty row first.
    let t;
    try {
      t = Template.parse(f.string('format'));
    } catch (e) {
      if (e instanceof TemplateSyntaxError) throw new CliError(`failed to parse template: ${e.message}`, 1);
      throw e;
    }
    try {
      t.execute(containerContext(emptySummary, false, () => (sizeUsed = true)));
    } catch (e) {
      if (e instanceof TemplateExecError) throw new CliError(`failed to execute template: ${e.message}`, 1);
      throw e;
    }
  }
  const last = f.bool('latest') ? 1 : f.int('last');
  const list = await ctx.client.get<ContainerSummary[]>('/containers/json', {
    all: f.bool('all') || last !== -1 ? true : undefined,
    limit: last > 0 ? last : undefined,
    // As docker: sizes when asked, or when the template used .Size (unless --size=false or -q).
    size: size || (sizeUsed && !quiet && !f.has('size')) ? true : undefined,
    filters: filterQuery(f.list('filter')),
  });
  ctx.out(
    formatRows(
      format,
      list.map((c) => containerContext(c, !f.bool('no-trunc'))),
      containerHeader,
    ),
  );
  return 0;
}

export const psFlags = [
  { name: 'all', short: 'a', type: 'bool' as const, usage: 'Show all containers (default shows just running)' },
  filterFlag(),
  formatFlag(),
  {
    name: 'last',
    short: 'n',
    type: 'int' as const,
    usage: 'Show n last created containers (includes all states)',
    default: -1,
  },
  {
    name: 'latest',
    short: 'l',
    type: 'bool' as const,
    usage: 'Show the latest created container (includes all states)',
  },
  { name: 'no-trunc', type: 'bool' as const, usage: "Don't truncate output" },
  { name: 'quiet', short: 'q', type: 'bool' as const, usage: 'Only display container IDs' },
  { name: 'size', short: 's', type: 'bool' as const, usage: 'Display total file sizes' },
];

export const psCmd: Command = {
  name: 'ps',
  use: '[OPTIONS]',
  short: 'List containers',
  common: true,
  flags: psFlags,
  run: ps,
  aliasPaths: ['container ls', 'container list', 'container ps'],
};
