// start, stop, restart, kill, wait, rm, pause, unpause, rename, update: one
// request per container; errors are printed per container and the command
// ends with 1 if any failed, as docker does.

import type { Command, Ctx } from '../command.js';
import type { Flags } from '../flags.js';
import { CliError } from '../errors.js';
import { ramInBytes } from './runopts.js';
import { runFlagsNamed } from './runflags.js';
import { attachStreams } from '../stream.js';
import { proxySignals } from './run.js';

type Query = Record<string, string | number | boolean | undefined>;

/** `summary` is docker's closing line for some commands ("Error: failed to start containers: a, b"). */
async function each(
  ctx: Ctx,
  ids: string[],
  fn: (id: string) => Promise<void>,
  echo = true,
  summary?: string,
): Promise<number> {
  const errors: string[] = [];
  const failed: string[] = [];
  for (const id of ids) {
    try {
      await fn(id);
      if (echo) ctx.out(id + '\n');
    } catch (e) {
      if (!(e instanceof CliError)) throw e;
      errors.push(e.message);
      failed.push(id);
    }
  }
  if (errors.length)
    throw new CliError([...errors, ...(summary ? [`${summary}${failed.join(', ')}`] : [])].join('\n'), 1);
  return 0;
}

const post = (ctx: Ctx, path: string, query?: Query, json?: unknown) =>
  ctx.client.request('POST', path, { query, json }).then((r) => void r.body.resume());
const cpath = (id: string) => `/containers/${encodeURIComponent(id)}`;

function stopQuery(f: Flags): Query {
  return { signal: f.string('signal') || undefined, t: f.has('timeout') ? f.int('timeout') : undefined };
}

async function startCmd(ctx: Ctx, f: Flags, args: string[]): Promise<number> {
  if (!f.bool('attach') && !f.bool('interactive'))
    return each(ctx, args, (id) => post(ctx, `${cpath(id)}/start`), true, 'Error: failed to start containers: ');
  if (args.length > 1) throw new CliError('you cannot start and attach multiple containers at once', 1);
  const id = args[0]!;
  const info = await ctx.client.get<{ Id: string; Config: { Tty: boolean } }>(`${cpath(id)}/json`);
  const tty = info.Config.Tty;
  const interactive = f.bool('interactive');
  const sock = await ctx.client.hijack(`${cpath(id)}/attach`, {
    query: { stream: true, stdin: interactive, stdout: true, stderr: true },
  });
  const waitRes = ctx.client.json<{ StatusCode: number }>('POST', `${cpath(id)}/wait`, {
    query: { condition: 'next-exit' },
  });
  const stop = tty ? () => undefined : proxySignals(ctx, info.Id);
  try {
    const how = await attachStreams(ctx, {
      sock,
      tty,
      stdin: interactive,
      detachKeys: f.string('detach-keys'),
      resizePath: cpath(id),
      started: () => post(ctx, `${cpath(id)}/start`),
    });
    if (how === 'detached') return 0;
    return (await waitRes).StatusCode;
  } finally {
    stop();
  }
}

async function attach(ctx: Ctx, f: Flags, args: string[]): Promise<number> {
  const id = args[0]!;
  const info = await ctx.client.get<{
    Id: string;
    Config: { Tty: boolean; OpenStdin: boolean };
    State: { Running: boolean; Paused: boolean };
  }>(`${cpath(id)}/json`);
  if (!info.State.Running) throw new CliError('You cannot attach to a stopped container, start it first', 1);
  if (info.State.Paused) throw new CliError('You cannot attach to a paused container, unpause it first', 1);
  const tty = info.Config.Tty;
  const stdin = !f.bool('no-stdin') && info.Config.OpenStdin;
  if (tty && stdin && !process.stdin.isTTY) throw new CliError('the input device is not a TTY', 1);
  const sock = await ctx.client.hijack(`${cpath(id)}/attach`, {
    query: { stream: true, stdin, stdout: true, stderr: true },
  });
  const waitRes = ctx.client.json<{ StatusCode: number }>('POST', `${cpath(id)}/wait`, {
    query: { condition: 'next-exit' },
  });
  const stop = f.bool('sig-proxy') && !tty ? proxySignals(ctx, info.Id) : () => undefined;
  try {
    const how = await attachStreams(ctx, {
      sock,
      tty,
      stdin,
      detachKeys: f.string('detach-keys'),
      resizePath: cpath(id),
      // As docker: one size off first, so that a shell whose terminal keeps
      // its size still hears SIGWINCH and redraws its prompt for us.
      started: async () => {
        if (tty && process.stdout.isTTY)
          await post(ctx, `${cpath(id)}/resize`, { h: process.stdout.rows + 1, w: process.stdout.columns + 1 });
      },
    });
    if (how === 'detached') return 0;
    return (await waitRes).StatusCode;
  } finally {
    stop();
  }
}

