// A container's log driver (HostConfig.LogConfig): json-file, local or none,
// with dockerd's options and berthd's defaults (rotation on for both file
// drivers), where the files go, and the `binary://` URI that makes the shim
// start berth-logger for the container. berth-logger (native/berth-logger.c)
// writes the log and serves attachers; berthd only reads what it wrote.

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { BerthError } from '../../common/errors.js';
import { nativeBinary } from '../../common/native.js';
import { badRequest } from '../http/errors.js';

export type DriverName = 'json-file' | 'local' | 'none';

export interface LogSettings {
  driver: DriverName;
  /** Bytes per file before rotation; 0 for never. */
  maxSize: number;
  /** Files kept, the current one included (dockerd's max-file). */
  maxFile: number;
  /** Rotated files gzip'ed (<path>.N.gz). */
  compress: boolean;
}

/**
 * dockerd's defaults for local (20m, 5 files, compressed); json-file gets
 * the same sizes uncompressed: dockerd's json-file never rotates unless told,
 * berthd rotates by default so that a chatty container cannot fill the disk.
 */
const DEFAULTS: Record<DriverName, LogSettings> = {
  'json-file': { driver: 'json-file', maxSize: 20 * 1024 ** 2, maxFile: 5, compress: false },
  local: { driver: 'local', maxSize: 20 * 1024 ** 2, maxFile: 5, compress: true },
  none: { driver: 'none', maxSize: 0, maxFile: 1, compress: false },
};

/** Options dockerd's drivers accept that change nothing in berthd's files (tags and labels for other sinks). */
const PASSIVE = ['labels', 'labels-regex', 'env', 'env-regex', 'tag', 'mode', 'max-buffer-size'];

/** "10m", "512k", "1g", "1024", "1.5m" as dockerd's units.RAMInBytes reads them. */
function bytesOf(v: string, driver: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)i?b?$/i.exec(v.trim());
  if (!m) throw badRequest(`invalid max-size "${v}" for log driver ${driver}`, 'LogConfig.Config');
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 }[m[2]!.toLowerCase()]!;
  return Math.floor(Number(m[1]) * unit);
}

/** LogConfig of a create request; throws dockerd's 400s for an unknown driver or option. */
export function logSettings(type: string | undefined, opts: Record<string, string> = {}): LogSettings {
  const driver = (type || 'json-file') as DriverName;
  if (!(driver in DEFAULTS)) throw badRequest(`logger: no log driver named '${type}' is registered`, 'LogConfig.Type');
  const s = { ...DEFAULTS[driver] };
  for (const [k, v] of Object.entries(opts)) {
    if (driver === 'none') throw badRequest(`unknown log opt '${k}' for log driver none`, 'LogConfig.Config');
    if (k === 'max-size') {
      s.maxSize = v === '-1' ? 0 : bytesOf(v, driver);
    } else if (k === 'max-file') {
      if (!/^\d+$/.test(v) || Number(v) < 1) throw badRequest(`max-file cannot be less than 1`, 'LogConfig.Config');
      s.maxFile = Number(v);
    } else if (k === 'compress') {
      if (!['true', 'false', '1', '0'].includes(v))
        throw badRequest(`error parsing compress log opt: invalid syntax "${v}"`, 'LogConfig.Config');
      s.compress = v === 'true' || v === '1';
    } else if (!PASSIVE.includes(k)) {
      throw badRequest(
        driver === 'json-file'
          ? `unknown log opt '${k}' for json-file log driver`
          : `unknown log opt '${k}' for log driver ${driver}`,
        'LogConfig.Config',
      );
    }
  }
  if (driver === 'json-file' && opts['max-file'] && !opts['max-size'] && s.maxSize === 0)
    throw badRequest('max-file can only be set if max-size is set', 'LogConfig.Config');
  if (s.maxSize === 0) s.maxFile = 1;
  return s;
}

/**
 * A create request's LogConfig with the daemon's defaults, as dockerd merges
 * them: no type means the daemon's driver, and the daemon's options fill in
 * what a container of that same driver does not set.
 */
export function withDaemonDefaults(
  lc: { Type?: string; Config?: Record<string, string> | null } | null | undefined,
  daemon: { logDriver: string; logOpts: Record<string, string> },
): { Type: string; Config: Record<string, string> } {
  const type = lc?.Type || daemon.logDriver;
  const own = lc?.Config ?? {};
  return { Type: type, Config: type === daemon.logDriver ? { ...daemon.logOpts, ...own } : own };
}

/** Where dockerd keeps the driver's file: <id>-json.log, local-logs/container.log; none has none (""). */
export function logPathFor(dir: string, id: string, driver: DriverName): string {
  if (driver === 'json-file') return join(dir, `${id}-json.log`);
  if (driver === 'local') return join(dir, 'local-logs', 'container.log');
  return '';
}

export function loggerBinary(): string {
  return nativeBinary('berth-logger', 'BERTH_LOGGER', 'berthd');
}

function loggerArgs(s: LogSettings, logPath: string, attachSocket: string): Record<string, string> {
  return {
    driver: s.driver,
    ...(s.driver === 'none' ? {} : { path: logPath }),
    'max-size': String(s.maxSize),
    'max-file': String(s.maxFile),
    compress: String(s.compress),
    attach: attachSocket,
  };
}

/** The stdout URI of a container's init process: the shim starts berth-logger with these arguments. */
export function loggerURI(s: LogSettings, logPath: string, attachSocket: string): string {
  const q = new URLSearchParams(loggerArgs(s, logPath, attachSocket));
  return `binary://${encodeURI(loggerBinary())}?${q.toString()}`;
}

/**
 * berth-logger reading the task's stdout/stderr FIFOs, for `-i` without a
 * tty: containerd's shim connects no stdin to a process whose stdout is a
 * `binary://` URI, so such a task gets FIFOs, and a logger of its own that
 * berthd starts in a session of its own (it outlives berthd, as the shim's
 * would). Resolves once the logger reads the FIFOs (its fd 5 closed).
 */
export async function startFifoLogger(
  s: LogSettings,
  logPath: string,
  attachSocket: string,
  fifos: { stdout: string; stderr?: string },
  env: { id: string; ns: string },
): Promise<void> {
  const args = loggerArgs(s, logPath, attachSocket);
  args['stdout-fifo'] = fifos.stdout;
  if (fifos.stderr) args['stderr-fifo'] = fifos.stderr;
  const child = spawn(loggerBinary(), Object.entries(args).flat(), {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe', 'ignore', 'ignore', 'pipe'],
    env: { CONTAINER_ID: env.id, CONTAINER_NAMESPACE: env.ns },
  });
  const ready = (child.stdio as unknown as Readable[])[5]!;
  let words = '';
  child.stdio[2]!.on('data', (d: Buffer) => (words += d.toString()));
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) =>
      reject(new BerthError('berthd', 'internal', `berth-logger exited with status ${code}: ${words.trim()}`)),
    );
    ready.once('close', () => resolve());
    ready.resume();
  });
  child.removeAllListeners('exit');
  child.stdio[2]!.destroy();
  child.unref();
}
