// login and logout: credentials checked by the daemon (/auth), then kept in
// the docker config file under "auths", as docker does without a helper.

import type { Command, Ctx } from '../command.js';
import type { Flags } from '../flags.js';
import { CliError } from '../errors.js';
import { authKey, INDEX_SERVER, readConfig, writeConfig } from '../auth.js';
import { readAll } from '../client.js';
import { readLine, readSecret } from '../prompt.js';

async function login(ctx: Ctx, f: Flags, args: string[]): Promise<number> {
  const server = args[0] ?? INDEX_SERVER;
  let username = f.string('username');
  let password = f.string('password');
  if (f.bool('password-stdin')) {
    if (f.has('password')) throw new CliError('--password and --password-stdin are mutually exclusive', 1);
    if (!username) throw new CliError('the --password-stdin option requires --username to be set', 1);
    password = (await readAll(process.stdin)).toString().replace(/\r?\n$/, '');
  }
  if (!username || !password) {
    if (!process.stdin.isTTY) throw new CliError('Error: Cannot perform an interactive login from a non TTY device', 1);
    // docker's prompts: the username echoed, the password not.
    if (!username) {
      ctx.out('Username: ');
      username = (await readLine()).trim();
      if (!username) throw new CliError('Error: Non-null Username Required', 1);
    }
    if (!password) {
      password = await readSecret('Password: ');
      ctx.out('\n');
      if (!password) throw new CliError('Error: Password Required', 1);
    }
  }
  const key =
    authKey(server.replace(/^https?:\/\//, '').replace(/\/.*$/, '')) === INDEX_SERVER
      ? INDEX_SERVER
      : server.replace(/^https?:\/\//, '').replace(/\/$/, '');
  if (f.has('password')) ctx.err('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
  const r = await ctx.client.json<{ Status: string; IdentityToken?: string }>('POST', '/auth', {
    json: { username, password, serveraddress: key },
  });
  const cfg = readConfig(ctx.configDir);
  cfg.auths = {
    ...(cfg.auths ?? {}),
    [key]: {
      auth: Buffer.from(`${username}:${password}`).toString('base64'),
      ...(r.IdentityToken ? { identitytoken: r.IdentityToken } : {}),
    },
  };
  writeConfig(ctx.configDir, cfg);
  ctx.out(`${r.Status || 'Login Succeeded'}\n`);
  return 0;
}

async function logout(ctx: Ctx, _f: Flags, args: string[]): Promise<number> {
  const server = args[0] ?? INDEX_SERVER;
  const key = server === INDEX_SERVER ? server : server.replace(/^https?:\/\//, '').replace(/\/$/, '');
  const cfg = readConfig(ctx.configDir);
  // docker 28 says so whether or not there were credentials.
  ctx.out(`Removing login credentials for ${key}\n`);
  if (cfg.auths?.[key]) {
    delete cfg.auths[key];
    writeConfig(ctx.configDir, cfg);
  }
  return 0;
}

export const loginCmds: Command[] = [
  {
    name: 'login',
    use: '[OPTIONS] [SERVER]',
    short: 'Authenticate to a registry',
    long: 'Authenticate to a registry.\nDefaults to Docker Hub if no server is specified.',
    common: true,
    flags: [
      { name: 'password', short: 'p', type: 'string', usage: 'Password or Personal Access Token (PAT)' },
      { name: 'password-stdin', type: 'bool', usage: 'Take the Password or Personal Access Token (PAT) from stdin' },
      { name: 'username', short: 'u', type: 'string', usage: 'Username' },
    ],
    args: { min: 0, max: 1 },
    run: login,
  },
  {
    name: 'logout',
    use: '[SERVER]',
    short: 'Log out from a registry',
    long: 'Log out from a registry.\nIf no server is specified, the default is defined by the daemon.',
    common: true,
    args: { min: 0, max: 1 },
    run: logout,
  },
];
