// What the docker-compose tests share: berth-engine, the registry and a
// berthd in a network namespace of the test's (./netfixture.ts), a compose
// project in a temporary directory (two services on an addressed bridge
// network, a named volume, a bind, environment and env_file, depends_on a
// healthy service, a port on 127.0.0.1), and Debian's docker-compose 1.29
// (Python, on docker-py) pointed at berthd. Packets go only to 127.0.0.1 of
// berthd's namespace and to the containers.

import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { which } from '../../helpers/daemons.js';
import { ENGINE_BIN, startEngine, type Engine } from '../engine/helpers.js';
import { NetFixture, netSkip } from './netfixture.js';

export const composeSkip: string | false =
  netSkip ||
  (!existsSync(ENGINE_BIN) ? 'bin/berth-engine is not built' : false) ||
  (!which('docker-compose') ? 'docker-compose is not installed (scripts/setup.sh installs it)' : false);

/** The project's bridge network: berthd's namespace only. */
export const SUBNET = '10.177.0';

/** The compose file: `web` (httpd, healthchecked, published on 127.0.0.1:18080) and `worker` after it. */
export function composeFile(img: string): string {
  return `version: "3.8"
services:
  web:
    image: ${img}
    init: true
    command: ["sh", "-c", "mkdir -p /www && echo web-$$HOSTNAME > /www/index.html && echo web started && exec httpd -f -p 80 -h /www"]
    ports:
      - "127.0.0.1:18080:80"
    networks:
      appnet:
        ipv4_address: ${SUBNET}.10
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1/"]
      interval: 1s
      timeout: 2s
      retries: 10
    volumes:
      - vol1:/data
      - ./data:/bind:ro
  worker:
    image: ${img}
    init: true
    stop_grace_period: 2s
    command: ["sh", "-c", "echo worker up $$FROM_FILE $$SHARED $$EXPLICIT; exec sleep 600"]
    environment:
      EXPLICIT: explicit-value
      SHARED: from-environment
    env_file: app.env
    depends_on:
      web:
        condition: service_healthy
    networks:
      - appnet
    volumes:
      - vol1:/shared
networks:
  appnet:
    driver: bridge
    ipam:
      config:
        - subnet: ${SUBNET}.0/24
          gateway: ${SUBNET}.1
volumes:
  vol1:
`;
}

export class ComposeFixture {
  readonly fx = new NetFixture();
  engine?: Engine;
  dir = '';
  /** The compose project's name: unique per run. */
  readonly project = `cmp${process.pid}`;

  async start(prefix: string): Promise<void> {
    this.engine = await startEngine(prefix);
    await this.fx.start(this.engine.sock, `${prefix}${process.pid}`);
    this.dir = mkdtempSync('/tmp/berth-compose-');
    mkdirSync(join(this.dir, 'data'));
    writeFileSync(join(this.dir, 'data/file.txt'), 'from-the-host\n');
    writeFileSync(join(this.dir, 'app.env'), '# a comment\nFROM_FILE=file-value\nSHARED=from-file\n');
    writeFileSync(join(this.dir, 'docker-compose.yml'), composeFile(this.fx.img));
  }

  /** docker-compose on the project, against berthd; `env` adds variables (COMPOSE_API_VERSION). */
  compose(args: string[], env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
    return spawnSync('docker-compose', ['--ansi', 'never', '-p', this.project, ...args], {
      cwd: this.dir,
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...this.fx.b.env, ...env },
    });
  }

  /** docker-compose that must succeed: its stdout (compose writes its progress to stderr). */
  ok(args: string[], env: NodeJS.ProcessEnv = {}): string {
    const r = this.compose(args, env);
    if (r.status !== 0)
      throw new Error(
        `docker-compose ${args.join(' ')} exited ${r.status}:\n${r.stdout}\n${r.stderr}\n--- berthd:\n${this.fx.b.logTail(15)}`,
      );
    return r.stdout;
  }

  /** The project's container names, sorted. */
  containers(all = true): string[] {
    return this.fx.b
      .ok([
        'ps',
        ...(all ? ['-a'] : []),
        '--filter',
        `label=com.docker.compose.project=${this.project}`,
        '--format',
        '{{.Names}}',
      ])
      .split('\n')
      .filter(Boolean)
      .sort();
  }

  async stop(): Promise<void> {
    if (this.dir && this.fx.b) this.compose(['down', '-v', '-t', '1']);
    await this.fx.stop();
    await this.engine?.stop();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}
