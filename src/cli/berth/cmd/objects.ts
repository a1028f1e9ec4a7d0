// volume and network commands: create, ls, inspect, rm, prune, and network
// connect/disconnect.

import type { Command, Ctx } from '../command.js';
import { filterFlag, formatFlag, inspectFormatFlag } from '../command.js';
import type { Flags } from '../flags.js';
import { CliError } from '../errors.js';
import { formatRows, struct, truncateID } from '../formatter.js';
import { goTimeStringRFC3339, humanSizeWithPrecision } from '../units.js';
import { filterQuery } from './filters.js';
import { confirm } from '../prompt.js';
import { inspectAll } from './inspect.js';
import { DaemonError, compareVersions } from '../client.js';

function kv(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of list) {
    const i = l.indexOf('=');
    out[i >= 0 ? l.slice(0, i) : l] = i >= 0 ? l.slice(i + 1) : '';
  }
  return out;
}

const labelsString = (l: Record<string, string> | null | undefined) =>
  Object.entries(l ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .sort()
    .join(',');

interface Volume {
  Name: string;
  Driver: string;
  Mountpoint: string;
  Scope: string;
  Labels: Record<string, string> | null;
  Options?: Record<string, string> | null;
  UsageData?: { Size: number; RefCount: number } | null;
}

async function volumeLs(ctx: Ctx, f: Flags): Promise<number> {
  const r = await ctx.client.get<{ Volumes: Volume[] | null }>('/volumes', { filters: filterQuery(f.list('filter')) });
  let format = f.string('format');
  if (f.bool('quiet')) format = '{{.Name}}';
  else if (!format || format === 'table') format = 'table {{.Driver}}\t{{.Name}}';
  const rows = (r.Volumes ?? [])
    .sort((a, b) => a.Name.localeCompare(b.Name))
    .map((v) =>
      struct('*formatter.volumeContext', {
        Name: () => v.Name,
        Driver: () => v.Driver,
        Scope: () => v.Scope,
        Mountpoint: () => v.Mountpoint,
        Labels: () => labelsString(v.Labels),
        Label: (n: unknown) => (v.Labels ?? {})[String(n)] ?? '',
        Links: () => (v.UsageData ? String(v.UsageData.RefCount) : 'N/A'),
        Size: () => (v.UsageData && v.UsageData.Size >= 0 ? humanSizeWithPrecision(v.UsageData.Size, 3) : 'N/A'),
        Availability: () => 'N/A',
        Group: () => 'N/A',
        Status: () => 'N/A',
      }),
    );
  ctx.out(
    formatRows(format, rows, {
      Name: 'VOLUME NAME',
      Driver: 'DRIVER',
      Scope: 'SCOPE',
      Mountpoint: 'MOUNTPOINT',
      Labels: 'LABELS',
      Links: 'LINKS',
      Size: 'SIZE',
      Availability: 'AVAILABILITY',
      Group: 'GROUP',
      Status: 'STATUS',
    }),
  );
  return 0;
}

async function volumeCreate(ctx: Ctx, f: Flags, args: string[]): Promise<number> {
  if (args[0] && f.has('name'))
    throw new CliError(
      'conflicting options: cannot specify a volume-name through both --name and as a positional arg',
      1,
    );
  const v = await ctx.client.json<Volume>('POST', '/volumes/create', {
    json: {
      Name: args[0] ?? f.string('name'),
      Driver: f.string('driver') || 'local',
      DriverOpts: kv(f.list('opt')),
      Labels: kv(f.list('label')),
    },
  });
  ctx.out(v.Name + '\n');
  return 0;
}

async function each(ctx: Ctx, ids: string[], fn: (id: string) => Promise<void>): Promise<number> {
  const errors: string[] = [];
  for (const id of ids) {
    try {
      await fn(id);
      ctx.out(id + '\n');
    } catch (e) {
      if (!(e instanceof CliError)) throw e;
      errors.push(e.message);
    }
  }
  if (errors.length) throw new CliError(errors.join('\n'), 1);
  return 0;
}

async function pruneReport(
  ctx: Ctx,
  f: Flags,
  path: string,
  key: string,
  title: string,
  extra: string[] = [],
): Promise<number> {
  let warning = 'WARNING! This will remove all custom networks not used by at least one container.';
  if (key === 'VolumesDeleted') {
    // From API 1.42 the daemon prunes anonymous volumes only, unless asked for all.
    const version = await ctx.client.apiVersion();
    const anonymousOnly = compareVersions(version, '1.42') >= 0;
    if (f.bool('all') && !anonymousOnly)
      throw new CliError(`"--all" requires API version 1.42, but the Docker daemon API version is ${version}`, 1);
    warning = `WARNING! This will remove ${anonymousOnly && !f.bool('all') ? 'anonymous' : 'all'} local volumes not used by at least one container.`;
  }
  if (!f.bool('force') && !(await confirm(ctx, warning))) return 0;
  const r = await ctx.client.json<Record<string, unknown>>('POST', path, {
    query: { filters: filterQuery([...f.list('filter'), ...extra]) },
  });
  const deleted = (r[key] as string[] | null) ?? [];
  let s = deleted.length ? `${title}:\n${deleted.join('\n')}\n\n` : '';
  if (key !== 'NetworksDeleted')
    s += `Total reclaimed space: ${humanSizeWithPrecision(Number(r.SpaceReclaimed ?? 0), 3)}\n`;
  ctx.out(s);
  return 0;
}

interface Network {
  Name: string;
  Id: string;
  Created: string;
  Scope: string;
  Driver: string;
  EnableIPv6: boolean;
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  Labels: Record<string, string> | null;
}

async function networkLs(ctx: Ctx, f: Flags): Promise<number> {
  const list = await ctx.client.get<Network[]>('/networks', { filters: filterQuery(f.list('filter')) });
  const trunc = !f.bool('no-trunc');
  let format = f.string('format');
  if (f.bool('quiet')) format = '{{.ID}}';
  else if (!format || format === 'table') format = 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}';
  const rows = list
    .sort((a, b) => a.Name.localeCompare(b.Name))
    .map((n) =>
      struct('*formatter.networkContext', {
        ID: () => (trunc ? truncateID(n.Id) : n.Id),
        Name: () => n.Name,
        Driver: () => n.Driver,
        Scope: () => n.Scope,
        IPv4: () => String((n as { EnableIPv4?: boolean }).EnableIPv4 ?? false),
        IPv6: () => String(n.EnableIPv6),
        Internal: () => String(n.Internal),
        Labels: () => labelsString(n.Labels),
        Label: (k: unknown) => (n.Labels ?? {})[String(k)] ?? '',
        CreatedAt: () => goTimeStringRFC3339(n.Created),
      }),
    );
  ctx.out(
    formatRows(format, rows, {
      ID: 'NETWORK ID',
      Name: 'NAME',
      Driver: 'DRIVER',
      Scope: 'SCOPE',
      IPv4: 'IPV4',
      IPv6: 'IPV6',
      Internal: 'INTERNAL',
      Labels: 'LABELS',
      CreatedAt: 'CREATED AT',
    }),
  );
  return 0;
}

