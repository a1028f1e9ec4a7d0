// berth-engine: the containerd-role daemon. Runs in the foreground (as a
// systemd service would run it), serves containerd's gRPC API on a unix
// socket, logs JSON lines to stderr, and stops cleanly on SIGTERM/SIGINT:
// no new calls, in-flight ones finished, the database closed.

import { parseArgs } from 'node:util';
import { isBerthError, messageOf } from '../../common/errors.js';
import { Logger } from '../../common/log.js';
import { enableIdleTrim, startEngine } from '../../engine/index.js';
import { ENGINE_VERSION, ENGINE_REVISION } from '../../engine/index.js';
import { DEFAULTS, resolveConfig } from './config.js';

const USAGE = `berth-engine: containerd's API over Berth's stores

USAGE:
   berth-engine [OPTIONS]

OPTIONS:
   --root DIR           persistent state (default ${DEFAULTS.root}; the engine's store is DIR/engine)
   --state DIR          runtime state (default ${DEFAULTS.state})
   --address PATH       gRPC unix socket, mode 0660 (default ${DEFAULTS.address})
   --config FILE        TOML (containerd's keys: root, state, [grpc] address, [debug] level, format) or .json
   --log-level LEVEL    debug, info, warn, error (default info)
   --log-format FORMAT  json (default) or text
   --version, -v        print the version
   --help, -h
`;

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        root: { type: 'string' },
        state: { type: 'string' },
        address: { type: 'string', short: 'a' },
        config: { type: 'string', short: 'c' },
        'log-level': { type: 'string', short: 'l' },
        'log-format': { type: 'string' },
        version: { type: 'boolean', short: 'v' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    process.stderr.write(`berth-engine: ${messageOf(e)}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`berth-engine ${ENGINE_VERSION} ${ENGINE_REVISION}\n`);
    return 0;
  }
  const cfg = await resolveConfig({
    root: values.root,
    state: values.state,
    address: values.address,
    config: values.config,
    logLevel: values['log-level'],
    logFormat: values['log-format'],
  });
  const log = new Logger({ format: cfg.logFormat, level: cfg.logLevel });
  const engine = await startEngine({ ...cfg, log });
  enableIdleTrim();
  log.info('berth-engine started', {
    version: ENGINE_VERSION,
    pid: process.pid,
    startupMs: Math.round(process.uptime() * 1000),
    root: cfg.root,
    state: cfg.state,
    address: cfg.address,
  });
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (sig: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      log.info('stopping', { signal: sig });
      engine.stop().then(resolve, (e: unknown) => {
        log.error('stop failed', { error: messageOf(e) });
        resolve();
      });
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`berth-engine: ${isBerthError(e) ? e.message : messageOf(e)}\n`);
    process.exitCode = 1;
  },
);
