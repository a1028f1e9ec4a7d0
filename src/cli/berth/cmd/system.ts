// version, info (and `system info`), events, df, prune: what the daemon says
// about itself, in docker's layouts.

import type { Command, Ctx } from '../command.js';
import { formatFlag } from '../command.js';
import { CLIENT_API_VERSION, compareVersions, textLines } from '../client.js';
import { CliError } from '../errors.js';
import { executeTemplate, formatRows, parseTemplate, struct, templateString } from '../formatter.js';
import { apiTimestamp, bytesSize, humanSize, humanSizeWithPrecision } from '../units.js';
import { Struct, withAliases, Template, TemplateExecError, TemplateSyntaxError } from '../template/index.js';
import { printValue } from '../template/values.js';
import type { Flags } from '../flags.js';
import { BERTH_CLIENT_VERSION } from '../version.js';
import { filterQuery } from './filters.js';
import { confirm } from '../prompt.js';

interface VersionInfo {
  Platform?: { Name: string };
  Components?: { Name: string; Version: string; Details?: Record<string, string> }[];
  Version: string;
  ApiVersion: string;
  MinAPIVersion?: string;
  GitCommit: string;
  GoVersion: string;
  Os: string;
  Arch: string;
  KernelVersion?: string;
  Experimental?: boolean;
  BuildTime?: string;
}

interface ClientVersion {
  Version: string;
  ApiVersion: string;
  DefaultAPIVersion: string;
  GitCommit: string;
  GoVersion: string;
  Os: string;
  Arch: string;
  BuildTime: string;
  Context: string;
}

function clientInfo(api: string): ClientVersion {
  return {
    Version: BERTH_CLIENT_VERSION,
    ApiVersion: api,
    DefaultAPIVersion: CLIENT_API_VERSION,
    GitCommit: 'berth',
    GoVersion: `node${process.versions.node}`,
    Os: process.platform,
    Arch: process.arch === 'x64' ? 'amd64' : process.arch,
    BuildTime: '',
    Context: 'default',
  };
}

const pad = (k: string, w: number) => (k + ':').padEnd(w);

/**
 * A scalar field of the daemon's JSON as docker prints it (Go's %v): a
 * string bare, a number or boolean as written. A field the daemon left out
 * prints as it always has here ("undefined"/"null"); anything else in Go's
 * map/slice form.
 */
function fmtV(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' || v === undefined || v === null)
    return String(v);
  return printValue(v);
}

