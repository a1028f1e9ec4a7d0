// berth-engine as a library: open the stores of a root, register every
// service, serve on a unix socket. The CLI (src/cli/engine) is flags around this.

import type { Logger } from '../common/log.js';
import { openEngine } from './context.js';
import { serve, type RunningServer } from './server.js';
import { services } from './services/index.js';

export { ENGINE_VERSION, ENGINE_REVISION } from './version.js';
export { enableIdleTrim } from './trim.js';

export interface StartOptions {
  root: string;
  state: string;
  address: string;
  log: Logger;
  snapshotters?: ('overlayfs' | 'native')[];
  gcDelayMs?: number;
  ingestTtlMs?: number;
}

export async function startEngine(opts: StartOptions): Promise<RunningServer> {
  const ctx = await openEngine(opts);
  try {
    return await serve(ctx, services, opts.address);
  } catch (e) {
    await ctx.close();
    throw e;
  }
}

export type { EngineContext, PluginInfo } from './context.js';
export type { EngineService } from './server.js';
