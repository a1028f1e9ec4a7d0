// berth-runc: the runc-compatible command line. Global flags, then a verb;
// each verb is argument handling plus one call into the runtime library.
// Errors are printed as "berth-runc: <message>" on stderr and, with --log,
// logged in the format containerd reads from runc (--log-format json).

import { Logger } from '../../common/log.js';
import { exitCodeOf, isBerthError, messageOf } from '../../common/errors.js';
import { Runtime, DEFAULT_ROOT } from '../../runtime/index.js';
import { bool, parseFlags, str } from './args.js';
import type { Command, Context } from './command.js';
import { SPEC_VERSION, VERSION } from './version.js';
import { create } from './commands/create.js';
import { run } from './commands/run.js';
import { start } from './commands/start.js';
import { state } from './commands/state.js';
import { kill } from './commands/kill.js';
import { del } from './commands/delete.js';
import { exec } from './commands/exec.js';
import { list } from './commands/list.js';
import { ps } from './commands/ps.js';
import { pause, resume } from './commands/pause.js';
import { update } from './commands/update.js';
import { events } from './commands/events.js';
import { spec } from './commands/spec.js';
import { features } from './commands/features.js';
import { verbHelp, wantsHelp } from './help.js';

const commands: Command[] = [
  create,
  start,
  run,
  state,
  kill,
  del,
  exec,
  list,
  ps,
  pause,
  resume,
  update,
  events,
  spec,
  features,
];

const globalFlags = {
  root: { kind: 'string' },
  log: { kind: 'string' },
  'log-format': { kind: 'string' },
  debug: { kind: 'bool' },
  'systemd-cgroup': { kind: 'bool' },
  rootless: { kind: 'string' },
  criu: { kind: 'string', ignored: true },
  help: { kind: 'bool', alias: 'h' },
  version: { kind: 'bool', alias: 'v' },
} as const;

function usage(): string {
  const lines = commands.map((c) => `   ${c.name.padEnd(10)} ${c.summary}`);
  return `berth-runc: the Berth OCI runtime (runc-compatible)

USAGE:
   berth-runc [global options] command [command options] [arguments...]

COMMANDS:
${lines.join('\n')}

GLOBAL OPTIONS:
   --root DIR               state directory (default: ${DEFAULT_ROOT})
   --log FILE               log file (default: stderr)
   --log-format text|json   log format (default: text)
   --debug                  log debug messages
   --version, -v            print the version
`;
}

export async function main(argv: string[]): Promise<number> {
  // containerd's shim may give us stdio we cannot write to (--null-io: a
  // read-only /dev/null): a failed write must not crash the runtime; errors
  // still reach the --log file.
  process.stdout.on('error', () => undefined);
  process.stderr.on('error', () => undefined);
  let log = new Logger({ format: 'text' });
  let logFile: string | undefined;
  try {
    const g = parseFlags(argv, globalFlags, 'berth-runc');
    const format = str(g.flags, 'log-format') ?? 'text';
    if (format !== 'text' && format !== 'json') throw new Error(`invalid log format: ${format}`);
    logFile = str(g.flags, 'log');
    log = new Logger({ file: logFile, format, level: bool(g.flags, 'debug') ? 'debug' : 'info' });
    if (bool(g.flags, 'version')) {
      process.stdout.write(`berth-runc version ${VERSION}\nspec: ${SPEC_VERSION}\n`);
      return 0;
    }
    const [verb, ...rest] = g.args;
    if (!verb || verb === 'help' || bool(g.flags, 'help')) {
      process.stdout.write(usage());
      return verb || bool(g.flags, 'help') ? 0 : 1;
    }
    if (bool(g.flags, 'systemd-cgroup'))
      throw new Error('--systemd-cgroup: the systemd cgroup driver is not supported; use cgroupfs paths');
    const cmd = commands.find((c) => c.name === verb);
    if (!cmd) throw new Error(`No help topic for '${verb}'`);
    if (wantsHelp(rest, cmd.flags)) {
      process.stdout.write(verbHelp(cmd));
      return 0;
    }
    const args = parseFlags(rest, cmd.flags, cmd.name);
    const root = str(g.flags, 'root') ?? DEFAULT_ROOT;
    let rt: Runtime | undefined;
    const ctx: Context = {
      runtime: () => (rt ??= new Runtime({ root, log, spareInit: false })),
      log,
      root,
      out: (s) => process.stdout.write(s),
    };
    log.debug(`${verb} ${rest.join(' ')}`);
    return await cmd.run(ctx, args);
  } catch (e) {
    // The library's errors are this program's: "berth-runc: <message>";
    // berth-init's keep their own name after it.
    const msg = isBerthError(e) && e.layer === 'berth-init' ? `berth-init: ${e.message}` : messageOf(e);
    // With a log file, the error goes there (containerd reads it) and to stderr.
    if (logFile) log.error(msg);
    process.stderr.write(`berth-runc: ${msg}\n`);
    return exitCodeOf(e);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`berth-runc: ${messageOf(e)}\n`);
    process.exitCode = 1;
  },
);
