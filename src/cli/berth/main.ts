// berth: the docker-compatible command line. Global options, dispatch
// through the command table, and the one place where errors become docker's
// messages and exit statuses (125 for the CLI's own errors in run/create,
// 1 elsewhere, the container's status for run/start -a/exec).

import { homedir } from 'node:os';
import { join } from 'node:path';
import { Client, parseHost } from './client.js';
import { CliError, ExitStatus } from './errors.js';
import { FlagError, parseFlags, type FlagSpec } from './flags.js';
import { commandHelp, useLine } from './help.js';
import type { Command, Ctx } from './command.js';
import { commands, rootHelp } from './commands.js';

const PROG = 'berth';

const globalFlags: FlagSpec[] = [
  { name: 'config', type: 'string', usage: 'Location of client config files', default: join(homedir(), '.docker') },
  { name: 'context', short: 'c', type: 'string', usage: 'Name of the context to use to connect to the daemon' },
  { name: 'debug', short: 'D', type: 'bool', usage: 'Enable debug mode' },
  { name: 'host', short: 'H', type: 'list', usage: 'Daemon socket to connect to' },
  {
    name: 'log-level',
    short: 'l',
    type: 'string',
    usage: 'Set the logging level ("debug", "info", "warn", "error", "fatal")',
    default: 'info',
  },
  { name: 'tls', type: 'bool', usage: 'Use TLS; implied by --tlsverify' },
  { name: 'tlsverify', type: 'bool', usage: 'Use TLS and verify the remote' },
  { name: 'version', short: 'v', type: 'bool', usage: 'Print version information and quit' },
];

export const BERTH_VERSION = '0.1.0';

function write(fd: 1 | 2) {
  const stream = fd === 1 ? process.stdout : process.stderr;
  return (s: string) => {
    stream.write(s);
  };
}

/** A command and its path from argv (management forms descend). */
function resolve(args: string[]): { cmd?: Command; path: string; rest: string[]; parent?: Command } {
  let list = commands;
  let path = PROG;
  let cmd: Command | undefined;
  let i = 0;
  let parent: Command | undefined;
  while (i < args.length) {
    const name = args[i]!;
    const found = list.find((c) => c.name === name || c.aliases?.includes(name));
    if (!found) break;
    parent = cmd;
    cmd = found;
    path += ` ${found.name}`;
    i++;
    if (!found.sub) break;
    list = found.sub;
  }
  return { cmd, path, rest: args.slice(i), parent };
}

function aliasList(path: string, c: Command): string[] {
  const base = path.split(' ').slice(0, -1).join(' ');
  const names = [c.name, ...(c.aliases ?? [])].map((n) => `${base} ${n}`);
  const others = (c.aliasPaths ?? []).map((p) => `${PROG} ${p}`);
  // docker lists the management forms first, then the short top-level one.
  return path.split(' ').length === 2 ? [...others, ...names] : [...names, ...others];
}

