// Registry credentials from the docker config file (DOCKER_CONFIG or
// ~/.docker/config.json), for X-Registry-Auth. Credential helpers
// (credsStore / credHelpers) are not run yet: only "auths" entries.

import { existsSync, mkdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';

interface ConfigFile {
  auths?: Record<string, { auth?: string; identitytoken?: string }>;
  [k: string]: unknown;
}

export const INDEX_SERVER = 'https://index.docker.io/v1/';

export function readConfig(dir: string): ConfigFile {
  const p = join(dir, 'config.json');
  if (!existsSync(p)) return {};
  try {
    return JSON.parse(readFileSync(p, 'utf8')) as ConfigFile;
  } catch {
    return {};
  }
}

export function writeConfig(dir: string, cfg: ConfigFile): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const p = join(dir, 'config.json');
  writeFileSync(p + '.tmp', JSON.stringify(cfg, null, '\t') + '\n', { mode: 0o600 });
  renameSync(p + '.tmp', p);
}

/** The registry host of an image reference ("docker.io" for Hub names). */
export function registryOf(ref: string): string {
  const first = ref.split('/')[0]!;
  if (ref.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost')) return first;
  return 'docker.io';
}

/** The key under "auths" for a registry: Hub's is its v1 index URL. */
export function authKey(registry: string): string {
  return registry === 'docker.io' || registry === 'index.docker.io' ? INDEX_SERVER : registry;
}

/** base64url(JSON) of the stored credentials for `registry`, or undefined. */
export function registryAuthHeader(dir: string, registry: string): string | undefined {
  const cfg = readConfig(dir);
  const key = authKey(registry);
  const entry = cfg.auths?.[key] ?? cfg.auths?.[`https://${key}`] ?? cfg.auths?.[`http://${key}`];
  if (!entry?.auth && !entry?.identitytoken) return undefined;
  const [username, ...rest] = Buffer.from(entry.auth ?? '', 'base64')
    .toString()
    .split(':');
  const body = { username, password: rest.join(':'), serveraddress: key, identitytoken: entry.identitytoken };
  // Go's base64.URLEncoding: the URL alphabet with '=' padding (Node's base64url drops it).
  return Buffer.from(JSON.stringify(body)).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}
