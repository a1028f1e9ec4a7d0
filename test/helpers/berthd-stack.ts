// What a berthd test file stands on: a fresh containerd or berth-engine, a
// local registry seeded with busybox, and one berthd on that backend; and
// the reasons such a file is skipped on this machine. One stack per file,
// stopped by the file's after() (and by startBerthdStack itself when it
// fails half-way, so nothing is left running); withBerthdStack() sets up
// both hooks for a file whose tests are written elsewhere.

import { after, before } from 'node:test';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync } from 'node:fs';
import { ENGINE_BIN, startEngine } from '../integration/engine/helpers.js';
import { DOCKER_28, startBerthd, type Berthd, type BerthdOptions } from './berthd.js';
import { startContainerd, which } from './daemons.js';
import { registryMissing, startRegistry, type RegistryInstance } from './registry.js';
import { seedImage } from './seed-registry.js';

/** The containerd-API daemon berthd talks to: a real containerd, or Berth's engine. */
export type Backend = 'containerd' | 'engine';

/** Why berthd's tests on `backend` cannot run here, or false: root, a registry, the docker CLI, skopeo, the backend. */
export function berthdSkip(backend: Backend): string | false {
  if (process.getuid?.() !== 0) return 'needs root';
  if (registryMissing) return registryMissing;
  if (backend === 'containerd' && !which('containerd')) return 'containerd is not installed';
  if (backend === 'engine' && !existsSync(ENGINE_BIN)) return 'bin/berth-engine is not built';
  if (!existsSync(DOCKER_28)) return `no docker CLI at ${DOCKER_28}`;
  if (!which('skopeo')) return 'skopeo is not installed';
  return false;
}

export interface BerthdStack {
  b: Berthd;
  reg: RegistryInstance;
  /** The backend's socket. */
  sock: string;
  /** berth-engine's state directory (its shims live there); undefined on containerd. */
  engineState?: string;
  /** berth/busybox:latest in the registry, always seeded. */
  img: string;
  /** `ctr` on the backend in berthd's namespace. */
  ctr(args: string[]): SpawnSyncReturns<string>;
  /** berthd, the registry and the backend stopped, in that order. */
  stop(): Promise<void>;
}

export interface StackOptions {
  /** The backend's temporary directory's prefix (unique per test file). */
  prefix: string;
  /** More images pushed to the registry before berthd starts. */
  seed?: (registryHost: string) => void;
  /** Images berthd pulls (quietly) once started. */
  pull?: (registryHost: string) => string[];
  berthd?: BerthdOptions;
}

export async function startBerthdStack(backend: Backend, opts: StackOptions): Promise<BerthdStack> {
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.splice(0).reverse()) await s();
  };
  try {
    const engine = backend === 'engine' ? await startEngine(opts.prefix) : undefined;
    const daemon = engine ?? (await startContainerd({ prefix: opts.prefix }));
    stops.push(() => daemon.stop());
    const reg = await startRegistry();
    stops.push(() => reg.stop());
    seedImage(reg.host, 'berth/busybox:latest');
    opts.seed?.(reg.host);
    const b = await startBerthd(daemon.sock, opts.berthd);
    stops.push(() => b.stop());
    for (const ref of opts.pull?.(reg.host) ?? []) b.ok(['pull', '-q', ref]);
    const ctr = (args: string[]) =>
      spawnSync('ctr', ['-a', daemon.sock, '-n', b.namespace, ...args], { encoding: 'utf8', timeout: 60_000 });
    return {
      b,
      reg,
      sock: daemon.sock,
      engineState: engine?.state,
      img: `${reg.host}/berth/busybox:latest`,
      ctr,
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/**
 * A test file's stack on `backend`: started in before() unless this machine
 * cannot run it (berthdSkip), stopped in after(). `cases` registers the
 * file's tests, which read the stack through `get` when they run.
 */
export function withBerthdStack(
  backend: Backend,
  opts: StackOptions,
  cases: (get: () => BerthdStack, skip: string | false) => void,
): void {
  const skip = berthdSkip(backend);
  let s: BerthdStack | undefined;
  before(async () => {
    if (!skip) s = await startBerthdStack(backend, opts);
  });
  after(() => s?.stop());
  cases(() => s!, skip);
}
