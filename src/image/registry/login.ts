// `login` checks the credentials against the registry before saving them
// (as `docker login` does: the /v2/ ping, then a token request without scope
// or a Basic-authenticated /v2/), `logout` forgets them.

import { BerthError } from '../../common/errors.js';
import { RegistryClient, type RegistryOptions } from './client.js';
import { eraseCredentials, storeCredentials, type Credentials } from './credentials.js';
import { canonicalRegistry } from './hosts.js';
import { discard } from './transport.js';
import { responseError } from './errors.js';

export interface LoginResult {
  registry: string;
  /** False when the registry asks for no authentication at all. */
  authenticated: boolean;
}

/** Verify `user`/`password` against `registry` and save them in config.json (or its helper). */
export async function login(
  registry: string,
  user: string,
  password: string,
  opts: RegistryOptions = {},
): Promise<LoginResult> {
  if (!user) throw new BerthError('image', 'invalid-argument', 'login: a username is required', { field: 'username' });
  if (!password)
    throw new BerthError('image', 'invalid-argument', 'login: a password is required', { field: 'password' });
  const creds: Credentials = { username: user, password };
  const client = new RegistryClient(registry, { ...opts, credentials: async () => creds, mirrors: [] });
  const authenticated = await client.withEndpoint(true, async (ep) => {
    if (!client.auth.hasChallenge(ep.base.origin)) return false;
    const res = await client.request(ep, { method: 'GET', path: '/v2/', scopes: [] });
    if (res.statusCode === 200) {
      discard(res);
      return true;
    }
    if (res.statusCode === 401) {
      discard(res);
      throw new BerthError(
        'image',
        'permission-denied',
        `login to ${canonicalRegistry(registry)}: incorrect username or password`,
      );
    }
    throw await responseError(res, `login to ${canonicalRegistry(registry)}`, ep.base.host);
  });
  await storeCredentials(registry, creds, { configDir: opts.dockerConfigDir });
  return { registry: canonicalRegistry(registry), authenticated };
}

/** Remove saved credentials; false when there were none. */
export async function logout(registry: string, opts: { dockerConfigDir?: string } = {}): Promise<boolean> {
  return eraseCredentials(registry, { configDir: opts.dockerConfigDir });
}
