// berthd: the Docker Engine API on containerd's API. Flags and
// /etc/berth/daemon.json (src/daemon/config.ts), JSON-lines logs on stderr,
// a clean stop on SIGTERM/SIGINT (containers keep running: live-restore).

import { Logger } from '../../common/log.js';
import { messageOf } from '../../common/errors.js';
import { BERTHD_VERSION, parseArgs, startDaemon, USAGE } from '../../daemon/index.js';

async function main(): Promise<number> {
  // libuv's thread pool runs every asynchronous fs call, and an fsync on a loaded disk holds one
  // of its threads for milliseconds: 20 creates at once (each a record written with fsyncs, host
  // files, a log directory) queued behind the default 4 threads (bench/README.md, daemon.ts).
  // Read when the pool starts, at its first use, which is after this line; a value given is kept.
  process.env.UV_THREADPOOL_SIZE ??= '16';
  let parsed;
  try {
    parsed = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`berthd: ${messageOf(e)}\n`);
    return 2;
  }
  if (parsed.action === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (parsed.action !== 'run') {
    process.stdout.write(`berthd version ${BERTHD_VERSION}\n`);
    return 0;
  }
  const cfg = parsed.config;
  const log = new Logger({ format: 'json', level: cfg.logLevel });
  let daemon;
  try {
    daemon = await startDaemon(cfg, log);
  } catch (e) {
    log.error('berthd failed to start', { error: messageOf(e) });
    return 1;
  }
  // One failed background task must never take every container's API down with it.
  process.on('unhandledRejection', (e) => log.error('unhandled rejection', { error: messageOf(e) }));
  log.info('berthd started', { pid: process.pid, containerd: cfg.containerd, dataRoot: cfg.dataRoot });
  await new Promise<void>((res) => {
    const stop = (sig: string) => {
      log.info('signal received, stopping', { signal: sig });
      res();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  await daemon.close();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`berthd: ${messageOf(e)}\n`);
    process.exit(1);
  },
);
