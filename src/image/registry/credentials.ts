// Registry credentials where Docker keeps them: $DOCKER_CONFIG/config.json
// (default ~/.docker/config.json). `auths` holds base64 "user:password" under
// `auth`; `credHelpers` names a helper per registry and `credsStore` a
// default helper, both run as `docker-credential-<name>` with the
// get/store/erase protocol (the server URL or a JSON document on stdin, JSON
// on stdout). Keys outside what we touch are preserved on write.

import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../../common/atomic.js';
import { BerthError, errnoOf, messageOf } from '../../common/errors.js';
import { authKeyOf, canonicalRegistry, DOCKER_HUB, DOCKER_HUB_AUTH_KEY } from './hosts.js';

export interface Credentials {
  username: string;
  password: string;
  /** An identity (refresh) token, when a helper returned Username "<token>". */
  identityToken?: string;
}

export type CredentialSource = (registryKey: string) => Promise<Credentials | undefined>;

interface DockerConfigFile {
  auths?: Record<
    string,
    { auth?: string; username?: string; password?: string; identitytoken?: string; [k: string]: unknown }
  >;
  credHelpers?: Record<string, string>;
  credsStore?: string;
  [k: string]: unknown;
}

export function dockerConfigDir(explicit?: string): string {
  return explicit ?? process.env.DOCKER_CONFIG ?? join(homedir(), '.docker');
}

function readConfig(dir: string): DockerConfigFile {
  const p = join(dir, 'config.json');
  let text: string;
  try {
    text = readFileSync(p, 'utf8');
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return {};
    throw new BerthError('image', 'internal', `read ${p}: ${messageOf(e)}`, { cause: e });
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
    return v as DockerConfigFile;
  } catch (e) {
    throw new BerthError('image', 'invalid-argument', `${p}: ${messageOf(e)}`, { cause: e });
  }
}

function writeConfig(dir: string, cfg: DockerConfigFile): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileAtomicSync(join(dir, 'config.json'), JSON.stringify(cfg, null, '\t') + '\n', 0o600);
}

/** The forms a registry may be written under in `auths` ("https://host/v1/", "host"). */
function keyVariants(key: string): string[] {
  if (key === DOCKER_HUB_AUTH_KEY)
    return [key, 'index.docker.io', 'docker.io', 'https://index.docker.io/v1', 'registry-1.docker.io'];
  return [key, `https://${key}`, `http://${key}`, `https://${key}/`, `https://${key}/v1/`, `https://${key}/v2/`];
}

function findAuthEntry(
  cfg: DockerConfigFile,
  key: string,
): [string, NonNullable<DockerConfigFile['auths']>[string]] | undefined {
  const auths = cfg.auths ?? {};
  for (const k of keyVariants(key)) {
    const v = auths[k];
    if (v) return [k, v];
  }
  return undefined;
}

function helperFor(cfg: DockerConfigFile, key: string): string | undefined {
  const ch = cfg.credHelpers ?? {};
  const bare = key === DOCKER_HUB_AUTH_KEY ? DOCKER_HUB : key;
  return ch[key] ?? ch[bare] ?? (key === DOCKER_HUB_AUTH_KEY ? ch['index.docker.io'] : undefined) ?? cfg.credsStore;
}

