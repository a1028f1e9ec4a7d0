// The command table: every command, its usage line, flags, argument count
// and handler. Help texts, argument errors, completion scripts and dispatch
// are all derived from this one table, as cobra does for docker.

import type { FlagSpec, Flags } from './flags.js';
import type { Client } from './client.js';

export interface Ctx {
  client: Client;
  /** The program name as typed (berth). */
  prog: string;
  /** The docker config directory (DOCKER_CONFIG or ~/.docker). */
  configDir: string;
  out: (s: string) => void;
  err: (s: string) => void;
}

export interface ArgRule {
  min?: number;
  max?: number;
}

export interface Command {
  name: string;
  aliases?: string[];
  /** After the command path: "[OPTIONS] IMAGE [COMMAND] [ARG...]". */
  use: string;
  short: string;
  /** The help's description when longer than `short`. */
  long?: string;
  flags?: FlagSpec[];
  args?: ArgRule;
  /** False: the first positional argument ends the flags (run, exec). */
  interspersed?: boolean;
  /** In the root help's "Common Commands". */
  common?: boolean;
  run?: (ctx: Ctx, flags: Flags, args: string[], path: string) => Promise<number | void>;
  sub?: Command[];
  /** Management forms of this command (docker ps = docker container ls...). */
  aliasPaths?: string[];
}

export const formatFlag = (
  usage = "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates",
): FlagSpec => ({
  name: 'format',
  type: 'string',
  usage,
});

export const inspectFormatFlag: FlagSpec = {
  name: 'format',
  short: 'f',
  type: 'string',
  usage:
    "Format output using a custom template:\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template.\nRefer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates",
};

export const filterFlag = (usage = 'Filter output based on conditions provided'): FlagSpec => ({
  name: 'filter',
  short: 'f',
  type: 'list',
  typeName: 'filter',
  usage,
});
