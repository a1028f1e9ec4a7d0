// berth-engine for the tests: started once per test file on a temp root,
// state dir and socket, driven with the real `ctr --address SOCK`; and an
// image built on the spot, pushed to the local registry with skopeo.

import {
  spawn,
  spawnSync,
  type ChildProcess,
  type ChildProcessByStdio,
  type SpawnSyncReturns,
} from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import {
  buildImage,
  oneFileTar,
  registryMissing,
  skopeo,
  startRegistry,
  type BuiltImage,
  type RegistryInstance,
} from '../../helpers/registry.js';
import { pidsWithArg, terminate, unmountUnder, waitUntil, which } from '../../helpers/daemons.js';

export const REPO = resolve(import.meta.dirname, '../../..');
export const ENGINE_BIN = join(REPO, 'bin/berth-engine');

/** Why a test file of an engine, the local registry, ctr and skopeo cannot run here, or false. */
export const pullSkip: string | false =
  registryMissing ||
  (!which('ctr') && 'ctr is not installed (apt-get install containerd)') ||
  (!which('skopeo') && 'skopeo is not installed') ||
  (process.getuid?.() !== 0 && 'needs root');

export interface PullFixture {
  reg: RegistryInstance;
  eng: Engine;
  img: BuiltImage;
  /** The image's reference in `reg`. */
  ref: string;
  /** Stops the engine, then the registry. */
  stop(): Promise<void>;
}

