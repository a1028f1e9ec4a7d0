import type { Logger } from '../../common/log.js';
import type { Runtime } from '../../runtime/index.js';
import type { FlagSpec, Parsed } from './args.js';

export interface Context {
  runtime: () => Runtime;
  log: Logger;
  root: string;
  out: (s: string) => void;
}

/** A verb: its flags, and one call into the runtime library. */
export interface Command {
  name: string;
  summary: string;
  usage: string;
  flags: Record<string, FlagSpec>;
  run(ctx: Context, args: Parsed): Promise<number> | number;
}
