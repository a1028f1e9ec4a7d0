// run and create: the create body from the flags, the image pulled when it
// is missing (--pull), then for run: attach before start, start, wait, and
// the container's exit status as ours. Docker's status for failures to
// start: 127 (command not found), 126 (cannot execute), 125 otherwise.

import type { Command, Ctx } from '../command.js';
import type { Flags } from '../flags.js';
import { CliError, ExitStatus } from '../errors.js';
import { DaemonError } from '../client.js';
import { buildCreate, runFlags } from './runopts.js';
import { pullImage } from './images.js';
import { checkReference } from '../reference.js';
import { attachStreams } from '../stream.js';
import { existsSync, writeFileSync } from 'node:fs';

async function createContainer(ctx: Ctx, f: Flags, args: string[]): Promise<string> {
  const [image, ...cmd] = args as [string, ...string[]];
  const { body, name, platform } = buildCreate(f, image, cmd);
  checkReference(image, 125);
  const pull = f.string('pull');
  if (!['always', 'missing', 'never'].includes(pull))
    throw new CliError(`invalid pull option: '${pull}': must be one of "always", "missing" or "never"`, 125);
  const cidfile = f.string('cidfile');
  if (cidfile && existsSync(cidfile))
    throw new CliError(
      `container ID file found, make sure the other container isn't running or delete ${cidfile}`,
      125,
    );
  const doCreate = () =>
    ctx.client.json<{ Id: string; Warnings: string[] | null }>('POST', '/containers/create', {
      query: { name, platform },
      json: body,
    });
  const pullQuiet = f.bool('quiet');
  if (pull === 'always') await pullImage(ctx, image, { platform, quiet: pullQuiet, out: process.stderr });
  let res;
  try {
    res = await doCreate();
  } catch (e) {
    if (!(e instanceof DaemonError) || e.status !== 404 || !/No such image/i.test(e.daemonMessage) || pull === 'never')
      throw e;
    const ref = image.includes(':') || image.includes('@') ? image : `${image}:latest`;
    process.stderr.write(`Unable to find image '${ref}' locally\n`);
    await pullImage(ctx, image, { platform, quiet: pullQuiet, out: process.stderr });
    res = await doCreate();
  }
  for (const w of res.Warnings ?? []) ctx.err(`WARNING: ${w}\n`);
  if (f.string('cidfile')) writeFileSync(f.string('cidfile'), res.Id, { flag: 'wx' });
  return res.Id;
}

/** docker's runStartContainerErr. */
function startStatus(msg: string): number {
  if (/executable file not found|no such file or directory|system cannot find the file specified/.test(msg)) return 127;
  if (/permission denied|is a directory/.test(msg)) return 126;
  return 125;
}

async function create(ctx: Ctx, f: Flags, args: string[]): Promise<number> {
  ctx.out((await createContainer(ctx, f, args)) + '\n');
  return 0;
}

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];

/** Forward the signals we get to the container (docker's --sig-proxy). */
export function proxySignals(ctx: Ctx, id: string): () => void {
  const handlers = SIGNALS.filter((s) => s !== 'SIGWINCH').map((sig) => {
    const h = () => {
      void ctx.client.request('POST', `/containers/${id}/kill`, { query: { signal: sig } }).then(
        (r) => r.body.resume(),
        () => undefined,
      );
    };
    process.on(sig, h);
    return [sig, h] as const;
  });
  return () => handlers.forEach(([s, h]) => process.off(s, h));
}

async function run(ctx: Ctx, f: Flags, args: string[]): Promise<number> {
  const detach = f.bool('detach');
  const tty = f.bool('tty');
  const interactive = f.bool('interactive');
  if (!detach && tty && interactive && !process.stdin.isTTY) {
    // docker prints this one bare, with status 1 (not run's 125 form).
    ctx.err('the input device is not a TTY\n');
    throw new ExitStatus(1);
  }
  const id = await createContainer(ctx, f, args);
  if (detach) {
    await start(ctx, id);
    ctx.out(id + '\n');
    return 0;
  }
  const attach = f.list('attach').map((a) => a.toLowerCase());
  const sock = await ctx.client.hijack(`/containers/${id}/attach`, {
    query: {
      stream: true,
      stdin: interactive || attach.includes('stdin'),
      stdout: attach.length === 0 || attach.includes('stdout'),
      stderr: attach.length === 0 || attach.includes('stderr'),
    },
  });
  // Wait before start, so that a container which exits at once is not missed.
  const waitRes = ctx.client.json<{ StatusCode: number; Error?: { Message: string } | null }>(
    'POST',
    `/containers/${id}/wait`,
    { query: { condition: f.bool('rm') ? 'removed' : 'next-exit' } },
  );
  waitRes.catch(() => undefined);
  const stopProxy = f.bool('sig-proxy') && !tty ? proxySignals(ctx, id) : () => undefined;
  try {
    let how;
    try {
      how = await attachStreams(ctx, {
        sock,
        tty,
        stdin: interactive,
        detachKeys: f.string('detach-keys'),
        resizePath: `/containers/${id}`,
        started: () => start(ctx, id),
      });
    } catch (e) {
      // The start was refused (the only daemon request in the session): said
      // once the terminal is ours again, with docker's status for the cause.
      sock.destroy();
      if (!(e instanceof DaemonError)) throw e;
      ctx.err(`${ctx.prog}: ${e.message}\n\nRun '${ctx.prog} run --help' for more information\n`);
      if (f.bool('rm'))
        await ctx.client.request('DELETE', `/containers/${id}`, { query: { force: true, v: true } }).then(
          (r) => r.body.resume(),
          () => undefined,
        );
      throw new ExitStatus(startStatus(e.daemonMessage));
    }
    // Detached (ctrl-p ctrl-q): the container runs on, and so do we not.
    if (how === 'detached') return 0;
    const res = await waitRes;
    if (res.Error?.Message) ctx.err(`${ctx.prog}: Error response from daemon: ${res.Error.Message}\n`);
    return res.StatusCode;
  } finally {
    stopProxy();
  }
}

async function start(ctx: Ctx, id: string): Promise<void> {
  const r = await ctx.client.request('POST', `/containers/${encodeURIComponent(id)}/start`);
  r.body.resume();
}

export const runCmd: Command = {
  name: 'run',
  use: '[OPTIONS] IMAGE [COMMAND] [ARG...]',
  short: 'Create and run a new container from an image',
  common: true,
  flags: runFlags,
  interspersed: false,
  args: { min: 1 },
  run,
  aliasPaths: ['container run'],
};

export const createCmd: Command = {
  name: 'create',
  use: '[OPTIONS] IMAGE [COMMAND] [ARG...]',
  short: 'Create a new container',
  flags: runFlags
    .filter((x) => !['detach', 'sig-proxy', 'detach-keys'].includes(x.name))
    // docker's text for create, stray "|" included.
    .map((x) =>
      x.name === 'pull' ? { ...x, usage: 'Pull image before creating ("always", "|missing", "never")' } : x,
    ),
  interspersed: false,
  args: { min: 1 },
  run: create,
  aliasPaths: ['container create'],
};
