// The whole command table, in docker's grouping: common commands, management
// commands (container, image, network, system, volume) and the rest.

import type { Command } from './command.js';
import { CliError } from './errors.js';
import { completionScript } from './completion.js';
import { eventsCmd, infoCmd, systemCmd, versionCmd } from './cmd/system.js';
import { psCmd, psFlags } from './cmd/ps.js';
import {
  historyCmd,
  imageCmd,
  imagesCmd,
  importCmd,
  loadCmd,
  pullCmd,
  pushCmd,
  rmiCmd,
  saveCmd,
  tagCmd,
} from './cmd/images.js';
import { inspectCmd, inspectAll } from './cmd/inspect.js';
import { createCmd, runCmd } from './cmd/run.js';
import { lifecycleCmds } from './cmd/lifecycle.js';
import { containerIoCmds } from './cmd/container-io.js';
import { networkCmd, volumeCmd } from './cmd/objects.js';
import { loginCmds } from './cmd/login.js';
import { inspectFormatFlag } from './command.js';
import { filterQuery } from './cmd/filters.js';
import { humanSizeWithPrecision } from './units.js';
import { confirm } from './prompt.js';

const containerLevel = [...lifecycleCmds, ...containerIoCmds];

const containerCmd: Command = {
  name: 'container',
  use: 'COMMAND',
  short: 'Manage containers',
  sub: [
    ...containerLevel.map((c) => ({
      ...c,
      common: false,
      ...(c.name === 'rm' ? { aliases: ['remove'] } : {}),
      aliasPaths: [c.name],
    })),
    { ...createCmd, aliasPaths: ['create'] },
    { ...runCmd, common: false, aliasPaths: ['run'] },
    {
      name: 'inspect',
      use: '[OPTIONS] CONTAINER [CONTAINER...]',
      short: 'Display detailed information on one or more containers',
      flags: [inspectFormatFlag, { name: 'size', short: 's', type: 'bool', usage: 'Display total file sizes' }],
      args: { min: 1 },
      run: (ctx, f, a) => inspectAll(ctx, f, a, 'container'),
    },
    {
      name: 'ls',
      aliases: ['list', 'ps'],
      use: '[OPTIONS]',
      short: 'List containers',
      flags: psFlags,
      run: psCmd.run,
      aliasPaths: ['ps'],
    },
    {
      name: 'prune',
      use: '[OPTIONS]',
      short: 'Remove all stopped containers',
      flags: [
        { name: 'filter', type: 'list', typeName: 'filter', usage: 'Provide filter values (e.g. "until=<timestamp>")' },
        { name: 'force', short: 'f', type: 'bool', usage: 'Do not prompt for confirmation' },
      ],
      run: async (ctx, f) => {
        if (!f.bool('force') && !(await confirm(ctx, 'WARNING! This will remove all stopped containers.'))) return 0;
        const r = await ctx.client.json<{ ContainersDeleted: string[] | null; SpaceReclaimed: number }>(
          'POST',
          '/containers/prune',
          { query: { filters: filterQuery(f.list('filter')) } },
        );
        const d = r.ContainersDeleted ?? [];
        ctx.out(
          (d.length ? `Deleted Containers:\n${d.join('\n')}\n\n` : '') +
            `Total reclaimed space: ${humanSizeWithPrecision(r.SpaceReclaimed, 3)}\n`,
        );
        return 0;
      },
    },
  ],
};

export const commands: Command[] = [
  runCmd,
  { ...containerIoCmds[0]!, aliasPaths: ['container exec'] }, // exec
  psCmd,
  pullCmd,
  pushCmd,
  imagesCmd,
  ...loginCmds,
  versionCmd,
  infoCmd,
  containerCmd,
  imageCmd,
  networkCmd,
  systemCmd,
  volumeCmd,
  ...containerLevel
    .filter((c) => c.name !== 'exec')
    .map((c) => ({ ...c, aliasPaths: [`container ${c.name}`, ...(c.name === 'rm' ? ['container remove'] : [])] })),
  createCmd,
  eventsCmd,
  historyCmd,
  importCmd,
  inspectCmd,
  loadCmd,
  rmiCmd,
  saveCmd,
  tagCmd,
  {
    name: 'completion',
    use: '[bash|zsh|fish]',
    short: 'Generate the autocompletion script for the specified shell',
    args: { min: 1, max: 1 },
    run: async (ctx, _f, args) => {
      const s = completionScript(args[0]!, ctx.prog, commands);
      if (!s) throw new CliError(`unsupported shell type "${args[0]}"`, 1);
      ctx.out(s);
      return 0;
    },
  },
];

export function rootHelp(prog: string): string {
  const line = (c: Command) => `  ${c.name.padEnd(11)} ${c.short}`;
  const common = commands.filter((c) => c.common);
  const mgmt = commands.filter((c) => c.sub).sort((a, b) => a.name.localeCompare(b.name));
  const rest = commands.filter((c) => !c.common && !c.sub).sort((a, b) => a.name.localeCompare(b.name));
  return `Usage:  ${prog} [OPTIONS] COMMAND

A docker-compatible command line for any Docker Engine API

Common Commands:
${common.map(line).join('\n')}

Management Commands:
${mgmt.map(line).join('\n')}

Commands:
${rest.map(line).join('\n')}

Global Options:
      --config string      Location of client config files (default "~/.docker")
  -D, --debug              Enable debug mode
  -H, --host list          Daemon socket to connect to
  -l, --log-level string   Set the logging level ("debug", "info", "warn", "error", "fatal") (default "info")
  -v, --version            Print version information and quit

Run '${prog} COMMAND --help' for more information on a command.
`;
}