async function networkCreate(ctx: Ctx, f: Flags, args: string[]): Promise<number> {
  const subnets = f.list('subnet');
  const gateways = f.list('gateway');
  const ranges = f.list('ip-range');
  const aux = kv(f.list('aux-address'));
  const config = subnets.map((s, i) => ({
    Subnet: s,
    Gateway: gateways[i],
    IPRange: ranges[i],
    AuxiliaryAddresses: i === 0 && Object.keys(aux).length ? aux : undefined,
  }));
  const r = await ctx.client.json<{ Id: string; Warning?: string }>('POST', '/networks/create', {
    json: {
      Name: args[0],
      Driver: f.string('driver') || 'bridge',
      Options: kv(f.list('opt')),
      Labels: kv(f.list('label')),
      Internal: f.bool('internal'),
      Attachable: f.bool('attachable'),
      Ingress: f.bool('ingress'),
      Scope: f.string('scope') || undefined,
      ConfigOnly: f.bool('config-only'),
      ConfigFrom: f.string('config-from') ? { Network: f.string('config-from') } : undefined,
      EnableIPv6: f.has('ipv6') ? f.bool('ipv6') : undefined,
      EnableIPv4: f.has('ipv4') ? f.bool('ipv4') : undefined,
      IPAM: { Driver: f.string('ipam-driver') || 'default', Config: config, Options: kv(f.list('ipam-opt')) },
      CheckDuplicate: true,
    },
  });
  if (r.Warning) ctx.err(r.Warning + '\n');
  ctx.out(r.Id + '\n');
  return 0;
}