/** Go's time.ANSIC ("Thu May  7 21:09:36 2026") of an RFC 3339 time, as docker shows build times. */
function ansic(t: string | undefined): string {
  const d = t ? new Date(t) : undefined;
  if (!d || Number.isNaN(d.getTime())) return t ?? '';
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${days[d.getUTCDay()]} ${months[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} ${d.getUTCFullYear()}`;
}

async function version(ctx: Ctx, f: Flags): Promise<number> {
  const format = f.string('format');
  const tmpl = format ? parseTemplate(templateString(format)) : undefined;
  let server: VersionInfo | undefined;
  let serverErr: CliError | undefined;
  try {
    server = await ctx.client.get<VersionInfo>('/version');
  } catch (e) {
    if (!(e instanceof CliError)) throw e;
    serverErr = e;
  }
  const api = await ctx.client.apiVersion().catch(() => CLIENT_API_VERSION);
  const client = clientInfo(api);
  if (tmpl) {
    const dot = struct('command.versionInfo', {
      Client: withAliases({ ...client }, { APIVersion: 'ApiVersion' }),
      Server: server ? withAliases({ ...server }, { APIVersion: 'ApiVersion' }) : null,
    });
    ctx.out(executeTemplate(tmpl, dot) + '\n');
    if (serverErr) throw serverErr;
    return 0;
  }
  const down = compareVersions(api, CLIENT_API_VERSION) < 0 ? ` (downgraded from ${CLIENT_API_VERSION})` : '';
  let s = `Client:\n ${pad('Version', 18)} ${client.Version}\n ${pad('API version', 18)} ${api}${down}\n ${pad('Go version', 18)} ${client.GoVersion}\n ${pad('Git commit', 18)} ${client.GitCommit}\n ${pad('Built', 18)} ${client.BuildTime}\n ${pad('OS/Arch', 18)} ${client.Os}/${client.Arch}\n ${pad('Context', 18)} default\n`;
  if (server) {
    s += `\nServer:${server.Platform?.Name ? ' ' + server.Platform.Name : ''}\n`;
    for (const c of server.Components ?? []) {
      s += ` ${c.Name}:\n  ${pad('Version', 17)} ${c.Version}\n`;
      const d = c.Details ?? {};
      if (c.Name === 'Engine') {
        s += `  ${pad('API version', 17)} ${d.ApiVersion} (minimum version ${d.MinAPIVersion})\n  ${pad('Go version', 17)} ${d.GoVersion}\n  ${pad('Git commit', 17)} ${d.GitCommit}\n  ${pad('Built', 17)} ${ansic(d.BuildTime)}\n  ${pad('OS/Arch', 17)} ${d.Os}/${d.Arch}\n  ${pad('Experimental', 17)} ${d.Experimental}\n`;
      } else {
        for (const [k, v] of Object.entries(d)) s += `  ${pad(k, 17)} ${v}\n`;
      }
    }
  }
  ctx.out(s);
  if (serverErr) throw serverErr;
  return 0;
}

type Info = Record<string, unknown> & {
  Containers: number;
  ContainersRunning: number;
  ContainersPaused: number;
  ContainersStopped: number;
  Images: number;
  Driver: string;
  DriverStatus?: [string, string][];
  Plugins?: { Volume?: string[]; Network?: string[]; Log?: string[] };
  Runtimes?: Record<string, unknown>;
  SecurityOptions?: string[];
  RegistryConfig?: { IndexConfigs?: Record<string, unknown>; InsecureRegistryCIDRs?: string[]; Mirrors?: string[] };
  Labels?: string[];
  Warnings?: string[];
};

async function info(ctx: Ctx, f: Flags): Promise<number> {
  const format = f.string('format');
  let tmpl: Template | undefined;
  try {
    tmpl = format ? Template.parse(format === 'json' ? '{{json .}}' : format) : undefined;
  } catch (e) {
    if (e instanceof TemplateSyntaxError) throw new CliError(`template parsing error: ${e.message}`, 64);
    throw e;
  }
  let data: Info | undefined;
  const serverErrors: string[] = [];
  try {
    data = await ctx.client.get<Info>('/info');
  } catch (e) {
    if (!(e instanceof CliError)) throw e;
    serverErrors.push(e.message);
  }
  const client = { Debug: false, Version: BERTH_CLIENT_VERSION, Context: 'default', Plugins: [], Warnings: null };
  if (tmpl) {
    const dot = new Struct('system.dockerInfo', {
      ...(data ?? {}),
      ClientInfo: struct('system.clientInfo', client),
      ClientErrors: null,
      ServerErrors: serverErrors.length ? serverErrors : null,
    });
    // As docker: what the template wrote, a newline, then the error if any.
    let text: string;
    let execErr: string | undefined;
    try {
      text = tmpl.execute(dot);
    } catch (e) {
      if (!(e instanceof TemplateExecError)) throw e;
      text = (e as TemplateExecError & { partial?: string }).partial ?? '';
      execErr = e.message;
    }
    ctx.out(text + '\n');
    const errs = [...serverErrors, ...(execErr ? [execErr] : [])];
    if (errs.length) throw new CliError(errs.join('\n'), 1);
    return 0;
  }
  let s = `Client:\n Version:    ${client.Version}\n Context:    default\n Debug Mode: false\n`;
  if (!data) {
    ctx.out(s);
    throw new CliError(serverErrors.join('\n'), 1);
  }
  const d = data;
  s += `\nServer:\n Containers: ${d.Containers}\n  Running: ${d.ContainersRunning}\n  Paused: ${d.ContainersPaused}\n  Stopped: ${d.ContainersStopped}\n Images: ${d.Images}\n Server Version: ${fmtV(d.ServerVersion)}\n Storage Driver: ${d.Driver}\n`;
  for (const [k, v] of d.DriverStatus ?? []) s += `  ${k}: ${v}\n`;
  s += ` Logging Driver: ${fmtV(d.LoggingDriver)}\n Cgroup Driver: ${fmtV(d.CgroupDriver)}\n Cgroup Version: ${fmtV(d.CgroupVersion)}\n Plugins:\n  Volume: ${(d.Plugins?.Volume ?? []).join(' ')}\n  Network: ${(d.Plugins?.Network ?? []).join(' ')}\n  Log: ${(d.Plugins?.Log ?? []).join(' ')}\n`;
  const swarm = d.Swarm as { LocalNodeState?: string } | undefined;
  s += ` Swarm: ${swarm?.LocalNodeState ?? 'inactive'}\n Runtimes: ${Object.keys(d.Runtimes ?? {}).join(' ')}\n Default Runtime: ${fmtV(d.DefaultRuntime)}\n Init Binary: ${fmtV(d.InitBinary)}\n`;
  const commit = (k: string) => (d[k] as { ID?: string } | undefined)?.ID ?? '';
  s += ` containerd version: ${commit('ContainerdCommit')}\n runc version: ${commit('RuncCommit')}\n init version: ${commit('InitCommit')}\n`;
  if (d.SecurityOptions?.length) {
    s += ' Security Options:\n';
    for (const o of d.SecurityOptions) {
      const kv = Object.fromEntries(o.split(',').map((p) => p.split('=') as [string, string]));
      s += `  ${kv.name}\n`;
      for (const [k, v] of Object.entries(kv)) if (k !== 'name') s += `   ${k[0]!.toUpperCase() + k.slice(1)}: ${v}\n`;
    }
  }
  s += ` Kernel Version: ${fmtV(d.KernelVersion)}\n Operating System: ${fmtV(d.OperatingSystem)}\n OSType: ${fmtV(d.OSType)}\n Architecture: ${fmtV(d.Architecture)}\n CPUs: ${fmtV(d.NCPU)}\n Total Memory: ${bytesSize(Number(d.MemTotal))}\n Name: ${fmtV(d.Name)}\n ID: ${fmtV(d.ID)}\n Docker Root Dir: ${fmtV(d.DockerRootDir)}\n Debug Mode: ${fmtV(d.Debug)}\n`;
  if (d.Debug)
    s += `  File Descriptors: ${fmtV(d.NFd)}\n  Goroutines: ${fmtV(d.NGoroutines)}\n  System Time: ${fmtV(d.SystemTime)}\n  EventsListeners: ${fmtV(d.NEventsListener)}\n`;
  if (d.Labels?.length) s += ` Labels:\n${d.Labels.map((l) => `  ${l}\n`).join('')}`;
  s += ` Experimental: ${fmtV(d.ExperimentalBuild)}\n`;
  const cidrs = d.RegistryConfig?.InsecureRegistryCIDRs ?? [];
  const insecure = Object.entries(
    (d.RegistryConfig?.IndexConfigs ?? {}) as Record<string, { Secure?: boolean; Name: string }>,
  )
    .filter(([, v]) => v.Secure === false)
    .map(([k]) => k);
  if (cidrs.length || insecure.length)
    s += ` Insecure Registries:\n${[...insecure, ...cidrs].map((c) => `  ${c}\n`).join('')}`;
  if (d.RegistryConfig?.Mirrors?.length)
    s += ` Registry Mirrors:\n${d.RegistryConfig.Mirrors.map((m) => `  ${m}\n`).join('')}`;
  s += ` Live Restore Enabled: ${fmtV(d.LiveRestoreEnabled)}\n`;
  ctx.out(s + '\n');
  for (const w of d.Warnings ?? []) ctx.err(w + '\n');
  return 0;
}

interface Event {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes?: Record<string, string> };
  time: number;
  timeNano: number;
  scope?: string;
}

async function events(ctx: Ctx, f: Flags): Promise<number> {
  const format = f.string('format');
  const tmpl = format ? parseTemplate(templateString(format)) : undefined;
  const res = await ctx.client.request('GET', '/events', {
    query: {
      since: f.has('since') ? apiTimestamp(f.string('since'), undefined) : undefined,
      until: f.has('until') ? apiTimestamp(f.string('until'), undefined) : undefined,
      filters: filterQuery(f.list('filter')),
    },
  });
  for await (const line of textLines(res.body)) {
    const ev = JSON.parse(line) as Event;
    if (tmpl) {
      // Go field names of events.Message whose JSON keys are lower case.
      const dot = withAliases(ev, {
        Status: 'status',
        ID: 'id',
        From: 'from',
        Scope: 'scope',
        Time: 'time',
        TimeNano: 'timeNano',
      });
      ctx.out(executeTemplate(tmpl, dot) + '\n');
      continue;
    }
    // timeNano exceeds a double's precision: its digits are taken from the text.
    const nanoText = /"timeNano":(\d+)/.exec(line)?.[1] ?? `${ev.time}000000000`;
    const ns = BigInt(nanoText);
    const t = new Date(Number(ns / 1000000n)).toISOString().replace('Z', '');
    const nanos = String(ns % 1000000000n).padStart(9, '0');
    const attrs = Object.entries(ev.Actor.Attributes ?? {})
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k}=${v}`)
      .join(', ');
    ctx.out(`${t.slice(0, 19)}.${nanos}Z ${ev.Type} ${ev.Action} ${ev.Actor.ID}${attrs ? ` (${attrs})` : ''}\n`);
  }
  return 0;
}