async function wait(ctx: Ctx, _f: Flags, args: string[]): Promise<number> {
  return each(
    ctx,
    args,
    async (id) => {
      const r = await ctx.client.json<{ StatusCode: number }>('POST', `${cpath(id)}/wait`);
      ctx.out(`${r.StatusCode}\n`);
    },
    false,
  );
}

async function rm(ctx: Ctx, f: Flags, args: string[]): Promise<number> {
  return each(ctx, args, (id) =>
    ctx.client
      .request('DELETE', cpath(id), {
        query: {
          force: f.bool('force') || undefined,
          v: f.bool('volumes') || undefined,
          link: f.bool('link') || undefined,
        },
      })
      .then((r) => void r.body.resume()),
  );
}

async function rename(ctx: Ctx, _f: Flags, args: string[]): Promise<number> {
  if (!args[1]!.trim()) throw new CliError('Error: Neither old nor new names may be empty', 1);
  try {
    await post(ctx, `${cpath(args[0]!)}/rename`, { name: args[1] });
  } catch (e) {
    if (!(e instanceof CliError)) throw e;
    throw new CliError(`${e.message}\nError: failed to rename container named ${args[0]}`, 1);
  }
  return 0;
}

async function update(ctx: Ctx, f: Flags, args: string[]): Promise<number> {
  const body: Record<string, unknown> = {};
  if (f.has('memory')) body.Memory = ramInBytes(f.string('memory'));
  if (f.has('memory-swap'))
    body.MemorySwap = f.string('memory-swap') === '-1' ? -1 : ramInBytes(f.string('memory-swap'));
  if (f.has('cpus')) body.NanoCpus = Math.round(Number(f.string('cpus')) * 1e9);
  if (f.has('cpu-shares')) body.CPUShares = f.int('cpu-shares');
  if (f.has('pids-limit')) body.PidsLimit = f.int('pids-limit');
  if (f.has('cpuset-cpus')) body.CpusetCpus = f.string('cpuset-cpus');
  if (f.has('cpuset-mems')) body.CpusetMems = f.string('cpuset-mems');
  if (f.has('blkio-weight')) body.BlkioWeight = f.int('blkio-weight');
  if (f.has('cpu-period')) body.CpuPeriod = f.int('cpu-period');
  if (f.has('cpu-quota')) body.CpuQuota = f.int('cpu-quota');
  if (f.has('cpu-rt-period')) body.CpuRealtimePeriod = f.int('cpu-rt-period');
  if (f.has('cpu-rt-runtime')) body.CpuRealtimeRuntime = f.int('cpu-rt-runtime');
  if (f.has('memory-reservation')) body.MemoryReservation = ramInBytes(f.string('memory-reservation'));
  if (f.has('restart')) {
    const [Name, n] = f.string('restart').split(':');
    body.RestartPolicy = { Name, MaximumRetryCount: n ? Number(n) : 0 };
  }
  if (Object.keys(body).length === 0)
    throw new CliError('you must provide one or more flags when using this command', 1);
  return each(ctx, args, async (id) => {
    const r = await ctx.client.json<{ Warnings: string[] | null }>('POST', `${cpath(id)}/update`, { json: body });
    for (const w of r.Warnings ?? []) ctx.err(`${w}\n`);
  });
}

const stopFlags = [
  { name: 'signal', short: 's', type: 'string' as const, usage: 'Signal to send to the container' },
  { name: 'timeout', short: 't', type: 'int' as const, usage: 'Seconds to wait before killing the container' },
];

async function commit(ctx: Ctx, f: Flags, args: string[]): Promise<number> {
  const [container, ref] = args as [string, string | undefined];
  let repo: string | undefined;
  let tag: string | undefined;
  if (ref) {
    const slash = ref.lastIndexOf('/');
    const colon = ref.lastIndexOf(':');
    [repo, tag] = colon > slash ? [ref.slice(0, colon), ref.slice(colon + 1)] : [ref, undefined];
  }
  const r = await ctx.client.json<{ Id: string }>('POST', '/commit', {
    query: {
      container,
      repo,
      tag,
      comment: f.string('message') || undefined,
      author: f.string('author') || undefined,
      pause: f.bool('pause'),
      changes: f.list('change'),
    },
    json: {},
  });
  ctx.out(r.Id + '\n');
  return 0;
}