export const volumeCmd: Command = {
  name: 'volume',
  use: 'COMMAND',
  short: 'Manage volumes',
  sub: [
    {
      name: 'create',
      use: '[OPTIONS] [VOLUME]',
      short: 'Create a volume',
      flags: [
        { name: 'driver', short: 'd', type: 'string', usage: 'Specify volume driver name', default: 'local' },
        { name: 'label', type: 'list', usage: 'Set metadata for a volume' },
        { name: 'name', type: 'string', usage: 'Specify volume name', hidden: true },
        {
          name: 'opt',
          short: 'o',
          type: 'list',
          typeName: 'map',
          usage: 'Set driver specific options (default map[])',
        },
      ],
      args: { max: 1, min: 0 },
      run: volumeCreate,
    },
    {
      name: 'inspect',
      use: '[OPTIONS] VOLUME [VOLUME...]',
      short: 'Display detailed information on one or more volumes',
      flags: [inspectFormatFlag],
      args: { min: 1 },
      run: (ctx, f, a) => inspectAll(ctx, f, a, 'volume'),
    },
    {
      name: 'ls',
      aliases: ['list'],
      use: '[OPTIONS]',
      short: 'List volumes',
      flags: [
        filterFlag('Provide filter values (e.g. "dangling=true")'),
        formatFlag(),
        { name: 'quiet', short: 'q', type: 'bool', usage: 'Only display volume names' },
      ],
      run: volumeLs,
    },
    {
      name: 'prune',
      use: '[OPTIONS]',
      short: 'Remove unused local volumes',
      flags: [
        // docker hides it below API 1.42, where the daemon has no such filter.
        {
          name: 'all',
          short: 'a',
          type: 'bool',
          usage: 'Remove all unused volumes, not just anonymous ones',
          hidden: true,
        },
        { name: 'filter', type: 'list', typeName: 'filter', usage: 'Provide filter values (e.g. "label=<label>")' },
        { name: 'force', short: 'f', type: 'bool', usage: 'Do not prompt for confirmation' },
      ],
      run: (ctx, f) =>
        pruneReport(ctx, f, '/volumes/prune', 'VolumesDeleted', 'Deleted Volumes', f.bool('all') ? ['all=true'] : []),
    },
    {
      name: 'rm',
      aliases: ['remove'],
      use: '[OPTIONS] VOLUME [VOLUME...]',
      short: 'Remove one or more volumes',
      long: 'Remove one or more volumes. You cannot remove a volume that is in use by a container.',
      flags: [{ name: 'force', short: 'f', type: 'bool', usage: 'Force the removal of one or more volumes' }],
      args: { min: 1 },
      run: (ctx, f, a) =>
        each(ctx, a, (id) =>
          ctx.client
            .request('DELETE', `/volumes/${encodeURIComponent(id)}`, { query: { force: f.bool('force') || undefined } })
            .then((r) => void r.body.resume()),
        ),
    },
  ],
};

