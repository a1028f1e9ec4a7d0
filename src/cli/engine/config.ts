// berth-engine's configuration: flags over an optional file over defaults.
// The file is TOML (containerd's own format and key names: root, state,
// [grpc] address, [debug] level/format) or JSON when it ends in .json; it is
// read by ./config-file.ts, loaded only when there is one.

import { BerthError } from '../../common/errors.js';
import type { Level } from '../../common/log.js';
import type { ConfigFile } from './config-file.js';

export const DEFAULTS = {
  root: '/var/lib/berth',
  state: '/run/berth',
  address: '/run/berth/engine.sock',
};

export interface EngineConfig {
  root: string;
  state: string;
  address: string;
  logLevel: Level;
  logFormat: 'text' | 'json';
  snapshotters: ('overlayfs' | 'native')[];
  gcDelayMs: number;
  ingestTtlMs: number;
}

export function normalLevel(l: string): Level {
  return l === 'warn' ? 'warning' : (l as Level);
}

export interface Flags {
  root?: string;
  state?: string;
  address?: string;
  logLevel?: string;
  logFormat?: string;
  config?: string;
}

const LEVELS = ['debug', 'info', 'warn', 'warning', 'error', 'fatal'];

export async function resolveConfig(flags: Flags): Promise<EngineConfig> {
  const file: ConfigFile = flags.config ? (await import('./config-file.js')).readConfigFile(flags.config) : {};
  const lvl = flags.logLevel ?? file.debug?.level ?? 'info';
  if (!LEVELS.includes(lvl)) {
    throw new BerthError(
      'berth-engine',
      'invalid-argument',
      `--log-level ${JSON.stringify(lvl)}: want debug, info, warn, error or fatal`,
      { field: '--log-level' },
    );
  }
  const fmt = flags.logFormat ?? file.debug?.format ?? 'json';
  if (fmt !== 'text' && fmt !== 'json') {
    throw new BerthError('berth-engine', 'invalid-argument', `--log-format ${JSON.stringify(fmt)}: want text or json`, {
      field: '--log-format',
    });
  }
  return {
    root: flags.root ?? file.root ?? DEFAULTS.root,
    state: flags.state ?? file.state ?? DEFAULTS.state,
    address: flags.address ?? file.grpc?.address ?? DEFAULTS.address,
    logLevel: normalLevel(lvl),
    logFormat: fmt,
    snapshotters: file.berth?.snapshotters ?? ['overlayfs', 'native'],
    gcDelayMs: file.berth?.gc_delay_ms ?? 100,
    ingestTtlMs: (file.berth?.ingest_ttl_s ?? 24 * 3600) * 1000,
  };
}