export const lifecycleCmds: Command[] = [
  {
    name: 'commit',
    use: '[OPTIONS] CONTAINER [REPOSITORY[:TAG]]',
    short: "Create a new image from a container's changes",
    flags: [
      {
        name: 'author',
        short: 'a',
        type: 'string',
        usage: 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")',
      },
      { name: 'change', short: 'c', type: 'list', usage: 'Apply Dockerfile instruction to the created image' },
      { name: 'message', short: 'm', type: 'string', usage: 'Commit message' },
      { name: 'pause', short: 'p', type: 'bool', usage: 'Pause container during commit', default: true },
    ],
    args: { min: 1, max: 2 },
    run: commit,
  },
  {
    name: 'start',
    use: '[OPTIONS] CONTAINER [CONTAINER...]',
    short: 'Start one or more stopped containers',
    flags: [
      { name: 'attach', short: 'a', type: 'bool', usage: 'Attach STDOUT/STDERR and forward signals' },
      { name: 'detach-keys', type: 'string', usage: 'Override the key sequence for detaching a container' },
      { name: 'interactive', short: 'i', type: 'bool', usage: "Attach container's STDIN" },
    ],
    args: { min: 1 },
    run: startCmd,
  },
  {
    name: 'stop',
    use: '[OPTIONS] CONTAINER [CONTAINER...]',
    short: 'Stop one or more running containers',
    flags: stopFlags,
    args: { min: 1 },
    run: (ctx, f, a) => each(ctx, a, (id) => post(ctx, `${cpath(id)}/stop`, stopQuery(f))),
  },
  {
    name: 'restart',
    use: '[OPTIONS] CONTAINER [CONTAINER...]',
    short: 'Restart one or more containers',
    flags: stopFlags,
    args: { min: 1 },
    run: (ctx, f, a) => each(ctx, a, (id) => post(ctx, `${cpath(id)}/restart`, stopQuery(f))),
  },
  {
    name: 'kill',
    use: '[OPTIONS] CONTAINER [CONTAINER...]',
    short: 'Kill one or more running containers',
    flags: [{ name: 'signal', short: 's', type: 'string', usage: 'Signal to send to the container' }],
    args: { min: 1 },
    run: (ctx, f, a) =>
      each(ctx, a, (id) => post(ctx, `${cpath(id)}/kill`, { signal: f.string('signal') || undefined })),
  },
  {
    name: 'wait',
    use: 'CONTAINER [CONTAINER...]',
    short: 'Block until one or more containers stop, then print their exit codes',
    args: { min: 1 },
    run: wait,
  },
  {
    name: 'rm',
    use: '[OPTIONS] CONTAINER [CONTAINER...]',
    short: 'Remove one or more containers',
    flags: [
      { name: 'force', short: 'f', type: 'bool', usage: 'Force the removal of a running container (uses SIGKILL)' },
      { name: 'link', short: 'l', type: 'bool', usage: 'Remove the specified link' },
      { name: 'volumes', short: 'v', type: 'bool', usage: 'Remove anonymous volumes associated with the container' },
    ],
    args: { min: 1 },
    run: rm,
  },
  {
    name: 'pause',
    use: 'CONTAINER [CONTAINER...]',
    short: 'Pause all processes within one or more containers',
    args: { min: 1 },
    run: (ctx, _f, a) => each(ctx, a, (id) => post(ctx, `${cpath(id)}/pause`)),
  },
  {
    name: 'unpause',
    use: 'CONTAINER [CONTAINER...]',
    short: 'Unpause all processes within one or more containers',
    args: { min: 1 },
    run: (ctx, _f, a) => each(ctx, a, (id) => post(ctx, `${cpath(id)}/unpause`)),
  },
  { name: 'rename', use: 'CONTAINER NEW_NAME', short: 'Rename a container', args: { min: 2, max: 2 }, run: rename },
  {
    name: 'update',
    use: '[OPTIONS] CONTAINER [CONTAINER...]',
    short: 'Update configuration of one or more containers',
    flags: [
      ...runFlagsNamed('blkio-weight', 'cpu-period', 'cpu-quota'),
      { name: 'cpu-rt-period', type: 'int', usage: 'Limit the CPU real-time period in microseconds' },
      { name: 'cpu-rt-runtime', type: 'int', usage: 'Limit the CPU real-time runtime in microseconds' },
      ...runFlagsNamed('cpu-shares', 'cpus', 'cpuset-cpus', 'cpuset-mems', 'memory', 'memory-reservation'),
      {
        name: 'memory-swap',
        type: 'bytes',
        usage: 'Swap limit equal to memory plus swap: -1 to enable unlimited swap',
      },
      ...runFlagsNamed('pids-limit'),
      { name: 'restart', type: 'string', usage: 'Restart policy to apply when a container exits' },
    ],
    args: { min: 1 },
    run: update,
  },
  {
    name: 'attach',
    use: '[OPTIONS] CONTAINER',
    short: 'Attach local standard input, output, and error streams to a running container',
    flags: [
      { name: 'detach-keys', type: 'string', usage: 'Override the key sequence for detaching a container' },
      { name: 'no-stdin', type: 'bool', usage: 'Do not attach STDIN' },
      { name: 'sig-proxy', type: 'bool', usage: 'Proxy all received signals to the process', default: true },
    ],
    args: { min: 1, max: 1 },
    run: attach,
  },
];