interface DiskUsage {
  LayersSize: number;
  Images: { Containers: number; Size: number; SharedSize: number }[] | null;
  Containers: { SizeRw?: number; State: string }[] | null;
  Volumes: { UsageData?: { Size: number; RefCount: number } }[] | null;
  BuildCache: { Size: number; InUse: boolean; Shared: boolean }[] | null;
}

async function df(ctx: Ctx, f: Flags): Promise<number> {
  const d = await ctx.client.get<DiskUsage>('/system/df');
  const pct = (part: number, total: number) => (total > 0 ? ` (${Math.floor((part * 100) / total)}%)` : '');
  const images = d.Images ?? [];
  const activeImages = images.filter((i) => i.Containers > 0).length;
  // docker counts what images in use hold and reclaims the rest of the
  // layers' size; an image of unknown shared size (-1) counts as not held.
  const imgUsed = images
    .filter((i) => i.Containers !== 0 && i.Size !== -1 && i.SharedSize !== -1)
    .reduce((s, i) => s + i.Size - i.SharedSize, 0);
  const imgReclaim = d.LayersSize - imgUsed;
  const ctrs = d.Containers ?? [];
  const ctrSize = ctrs.reduce((s, c) => s + (c.SizeRw ?? 0), 0);
  const ctrReclaim = ctrs.filter((c) => c.State !== 'running').reduce((s, c) => s + (c.SizeRw ?? 0), 0);
  const vols = d.Volumes ?? [];
  const volSize = vols.reduce((s, v) => s + Math.max(0, v.UsageData?.Size ?? 0), 0);
  const volReclaim = vols
    .filter((v) => (v.UsageData?.RefCount ?? 0) === 0)
    .reduce((s, v) => s + Math.max(0, v.UsageData?.Size ?? 0), 0);
  const bc = d.BuildCache ?? [];
  const bcSize = bc.filter((b) => !b.Shared).reduce((s, b) => s + b.Size, 0);
  const bcReclaim = bc.filter((b) => !b.InUse && !b.Shared).reduce((s, b) => s + b.Size, 0);
  const h = (n: number) => humanSize(n);
  const rows = [
    struct('*formatter.diskUsageImagesContext', {
      Type: 'Images',
      TotalCount: String(images.length),
      Active: String(activeImages),
      Size: h(d.LayersSize),
      Reclaimable: `${h(imgReclaim)}${pct(imgReclaim, d.LayersSize)}`,
    }),
    struct('*formatter.diskUsageContainersContext', {
      Type: 'Containers',
      TotalCount: String(ctrs.length),
      Active: String(ctrs.filter((c) => c.State === 'running').length),
      Size: h(ctrSize),
      Reclaimable: `${h(ctrReclaim)}${pct(ctrReclaim, ctrSize)}`,
    }),
    struct('*formatter.diskUsageVolumesContext', {
      Type: 'Local Volumes',
      TotalCount: String(vols.length),
      Active: String(vols.filter((v) => (v.UsageData?.RefCount ?? 0) > 0).length),
      Size: h(volSize),
      Reclaimable: `${h(volReclaim)}${pct(volReclaim, volSize)}`,
    }),
    struct('*formatter.diskUsageBuilderContext', {
      Type: 'Build Cache',
      TotalCount: String(bc.length),
      Active: String(bc.filter((b) => b.InUse).length),
      Size: h(bcSize),
      Reclaimable: h(bcReclaim),
    }),
  ];
  const format = f.string('format') || 'table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}';
  ctx.out(
    formatRows(format, rows, {
      Type: 'TYPE',
      TotalCount: 'TOTAL',
      Active: 'ACTIVE',
      Size: 'SIZE',
      Reclaimable: 'RECLAIMABLE',
    }),
  );
  return 0;
}

