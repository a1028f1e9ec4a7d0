// exec, logs, top, port, diff, export, cp (and stats, from stats.ts):
// commands that read a container's processes, output and files.

import { spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createWriteStream, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { Command, Ctx } from '../command.js';
import type { Flags } from '../flags.js';
import { CliError } from '../errors.js';
import { Demuxer, attachStreams } from '../stream.js';
import { apiTimestamp } from '../units.js';
import { readAll } from '../client.js';
import { readEnvFile } from './runopts.js';
import { runFlagsNamed } from './runflags.js';
import { statsCmd } from './stats.js';

const cpath = (id: string) => `/containers/${encodeURIComponent(id)}`;

async function exec(ctx: Ctx, f: Flags, args: string[]): Promise<number> {
  const [id, ...cmd] = args as [string, ...string[]];
  const tty = f.bool('tty');
  const interactive = f.bool('interactive');
  const detach = f.bool('detach');
  // docker looks the container up before it checks the terminal.
  await ctx.client.get(`${cpath(id)}/json`);
  if (tty && interactive && !process.stdin.isTTY) throw new CliError('the input device is not a TTY', 1);
  const body = {
    User: f.string('user'),
    Privileged: f.bool('privileged'),
    Tty: tty,
    AttachStdin: interactive && !detach,
    AttachStdout: !detach,
    AttachStderr: !detach,
    Env: [...f.list('env-file').flatMap(readEnvFile), ...f.list('env')],
    WorkingDir: f.string('workdir'),
    Cmd: cmd,
  };
  const created = await ctx.client.json<{ Id: string }>('POST', `${cpath(id)}/exec`, { json: body });
  if (detach) {
    await ctx.client
      .request('POST', `/exec/${created.Id}/start`, { json: { Detach: true, Tty: tty } })
      .then((r) => r.body.resume());
    return 0;
  }
  const sock = await ctx.client.hijack(`/exec/${created.Id}/start`, { json: { Detach: false, Tty: tty } });
  const how = await attachStreams(ctx, {
    sock,
    tty,
    stdin: interactive,
    detachKeys: f.string('detach-keys'),
    resizePath: `/exec/${created.Id}`,
  });
  if (how === 'detached') return 0;
  const inspect = await ctx.client.get<{ ExitCode: number | null; Running: boolean }>(`/exec/${created.Id}/json`);
  return inspect.ExitCode ?? 0;
}

async function logs(ctx: Ctx, f: Flags, args: string[]): Promise<number> {
  const id = args[0]!;
  const info = await ctx.client.get<{ Config: { Tty: boolean } }>(`${cpath(id)}/json`);
  const res = await ctx.client.request('GET', `${cpath(id)}/logs`, {
    query: {
      stdout: true,
      stderr: true,
      follow: f.bool('follow') || undefined,
      timestamps: f.bool('timestamps') || undefined,
      details: f.bool('details') || undefined,
      tail: f.string('tail') || 'all',
      since: f.string('since') ? apiTimestamp(f.string('since'), 'since') : undefined,
      until: f.string('until') ? apiTimestamp(f.string('until'), 'until') : undefined,
    },
  });
  const demux = new Demuxer((s, d) => (s === 2 ? process.stderr : process.stdout).write(d));
  for await (const c of res.body as AsyncIterable<Buffer>) {
    if (info.Config.Tty) process.stdout.write(c);
    else demux.push(c);
  }
  return 0;
}

async function top(ctx: Ctx, _f: Flags, args: string[]): Promise<number> {
  const [id, ...psArgs] = args as [string, ...string[]];
  const r = await ctx.client.get<{ Titles: string[]; Processes: string[][] }>(
    `${cpath(id)}/top`,
    psArgs.length ? { ps_args: psArgs.join(' ') } : undefined,
  );
  const text = [r.Titles.join('\t'), ...r.Processes.map((p) => p.join('\t'))].join('\n') + '\n';
  const { tabwrite } = await import('../tabwriter.js');
  ctx.out(tabwrite(text, 20, 1));
  return 0;
}

async function port(ctx: Ctx, _f: Flags, args: string[]): Promise<number> {
  const [id, want] = args as [string, string | undefined];
  const info = await ctx.client.get<{
    NetworkSettings: { Ports: Record<string, { HostIp: string; HostPort: string }[] | null> | null };
  }>(`${cpath(id)}/json`);
  const ports = info.NetworkSettings.Ports ?? {};
  const fmt = (b: { HostIp: string; HostPort: string }) =>
    `${b.HostIp.includes(':') ? `[${b.HostIp}]` : b.HostIp}:${b.HostPort}`;
  if (want) {
    const key = want.includes('/') ? want : `${want}/tcp`;
    const b = ports[key];
    if (!b?.length) throw new CliError(`Error: No public port '${want}' published for ${id}`, 1);
    ctx.out(b.map((x) => fmt(x) + '\n').join(''));
    return 0;
  }
  const lines: string[] = [];
  for (const [k, bs] of Object.entries(ports)) for (const b of bs ?? []) lines.push(`${k} -> ${fmt(b)}`);
  ctx.out(
    lines
      .sort()
      .map((l) => l + '\n')
      .join(''),
  );
  return 0;
}

async function diff(ctx: Ctx, _f: Flags, args: string[]): Promise<number> {
  const changes = (await ctx.client.get<{ Kind: number; Path: string }[] | null>(`${cpath(args[0]!)}/changes`)) ?? [];
  ctx.out(changes.map((c) => `${['C', 'A', 'D'][c.Kind] ?? '?'} ${c.Path}\n`).join(''));
  return 0;
}

async function exportCmd(ctx: Ctx, f: Flags, args: string[]): Promise<number> {
  const output = f.string('output');
  if (!output && process.stdout.isTTY)
    throw new CliError('cowardly refusing to save to a terminal. Use the -o flag or redirect', 1);
  const res = await ctx.client.request('GET', `${cpath(args[0]!)}/export`);
  // Done when the destination has taken every byte, not when the response
  // ends: the CLI exits right after, and a file stream still writing would be
  // cut short (seen under Bun, 4 exports in 30).
  await pipeline(res.body, output ? createWriteStream(output) : process.stdout);
  return 0;
}

function splitCpArg(a: string): { container?: string; path: string } {
  if (a.startsWith('/') || a.startsWith('.') || a === '-') return { path: a };
  const i = a.indexOf(':');
  return i > 0 ? { container: a.slice(0, i), path: a.slice(i + 1) } : { path: a };
}

/** cp through the archive endpoints; the local side is packed/unpacked by tar(1). */
async function cp(ctx: Ctx, _f: Flags, args: string[]): Promise<number> {
  const src = splitCpArg(args[0]!);
  const dst = splitCpArg(args[1]!);
  if (src.container && dst.container) throw new CliError('copying between containers is not supported', 1);
  if (!src.container && !dst.container) throw new CliError('must specify at least one container source', 1);
  if (src.container) {
    const res = await ctx.client.request('GET', `${cpath(src.container)}/archive`, { query: { path: src.path } });
    if (dst.path === '-') {
      res.body.pipe(process.stdout);
      await new Promise((r) => res.body.on('end', r));
      return 0;
    }
    let isDir = false;
    try {
      isDir = statSync(dst.path).isDirectory();
    } catch {
      /* new name */
    }
    const into = isDir ? dst.path : dirname(dst.path);
    const rename = isDir
      ? []
      : [`--transform=s|^${basename(src.path.replace(/\/+$/, '')).replace(/[|\\]/g, '\\$&')}|${basename(dst.path)}|`];
    const tar = spawn('tar', ['-x', '-C', into, ...rename], { stdio: ['pipe', 'inherit', 'inherit'] });
    res.body.pipe(tar.stdin);
    const code = await new Promise<number>((r) => tar.on('close', (c) => r(c ?? 1)));
    if (code !== 0) throw new CliError(`extracting into ${dst.path} failed`, 1);
    return 0;
  }
  // Into the container: the archive streams from our stdin (`-`) or from
  // tar(1) straight into the request body (chunked), never whole in memory.
  if (src.path !== '-') {
    try {
      statSync(src.path);
    } catch {
      throw new CliError(`lstat ${resolve(src.path)}: no such file or directory`, 1);
    }
  }
  const tar =
    src.path === '-'
      ? undefined
      : spawn('tar', ['-c', '-C', dirname(src.path), basename(src.path)], { stdio: ['ignore', 'pipe', 'pipe'] });
  // Taken up at once: under Bun, what a child wrote to a pipe nobody reads
  // yet is lost when it exits (a small archive, before the request is made).
  const archive = tar ? tar.stdout.pipe(new PassThrough()) : process.stdin;
  let tarErr = '';
  tar?.stderr.on('data', (d: Buffer) => (tarErr += d.toString()));
  const tarDone = tar ? new Promise<number>((r) => tar.on('close', (c) => r(c ?? 1))) : Promise.resolve(0);
  try {
    const res = await ctx.client.request('PUT', `${cpath(dst.container!)}/archive`, {
      query: { path: dst.path },
      body: archive,
      headers: { 'Content-Type': 'application/x-tar' },
    });
    await readAll(res.body);
  } catch (e) {
    tar?.kill();
    throw e;
  }
  if ((await tarDone) !== 0) throw new CliError(`packing ${src.path} failed: ${tarErr.trim()}`, 1);
  return 0;
}

export const containerIoCmds: Command[] = [
  {
    name: 'exec',
    use: '[OPTIONS] CONTAINER COMMAND [ARG...]',
    short: 'Execute a command in a running container',
    common: true,
    interspersed: false,
    flags: [
      { name: 'detach', short: 'd', type: 'bool', usage: 'Detached mode: run command in the background' },
      ...runFlagsNamed('detach-keys', 'env', 'env-file', 'interactive'),
      { name: 'privileged', type: 'bool', usage: 'Give extended privileges to the command' },
      ...runFlagsNamed('tty'),
      { name: 'user', short: 'u', type: 'string', usage: 'Username or UID (format: "<name|uid>[:<group|gid>]")' },
      ...runFlagsNamed('workdir'),
    ],
    args: { min: 2 },
    run: exec,
  },
  {
    name: 'logs',
    use: '[OPTIONS] CONTAINER',
    short: 'Fetch the logs of a container',
    flags: [
      { name: 'details', type: 'bool', usage: 'Show extra details provided to logs' },
      { name: 'follow', short: 'f', type: 'bool', usage: 'Follow log output' },
      {
        name: 'since',
        type: 'string',
        usage: 'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)',
      },
      {
        name: 'tail',
        short: 'n',
        type: 'string',
        usage: 'Number of lines to show from the end of the logs',
        default: 'all',
      },
      { name: 'timestamps', short: 't', type: 'bool', usage: 'Show timestamps' },
      {
        name: 'until',
        type: 'string',
        usage: 'Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)',
      },
    ],
    args: { min: 1, max: 1 },
    run: logs,
  },
  {
    name: 'top',
    use: 'CONTAINER [ps OPTIONS]',
    short: 'Display the running processes of a container',
    args: { min: 1 },
    interspersed: false,
    run: top,
  },
  {
    name: 'port',
    use: 'CONTAINER [PRIVATE_PORT[/PROTO]]',
    short: 'List port mappings or a specific mapping for the container',
    args: { min: 1, max: 2 },
    run: port,
  },
  {
    name: 'diff',
    use: 'CONTAINER',
    short: "Inspect changes to files or directories on a container's filesystem",
    args: { min: 1, max: 1 },
    run: diff,
  },
  {
    name: 'export',
    use: '[OPTIONS] CONTAINER',
    short: "Export a container's filesystem as a tar archive",
    flags: [{ name: 'output', short: 'o', type: 'string', usage: 'Write to a file, instead of STDOUT' }],
    args: { min: 1, max: 1 },
    run: exportCmd,
  },
  {
    name: 'cp',
    use: '[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH',
    short: 'Copy files/folders between a container and the local filesystem',
    long: "Copy files/folders between a container and the local filesystem\n\nUse '-' as the source to read a tar archive from stdin\nand extract it to a directory destination in a container.\nUse '-' as the destination to stream a tar archive of a\ncontainer source to stdout.",
    flags: [
      { name: 'archive', short: 'a', type: 'bool', usage: 'Archive mode (copy all uid/gid information)' },
      { name: 'follow-link', short: 'L', type: 'bool', usage: 'Always follow symbol link in SRC_PATH' },
      {
        name: 'quiet',
        short: 'q',
        type: 'bool',
        usage:
          'Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached',
      },
    ],
    args: { min: 2, max: 2 },
    run: cp,
  },
  statsCmd,
];