/** A registry holding `img` as `repo`, and an engine to pull it: one per test file. */
export async function pullFixture(
  prefix: string,
  img: BuiltImage,
  repo: string,
  engineArgs: string[] = [],
): Promise<PullFixture> {
  const reg = await startRegistry();
  let eng: Engine | undefined;
  const stop = async () => {
    await eng?.stop();
    await reg.stop();
  };
  try {
    eng = await startEngine(prefix, engineArgs);
    const ref = pushImage(reg, img, repo);
    return { reg, eng, img, ref, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

export interface Engine {
  dir: string;
  root: string;
  state: string;
  sock: string;
  logFile: string;
  proc: ChildProcess;
  /** `ctr -a SOCK -n NS args...` */
  ctr(args: string[], opts?: { ns?: string; timeout?: number; input?: string | Buffer }): SpawnSyncReturns<string>;
  log(): string;
  /** Starts the engine again on the same root (after a kill). */
  restart(): Promise<void>;
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

export async function startEngine(prefix = 'berth-eng-', extraArgs: string[] = []): Promise<Engine> {
  const dir = mkdtempSync(join('/tmp', prefix));
  const root = join(dir, 'root');
  const state = join(dir, 'state');
  const sock = join(state, 'engine.sock');
  const logFile = join(dir, 'engine.log');
  let proc!: ChildProcess;
  const launch = async () => {
    const fd = openSync(logFile, 'a');
    proc = spawn(
      ENGINE_BIN,
      ['--root', root, '--state', state, '--address', sock, '--log-level', 'debug', ...extraArgs],
      {
        stdio: ['ignore', fd, fd],
      },
    );
    closeSync(fd);
    await waitUntil('berth-engine to serve', () => {
      if (proc.exitCode !== null)
        throw new Error(`berth-engine exited with ${proc.exitCode}:\n${readFileSync(logFile, 'utf8').slice(-3000)}`);
      return existsSync(sock) && spawnSync('ctr', ['-a', sock, 'version'], { timeout: 5000 }).status === 0;
    });
  };
  const engine: Engine = {
    dir,
    root,
    state,
    sock,
    logFile,
    get proc() {
      return proc;
    },
    ctr: (args, o = {}) =>
      spawnSync('ctr', ['-a', sock, '-n', o.ns ?? 'default', ...args], {
        encoding: 'utf8',
        timeout: o.timeout ?? 60000,
        input: o.input,
      }),
    log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
    restart: launch,
    kill9: async () => {
      if (proc.exitCode === null && proc.pid) {
        proc.kill('SIGKILL');
        await new Promise((r) => proc.once('exit', r));
      }
    },
    stop: async () => {
      if (proc.pid && proc.exitCode === null) await terminate(proc.pid);
      // Anything still running from our directory: a spare shim of an engine
      // that was SIGKILLed mid-start, or one `terminate` had to SIGKILL.
      for (const pid of pidsWithArg(dir)) await terminate(pid, 2000);
      unmountUnder(dir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await launch();
  } catch (e) {
    await engine.stop();
    throw e;
  }
  return engine;
}

/** Writes `img` as an OCI layout and pushes it to `reg` as `repo:tag` with skopeo. Returns the reference. */
export function pushImage(reg: RegistryInstance, img: BuiltImage, repo: string, tag = 'latest'): string {
  const dir = mkdtempSync(join('/tmp', 'berth-eng-layout-'));
  try {
    mkdirSync(join(dir, 'blobs/sha256'), { recursive: true });
    const put = (digest: string, bytes: Buffer) => writeFileSync(join(dir, 'blobs/sha256', digest.slice(7)), bytes);
    for (const l of img.layers) put(l.digest, l.bytes);
    put(img.config.digest, img.configBytes);
    put(img.manifest.digest, img.manifestBytes);
    writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    writeFileSync(
      join(dir, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [{ ...img.manifest, annotations: { 'org.opencontainers.image.ref.name': tag } }],
      }),
    );
    const ref = `${reg.host}/${repo}:${tag}`;
    skopeo(['copy', '--dest-tls-verify=false', `oci:${dir}:${tag}`, `docker://${ref}`]);
    return ref;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** busybox plus small layers with whiteouts and opaque dirs, so unpacking is worth comparing. */
export function layeredImage(extra = 0): BuiltImage {
  const layers = [
    oneFileTar('hello.txt', Buffer.from('hello from layer 2\n')),
    whiteoutTar(),
    ...Array.from({ length: extra }, (_, i) => oneFileTar(`extra-${i}.bin`, Buffer.alloc(1000 + i * 777, i + 1))),
  ];
  return buildImage({ extraLayers: layers });
}

/** A layer that deletes /hello.txt (whiteout), makes /etc/opaque opaque, and adds a symlink and a hard link. */
function whiteoutTar(): Buffer {
  const d = mkdtempSync(join('/tmp', 'berth-eng-wh-'));
  try {
    writeFileSync(join(d, '.wh.hello.txt'), '');
    mkdirSync(join(d, 'etc/opaque'), { recursive: true });
    writeFileSync(join(d, 'etc/opaque/.wh..wh..opq'), '');
    writeFileSync(join(d, 'etc/opaque/kept'), 'kept\n');
    writeFileSync(join(d, 'data.txt'), 'data\n');
    spawnSync('ln', [join(d, 'data.txt'), join(d, 'data-link.txt')]);
    spawnSync('ln', ['-s', 'data.txt', join(d, 'data-sym')]);
    return spawnSync('tar', ['-C', d, '--numeric-owner', '--mtime=@0', '-cf', '-', '.'], { maxBuffer: 1 << 26 }).stdout;
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
}

/** A tar of one file of `size` random bytes (too big for oneFileTar's output buffer). */
export function randomFileTar(name: string, size: number): Buffer {
  const d = mkdtempSync(join('/tmp', 'berth-eng-big-'));
  try {
    writeFileSync(join(d, name), randomBytes(size));
    return spawnSync('tar', ['-C', d, '--numeric-owner', '--mtime=@0', '-cf', '-', name], {
      maxBuffer: size + (1 << 20),
    }).stdout;
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
}

/**
 * `ctr content ingest` of a blob of `digest` and `size` under `ref`, its
 * bytes to be written to the child's stdin by the test (a client that can
 * be cut off mid-stream), its stderr piped.
 */
export function spawnIngest(
  sock: string,
  blob: { digest: string; size: number },
  ref: string,
): ChildProcessByStdio<Writable, null, Readable> {
  const args = [
    '-a',
    sock,
    'content',
    'ingest',
    '--expected-digest',
    blob.digest,
    '--expected-size',
    String(blob.size),
  ];
  return spawn('ctr', [...args, ref], { stdio: ['pipe', 'ignore', 'pipe'] });
}