async function prune(ctx: Ctx, f: Flags): Promise<number> {
  if (!f.bool('force')) {
    const items = [
      'all stopped containers',
      'all networks not used by at least one container',
      ...(f.bool('volumes') ? ['all anonymous volumes not used by at least one container'] : []),
      f.bool('all') ? 'all images without at least one container associated to them' : 'all dangling images',
      'unused build cache',
    ];
    if (!(await confirm(ctx, `WARNING! This will remove:\n${items.map((i) => `  - ${i}`).join('\n')}\n`))) return 0;
  }
  const filters = filterQuery(f.list('filter'));
  const c = await ctx.client.json<{ ContainersDeleted: string[] | null; SpaceReclaimed: number }>(
    'POST',
    '/containers/prune',
    { query: { filters } },
  );
  const n = await ctx.client.json<{ NetworksDeleted: string[] | null }>('POST', '/networks/prune', {
    query: { filters },
  });
  let vol = { VolumesDeleted: null as string[] | null, SpaceReclaimed: 0 };
  if (f.bool('volumes')) vol = await ctx.client.json('POST', '/volumes/prune', { query: { filters } });
  const imgFilters = filterQuery([...f.list('filter'), ...(f.bool('all') ? ['dangling=false'] : ['dangling=true'])]);
  const i = await ctx.client.json<{
    ImagesDeleted: { Untagged?: string; Deleted?: string }[] | null;
    SpaceReclaimed: number;
  }>('POST', '/images/prune', { query: { filters: imgFilters } });
  let s = '';
  if (c.ContainersDeleted?.length) s += `Deleted Containers:\n${c.ContainersDeleted.join('\n')}\n\n`;
  if (n.NetworksDeleted?.length) s += `Deleted Networks:\n${n.NetworksDeleted.join('\n')}\n\n`;
  if (vol.VolumesDeleted?.length) s += `Deleted Volumes:\n${vol.VolumesDeleted.join('\n')}\n\n`;
  if (i.ImagesDeleted?.length)
    s += `Deleted Images:\n${i.ImagesDeleted.map((x) => (x.Untagged ? `untagged: ${x.Untagged}` : `deleted: ${x.Deleted}`)).join('\n')}\n\n`;
  s += `Total reclaimed space: ${humanSizeWithPrecision(c.SpaceReclaimed + vol.SpaceReclaimed + i.SpaceReclaimed, 3)}\n`;
  ctx.out(s);
  return 0;
}

