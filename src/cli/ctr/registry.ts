// berth-ctr login|logout, and the registry flags of images pull|push
// (./transfer.ts): argument handling over the registry client (src/image/registry).

import { readFileSync } from 'node:fs';
import { login, logout, DEFAULT_INSECURE, type RegistryOptions } from '../../image/storeless.js';
import { bool, need, parseArgs, str, usageError } from './args.js';
import type { Output } from './verbs.js';

function readStdin(): string {
  return readFileSync(0, 'utf8').replace(/\r?\n$/, '');
}

export const hostFlags = {
  'plain-http': { kind: 'bool' },
  'skip-verify': { kind: 'bool', alias: 'k' },
  'docker-config': { kind: 'string' },
} as const;

/**
 * Registry options from the host flags, as ctr reads them: --plain-http talks
 * plain HTTP to the registry straight away (no HTTPS attempt first: a local
 * registry's pull does not pay a TLS set-up); -k/--skip-verify is HTTPS
 * without certificate verification, for the named registry.
 */
export function registryOptions(p: ReturnType<typeof parseArgs>, host?: string): RegistryOptions {
  const server = host ?? p.args[0];
  return {
    dockerConfigDir: str(p.flags, 'docker-config'),
    ...(bool(p.flags, 'plain-http') ? { plainHttp: true } : {}),
    ...(bool(p.flags, 'skip-verify') && server ? { insecureRegistries: [...DEFAULT_INSECURE, server] } : {}),
  };
}

export async function loginCmd(ctx: { io: Output }, argv: string[]): Promise<number> {
  const p = parseArgs(argv, {
    username: { kind: 'string', alias: 'u' },
    password: { kind: 'string', alias: 'p' },
    'password-stdin': { kind: 'bool' },
    ...hostFlags,
  });
  need(p, 1, 'berth-ctr login [-u USER] [-p PASSWORD | --password-stdin] SERVER');
  const server = p.args[0]!;
  const user = str(p.flags, 'username');
  if (!user) throw usageError('login: --username is required');
  let password = str(p.flags, 'password');
  if (bool(p.flags, 'password-stdin')) {
    if (password !== undefined) throw usageError('--password and --password-stdin are mutually exclusive');
    password = readStdin();
  }
  if (!password) throw usageError('login: a password is required (--password or --password-stdin)');
  const r = await login(server, user, password, registryOptions(p));
  ctx.io.out(r.authenticated ? 'Login Succeeded\n' : `Login Succeeded (${r.registry} asks for no authentication)\n`);
  return 0;
}

export async function logoutCmd(ctx: { io: Output }, argv: string[]): Promise<number> {
  const p = parseArgs(argv, { 'docker-config': { kind: 'string' } });
  need(p, 1, 'berth-ctr logout SERVER');
  const removed = await logout(p.args[0]!, { dockerConfigDir: str(p.flags, 'docker-config') });
  ctx.io.out(removed ? `Removing login credentials for ${p.args[0]}\n` : `Not logged in to ${p.args[0]}\n`);
  return 0;
}

export function credentialsFlag(p: ReturnType<typeof parseArgs>): RegistryOptions['credentials'] | undefined {
  const user = str(p.flags, 'user');
  if (user === undefined) return undefined;
  const i = user.indexOf(':');
  if (i <= 0) throw usageError('--user must be USER:PASSWORD');
  const creds = { username: user.slice(0, i), password: user.slice(i + 1) };
  return async () => creds;
}

export function concurrencyFlag(p: ReturnType<typeof parseArgs>): number | undefined {
  const c = str(p.flags, 'concurrency');
  if (c === undefined) return undefined;
  const n = Number(c);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw usageError('--concurrency must be an integer from 1 to 64');
  return n;
}