async function main(argv: string[]): Promise<number> {
  const out = write(1);
  const err = write(2);
  let global;
  try {
    global = parseFlags(argv, globalFlags, false);
  } catch (e) {
    if (e instanceof FlagError) {
      err(`${e.message}\n\nUsage:  ${PROG} [OPTIONS] COMMAND [ARG...]\n\nRun '${PROG} --help' for more information\n`);
      return 125;
    }
    throw e;
  }
  if (global.flags.bool('version')) {
    out(`Berth version ${BERTH_VERSION} (docker CLI 28.x compatible)\n`);
    return 0;
  }
  if (global.help || global.args.length === 0) {
    out(rootHelp(PROG));
    return 0;
  }
  const { cmd, path, rest } = resolve(global.args);
  if (!cmd) {
    err(`${PROG}: unknown command: ${PROG} ${global.args[0]}\n\nRun '${PROG} --help' for more information\n`);
    return 1;
  }
  if (cmd.sub) {
    // A management command alone prints its help; an unknown sub-command is an error.
    const first = rest.find((a) => !a.startsWith('-'));
    if (first === undefined) {
      out(commandHelp(path, cmd, []));
      return 0;
    }
    err(
      `${PROG}: unknown command: ${path} ${first}\n\nUsage:  ${path} COMMAND\n\nRun '${path} --help' for more information\n`,
    );
    return 1;
  }
  let parsed;
  try {
    parsed = parseFlags(rest, cmd.flags ?? [], cmd.interspersed ?? true);
  } catch (e) {
    if (e instanceof FlagError) {
      err(`${e.message}\n\nUsage:  ${useLine(path, cmd)}\n\nRun '${path} --help' for more information\n`);
      return 125;
    }
    throw e;
  }
  // run/create take -h for --hostname, so --help is one of their flags.
  if (parsed.help || (parsed.flags.specs.some((s) => s.name === 'help') && parsed.flags.bool('help'))) {
    out(commandHelp(path, cmd, aliasList(path, cmd)));
    return 0;
  }
  const nargs = parsed.args.length;
  const rule = cmd.args ?? { max: 0 };
  const plural = (n: number) => (n === 1 ? 'argument' : 'arguments');
  let argErr: string | undefined;
  if (rule.max === 0 && rule.min === undefined && nargs > 0) {
    argErr = `${PROG}: '${path}' accepts no arguments\n\nUsage:  ${useLine(path, cmd)}\n\nRun '${path} --help' for more information`;
  } else if (rule.min !== undefined && rule.max !== undefined && rule.min === rule.max && nargs !== rule.min) {
    argErr = `${PROG}: '${path}' requires ${rule.min} ${plural(rule.min)}\n\nUsage:  ${useLine(path, cmd)}\n\nRun '${path} --help' for more information`;
  } else if (rule.min !== undefined && rule.max !== undefined && (nargs < rule.min || nargs > rule.max)) {
    argErr = `${PROG}: '${path}' requires at least ${rule.min} and at most ${rule.max} ${plural(rule.max)}\n\nUsage:  ${useLine(path, cmd)}\n\nRun '${path} --help' for more information`;
  } else if (rule.min !== undefined && nargs < rule.min) {
    argErr = `${PROG}: '${path}' requires at least ${rule.min} ${plural(rule.min)}\n\nUsage:  ${useLine(path, cmd)}\n\nSee '${path} --help' for more information`;
  } else if (rule.max !== undefined && rule.max > 0 && nargs > rule.max) {
    argErr = `${PROG}: '${path}' requires at most ${rule.max} ${plural(rule.max)}\n\nUsage:  ${useLine(path, cmd)}\n\nRun '${path} --help' for more information`;
  }
  if (argErr) {
    err(argErr + '\n');
    return 1;
  }

  const hosts = global.flags.list('host');
  const host = hosts[hosts.length - 1] ?? process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock';
  const configDir = global.flags.has('config')
    ? global.flags.string('config')
    : (process.env.DOCKER_CONFIG ?? join(homedir(), '.docker'));
  const ctx: Ctx = {
    client: new Client(parseHost(host), process.env.DOCKER_API_VERSION),
    prog: PROG,
    configDir,
    out,
    err,
  };
  const isRun =
    path === `${PROG} run` ||
    path === `${PROG} create` ||
    path === `${PROG} container run` ||
    path === `${PROG} container create`;
  try {
    const code = await cmd.run!(ctx, parsed.flags, parsed.args, path);
    return code ?? 0;
  } catch (e) {
    if ((e as NodeJS.ErrnoException | undefined)?.code === 'EPIPE') return 141;
    if (e instanceof ExitStatus) return e.exitCode;
    // A flag value refused while building the request: docker refuses it while parsing.
    if (e instanceof FlagError) {
      err(`${e.message}\n\nUsage:  ${useLine(path, cmd)}\n\nRun '${path} --help' for more information\n`);
      return 125;
    }
    if (e instanceof CliError) {
      if (isRun) {
        err(`${PROG}: ${e.message}\n\nRun '${path} --help' for more information\n`);
        return 125;
      }
      if (e.message) err(e.message + '\n');
      return e.exitCode;
    }
    const msg = e instanceof Error ? e.message : String(e);
    err((isRun ? `${PROG}: ` : '') + msg + '\n');
    if (global.flags.bool('debug') && e instanceof Error && e.stack) err(e.stack + '\n');
    return isRun ? 125 : 1;
  }
}

// A reader that went away (`berth logs | head`): end as a process killed by
// SIGPIPE ends (status 141, what the shell shows for docker), without a trace.
const isEpipe = (e: unknown) => (e as NodeJS.ErrnoException | undefined)?.code === 'EPIPE';
for (const s of [process.stdout, process.stderr]) {
  s.on('error', (e) => {
    if (isEpipe(e)) process.exit(141);
  });
}
const fatal = (e: unknown) => {
  if (isEpipe(e)) process.exit(141);
  try {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  } catch {
    /* stderr gone too */
  }
  process.exit(1);
};
process.on('uncaughtException', fatal);
process.on('unhandledRejection', fatal);

/**
 * Which of our streams have refused a write (write() answered false) and not
 * drained since. Bun's writableLength stays 0 on a pipe, so the answers
 * themselves are watched: every write goes through here.
 */
const undrained = new Set<NodeJS.WriteStream>();
for (const s of [process.stdout, process.stderr]) {
  const write = s.write.bind(s) as (...a: unknown[]) => boolean;
  s.write = (...a: unknown[]) => {
    const ok = write(...a);
    if (!ok && !undrained.has(s)) {
      undrained.add(s);
      s.once('drain', () => undrained.delete(s));
    }
    return ok;
  };
}

function flushed(s: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    const done = () => s.write('', () => resolve());
    if (undrained.has(s) || s.writableLength > 0) {
      s.once('drain', done);
      s.once('error', () => resolve());
    } else done();
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    // Exit once our output is written, as docker does when its command
    // returns: a request still open (a detached run's wait) must not keep us.
    // Under Bun a pipe's writes are asynchronous and an empty write's callback
    // does not wait for them: what is still buffered (a slow reader, over
    // 64 KiB) is waited for by its 'drain' first.
    flushed(process.stdout)
      .then(() => flushed(process.stderr))
      .then(
        () => process.exit(code),
        () => process.exit(code),
      );
  },
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