export const versionCmd: Command = {
  name: 'version',
  use: '[OPTIONS]',
  short: 'Show the Docker version information',
  common: true,
  flags: [
    {
      ...formatFlag(
        "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates",
      ),
      short: 'f',
    },
  ],
  run: version,
};

export const infoCmd: Command = {
  name: 'info',
  use: '[OPTIONS]',
  short: 'Display system-wide information',
  common: true,
  flags: [versionCmd.flags![0]!],
  run: info,
  aliasPaths: ['system info'],
};

export const eventsCmd: Command = {
  name: 'events',
  use: '[OPTIONS]',
  short: 'Get real time events from the server',
  flags: [
    {
      name: 'filter',
      short: 'f',
      type: 'list',
      typeName: 'filter',
      usage: 'Filter output based on conditions provided',
    },
    { ...versionCmd.flags![0]!, short: undefined },
    { name: 'since', type: 'string', usage: 'Show all events created since timestamp' },
    { name: 'until', type: 'string', usage: 'Stream events until this timestamp' },
  ],
  run: events,
  aliasPaths: ['system events'],
};

export const systemCmd: Command = {
  name: 'system',
  use: 'COMMAND',
  short: 'Manage Docker',
  sub: [
    {
      name: 'df',
      use: '[OPTIONS]',
      short: 'Show berth disk usage',
      flags: [
        formatFlag(),
        { name: 'verbose', short: 'v', type: 'bool', usage: 'Show detailed information on space usage' },
      ],
      run: df,
    },
    { ...eventsCmd, aliasPaths: ['events'] },
    { ...infoCmd, aliasPaths: ['info'] },
    {
      name: 'prune',
      use: '[OPTIONS]',
      short: 'Remove unused data',
      flags: [
        { name: 'all', short: 'a', type: 'bool', usage: 'Remove all unused images not just dangling ones' },
        {
          name: 'filter',
          type: 'list',
          typeName: 'filter',
          usage: 'Provide filter values (e.g. "label=<key>=<value>")',
        },
        { name: 'force', short: 'f', type: 'bool', usage: 'Do not prompt for confirmation' },
        { name: 'volumes', type: 'bool', usage: 'Prune anonymous volumes' },
      ],
      run: prune,
    },
  ],
};
