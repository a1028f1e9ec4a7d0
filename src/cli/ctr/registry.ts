// berth-ctr login|logout, images pull|push: argument handling over the
// registry client (src/image/registry).

import { readFileSync } from 'node:fs';
import { login, logout, DEFAULT_INSECURE, type RegistryOptions } from '../../image/registry/index.js';
import { BerthError } from '../../common/errors.js';
import { bool, need, parseArgs, str, usageError } from './args.js';
import type { Context } from './context.js';

function readStdin(): string {
  return readFileSync(0, 'utf8').replace(/\r?\n$/, '');
}

const hostFlags = {
  'plain-http': { kind: 'bool' },
  'skip-verify': { kind: 'bool', alias: 'k' },
  'docker-config': { kind: 'string' },
} as const;

/** Registry options from the host flags: --plain-http (or -k) allows plain HTTP / unverified TLS for the named registry. */
export function registryOptions(p: ReturnType<typeof parseArgs>, host?: string): RegistryOptions {
  const insecure = bool(p, 'plain-http') || bool(p, 'skip-verify');
  const server = host ?? p.args[0];
  return {
    dockerConfigDir: str(p, 'docker-config'),
    ...(insecure && server ? { insecureRegistries: [...DEFAULT_INSECURE, server] } : {}),
  };
}

export async function loginCmd(ctx: Context, argv: string[]): Promise<number> {
  const p = parseArgs(argv, {
    username: { kind: 'string', alias: 'u' },
    password: { kind: 'string', alias: 'p' },
    'password-stdin': { kind: 'bool' },
    ...hostFlags,
  });
  need(p, 1, 'berth-ctr login [-u USER] [-p PASSWORD | --password-stdin] SERVER');
  const server = p.args[0]!;
  const user = str(p, 'username');
  if (!user) throw usageError('login: --username is required');
  let password = str(p, 'password');
  if (bool(p, 'password-stdin')) {
    if (password !== undefined) throw usageError('--password and --password-stdin are mutually exclusive');
    password = readStdin();
  }
  if (!password) throw usageError('login: a password is required (--password or --password-stdin)');
  const r = await login(server, user, password, registryOptions(p));
  ctx.io.out(r.authenticated ? 'Login Succeeded\n' : `Login Succeeded (${r.registry} asks for no authentication)\n`);
  return 0;
}

export async function logoutCmd(ctx: Context, argv: string[]): Promise<number> {
  const p = parseArgs(argv, { 'docker-config': { kind: 'string' } });
  need(p, 1, 'berth-ctr logout SERVER');
  const removed = await logout(p.args[0]!, { dockerConfigDir: str(p, 'docker-config') });
  ctx.io.out(removed ? `Removing login credentials for ${p.args[0]}\n` : `Not logged in to ${p.args[0]}\n`);
  return 0;
}

export async function pullCmd(_ctx: Context, _argv: string[]): Promise<number> {
  throw new BerthError('berth-ctr', 'unavailable', 'images pull: the registry pull is not built into this berth-ctr yet');
}

export async function pushCmd(_ctx: Context, _argv: string[]): Promise<number> {
  throw new BerthError('berth-ctr', 'unavailable', 'images push: the registry push is not built into this berth-ctr yet');
}