export const networkCmd: Command = {
  name: 'network',
  use: 'COMMAND',
  short: 'Manage networks',
  sub: [
    {
      name: 'connect',
      use: '[OPTIONS] NETWORK CONTAINER',
      short: 'Connect a container to a network',
      flags: [
        { name: 'alias', type: 'list', typeName: 'strings', usage: 'Add network-scoped alias for the container' },
        { name: 'driver-opt', type: 'list', typeName: 'strings', usage: 'driver options for the network' },
        {
          name: 'gw-priority',
          type: 'int',
          usage: 'Highest gw-priority provides the default gateway. Accepts positive and negative values.',
        },
        { name: 'ip', type: 'string', usage: 'IPv4 address (e.g., "172.30.100.104")' },
        { name: 'ip6', type: 'string', usage: 'IPv6 address (e.g., "2001:db8::33")' },
        { name: 'link', type: 'list', usage: 'Add link to another container' },
        {
          name: 'link-local-ip',
          type: 'list',
          typeName: 'strings',
          usage: 'Add a link-local address for the container',
        },
      ],
      args: { min: 2, max: 2 },
      run: async (ctx, f, a) => {
        const lls = f.list('link-local-ip').flatMap((x) => x.split(','));
        const ipam =
          f.string('ip') || f.string('ip6') || lls.length
            ? {
                IPv4Address: f.string('ip') || undefined,
                IPv6Address: f.string('ip6') || undefined,
                LinkLocalIPs: lls.length ? lls : undefined,
              }
            : undefined;
        const endpoint = {
          Aliases: f.list('alias').flatMap((x) => x.split(',')),
          IPAMConfig: ipam,
          Links: f.list('link').length ? f.list('link') : undefined,
          DriverOpts: f.list('driver-opt').length
            ? Object.fromEntries(
                f
                  .list('driver-opt')
                  .flatMap((x) => x.split(','))
                  .map((o): [string, string] => [o.split('=')[0]!, o.split('=').slice(1).join('=')]),
              )
            : undefined,
          GwPriority: f.has('gw-priority') ? f.int('gw-priority') : undefined,
        };
        const r = await ctx.client.request('POST', `/networks/${encodeURIComponent(a[0]!)}/connect`, {
          json: { Container: a[1], EndpointConfig: endpoint },
        });
        r.body.resume();
        return 0;
      },
    },
    {
      name: 'create',
      use: '[OPTIONS] NETWORK',
      short: 'Create a network',
      flags: [
        { name: 'attachable', type: 'bool', usage: 'Enable manual container attachment' },
        {
          name: 'aux-address',
          type: 'list',
          typeName: 'map',
          usage: 'Auxiliary IPv4 or IPv6 addresses used by Network driver (default map[])',
        },
        { name: 'config-from', type: 'string', usage: 'The network from which to copy the configuration' },
        { name: 'config-only', type: 'bool', usage: 'Create a configuration only network' },
        { name: 'driver', short: 'd', type: 'string', usage: 'Driver to manage the Network', default: 'bridge' },
        { name: 'gateway', type: 'list', typeName: 'strings', usage: 'IPv4 or IPv6 Gateway for the master subnet' },
        { name: 'ingress', type: 'bool', usage: 'Create swarm routing-mesh network' },
        { name: 'internal', type: 'bool', usage: 'Restrict external access to the network' },
        { name: 'ip-range', type: 'list', typeName: 'strings', usage: 'Allocate container ip from a sub-range' },
        { name: 'ipam-driver', type: 'string', usage: 'IP Address Management Driver', default: 'default' },
        { name: 'ipam-opt', type: 'list', typeName: 'map', usage: 'Set IPAM driver specific options (default map[])' },
        { name: 'ipv4', type: 'bool', usage: 'Enable or disable IPv4 address assignment', default: true },
        { name: 'ipv6', type: 'bool', usage: 'Enable or disable IPv6 address assignment' },
        { name: 'label', type: 'list', usage: 'Set metadata on a network' },
        {
          name: 'opt',
          short: 'o',
          type: 'list',
          typeName: 'map',
          usage: 'Set driver specific options (default map[])',
        },
        { name: 'scope', type: 'string', usage: "Control the network's scope" },
        {
          name: 'subnet',
          type: 'list',
          typeName: 'strings',
          usage: 'Subnet in CIDR format that represents a network segment',
        },
      ],
      args: { min: 1, max: 1 },
      run: networkCreate,
    },
    {
      name: 'disconnect',
      use: '[OPTIONS] NETWORK CONTAINER',
      short: 'Disconnect a container from a network',
      flags: [{ name: 'force', short: 'f', type: 'bool', usage: 'Force the container to disconnect from a network' }],
      args: { min: 2, max: 2 },
      run: async (ctx, f, a) => {
        const r = await ctx.client.request('POST', `/networks/${encodeURIComponent(a[0]!)}/disconnect`, {
          json: { Container: a[1], Force: f.bool('force') },
        });
        r.body.resume();
        return 0;
      },
    },
    {
      name: 'inspect',
      use: '[OPTIONS] NETWORK [NETWORK...]',
      short: 'Display detailed information on one or more networks',
      flags: [
        inspectFormatFlag,
        { name: 'verbose', short: 'v', type: 'bool', usage: 'Verbose output for diagnostics' },
      ],
      args: { min: 1 },
      run: (ctx, f, a) => inspectAll(ctx, f, a, 'network'),
    },
    {
      name: 'ls',
      aliases: ['list'],
      use: '[OPTIONS]',
      short: 'List networks',
      flags: [
        filterFlag('Provide filter values (e.g. "driver=bridge")'),
        formatFlag(),
        { name: 'no-trunc', type: 'bool', usage: 'Do not truncate the output' },
        { name: 'quiet', short: 'q', type: 'bool', usage: 'Only display network IDs' },
      ],
      run: networkLs,
    },
    {
      name: 'prune',
      use: '[OPTIONS]',
      short: 'Remove all unused networks',
      flags: [
        { name: 'filter', type: 'list', typeName: 'filter', usage: 'Provide filter values (e.g. "until=<timestamp>")' },
        { name: 'force', short: 'f', type: 'bool', usage: 'Do not prompt for confirmation' },
      ],
      run: (ctx, f) => pruneReport(ctx, f, '/networks/prune', 'NetworksDeleted', 'Deleted Networks'),
    },
    {
      name: 'rm',
      aliases: ['remove'],
      use: 'NETWORK [NETWORK...]',
      short: 'Remove one or more networks',
      flags: [{ name: 'force', short: 'f', type: 'bool', usage: 'Do not error if the network does not exist' }],
      args: { min: 1 },
      run: async (ctx, f, a) => {
        // docker prints each failure, then ends with "exit status 1".
        let failed = false;
        for (const id of a) {
          try {
            const r = await ctx.client.request('DELETE', `/networks/${encodeURIComponent(id)}`);
            r.body.resume();
            ctx.out(id + '\n');
          } catch (e) {
            if (!(e instanceof CliError)) throw e;
            if (f.bool('force') && e instanceof DaemonError && e.status === 404) continue;
            ctx.err(e.message + '\n');
            failed = true;
          }
        }
        if (failed) throw new CliError('exit status 1', 1);
        return 0;
      },
    },
  ],
};