function runHelper(name: string, verb: 'get' | 'store' | 'erase', input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const bin = `docker-credential-${name}`;
    const child = spawn(bin, [verb], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) =>
      reject(new BerthError('image', 'unavailable', `credential helper ${bin}: ${messageOf(e)}`, { cause: e })),
    );
    child.on('close', (code) => {
      const stdout = Buffer.concat(out).toString('utf8');
      if (code === 0) resolve(stdout);
      else {
        const msg = stdout.trim() || Buffer.concat(err).toString('utf8').trim() || `exit status ${code}`;
        reject(
          Object.assign(new BerthError('image', 'internal', `credential helper ${bin} ${verb}: ${msg}`), {
            helperMessage: msg,
          }),
        );
      }
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

export interface CredentialStoreOptions {
  /** The directory holding config.json; default $DOCKER_CONFIG or ~/.docker. */
  configDir?: string;
}

/** Credentials for `registry` (a registry name, "docker.io", or a config key), or undefined. */
export async function getCredentials(
  registry: string,
  opts: CredentialStoreOptions = {},
): Promise<Credentials | undefined> {
  const key = registry.includes('://') ? registry : authKeyOf(registry);
  const cfg = readConfig(dockerConfigDir(opts.configDir));
  const helper = helperFor(cfg, key);
  if (helper) {
    let stdout: string;
    try {
      stdout = await runHelper(helper, 'get', key);
    } catch (e) {
      if (/credentials not found/i.test((e as { helperMessage?: string }).helperMessage ?? '')) return undefined;
      throw e;
    }
    let v: { Username?: unknown; Secret?: unknown };
    try {
      v = JSON.parse(stdout) as typeof v;
    } catch {
      throw new BerthError(
        'image',
        'internal',
        `credential helper docker-credential-${helper} get: output is not JSON`,
      );
    }
    if (typeof v.Username !== 'string' || typeof v.Secret !== 'string') return undefined;
    if (v.Username === '<token>') return { username: '', password: '', identityToken: v.Secret };
    return { username: v.Username, password: v.Secret };
  }
  const entry = findAuthEntry(cfg, key)?.[1];
  if (!entry) return undefined;
  if (typeof entry.auth === 'string' && entry.auth !== '') {
    const dec = Buffer.from(entry.auth, 'base64').toString('utf8');
    const i = dec.indexOf(':');
    if (i < 0) throw new BerthError('image', 'invalid-argument', `config.json: invalid auth for ${key}`);
    const c: Credentials = { username: dec.slice(0, i), password: dec.slice(i + 1) };
    if (typeof entry.identitytoken === 'string' && entry.identitytoken) c.identityToken = entry.identitytoken;
    return c;
  }
  if (typeof entry.username === 'string' && typeof entry.password === 'string') {
    return { username: entry.username, password: entry.password };
  }
  if (typeof entry.identitytoken === 'string' && entry.identitytoken) {
    return { username: '', password: '', identityToken: entry.identitytoken };
  }
  return undefined;
}

/** Save credentials for `registry`, through its helper when one is configured. */
export async function storeCredentials(
  registry: string,
  creds: Credentials,
  opts: CredentialStoreOptions = {},
): Promise<void> {
  const dir = dockerConfigDir(opts.configDir);
  const key = authKeyOf(canonicalRegistry(registry));
  const cfg = readConfig(dir);
  const helper = helperFor(cfg, key);
  if (helper) {
    await runHelper(
      helper,
      'store',
      JSON.stringify({ ServerURL: key, Username: creds.username, Secret: creds.password }),
    );
    // Docker leaves an empty entry so that `docker info` lists the registry.
    const existing = findAuthEntry(cfg, key);
    cfg.auths ??= {};
    if (existing) delete cfg.auths[existing[0]];
    cfg.auths[key] = {};
  } else {
    cfg.auths ??= {};
    const existing = findAuthEntry(cfg, key);
    if (existing) delete cfg.auths[existing[0]];
    cfg.auths[key] = { auth: Buffer.from(`${creds.username}:${creds.password}`, 'utf8').toString('base64') };
  }
  writeConfig(dir, cfg);
}

/** Forget credentials for `registry`; false when there were none. */
export async function eraseCredentials(registry: string, opts: CredentialStoreOptions = {}): Promise<boolean> {
  const dir = dockerConfigDir(opts.configDir);
  const key = authKeyOf(canonicalRegistry(registry));
  const cfg = readConfig(dir);
  const helper = helperFor(cfg, key);
  let found = false;
  if (helper) {
    try {
      await runHelper(helper, 'erase', key);
      found = true;
    } catch (e) {
      if (!/credentials not found/i.test((e as { helperMessage?: string }).helperMessage ?? '')) throw e;
    }
  }
  let entry = findAuthEntry(cfg, key);
  while (entry && cfg.auths) {
    delete cfg.auths[entry[0]];
    found = true;
    entry = findAuthEntry(cfg, key);
  }
  if (found) writeConfig(dir, cfg);
  return found;
}

/** A CredentialSource reading config.json (and helpers) at each call. */
export function dockerConfigCredentials(opts: CredentialStoreOptions = {}): CredentialSource {
  return (key) => getCredentials(key, opts);
}
