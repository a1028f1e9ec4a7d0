import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Authorizer, parseWwwAuthenticate, challengeScopes } from '../../../src/image/registry/auth.js';

test('WWW-Authenticate: Docker Hub Bearer challenge', () => {
  const c = parseWwwAuthenticate(
    'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"',
  );
  assert.deepEqual(c, [
    {
      scheme: 'bearer',
      params: {
        realm: 'https://auth.docker.io/token',
        service: 'registry.docker.io',
        scope: 'repository:library/busybox:pull',
      },
    },
  ]);
});

test('WWW-Authenticate: Basic, case, spaces, escapes, error and several challenges', () => {
  assert.deepEqual(parseWwwAuthenticate('basic Realm="Registry Realm"'), [
    { scheme: 'basic', params: { realm: 'Registry Realm' } },
  ]);
  const c = parseWwwAuthenticate(
    'Bearer realm="r" , service=svc,error="insufficient_scope",scope="repository:a:pull repository:b:pull" , Basic realm="q\\"x"',
  );
  assert.equal(c.length, 2);
  assert.deepEqual(c[0]!.params, {
    realm: 'r',
    service: 'svc',
    error: 'insufficient_scope',
    scope: 'repository:a:pull repository:b:pull',
  });
  assert.deepEqual(challengeScopes(c[0]), ['repository:a:pull', 'repository:b:pull']);
  assert.deepEqual(c[1], { scheme: 'basic', params: { realm: 'q"x' } });
  assert.deepEqual(parseWwwAuthenticate(undefined), []);
  assert.deepEqual(parseWwwAuthenticate(''), []);
  // Garbage does not loop or throw.
  assert.ok(Array.isArray(parseWwwAuthenticate('=== ,,, "unterminated')));
});

function fakeFetcher(bodies: object[]) {
  const calls: { url: URL; headers: Record<string, string>; method: string }[] = [];
  const fetch = async (r: { method: 'GET' | 'POST'; url: URL; headers: Record<string, string> }) => {
    calls.push(r);
    const b = bodies[Math.min(calls.length - 1, bodies.length - 1)]!;
    return { status: 'status' in b ? (b as { status: number }).status : 200, body: Buffer.from(JSON.stringify(b)) };
  };
  return { calls, fetch };
}

test('Bearer: token from `token` or `access_token`, Basic credentials and account sent, cached per scope', async () => {
  const f = fakeFetcher([
    { token: 't1', expires_in: 300 },
    { access_token: 't2', token: 'ignored' },
  ]);
  const a = new Authorizer(async () => ({ username: 'u', password: 'p' }), f.fetch);
  a.setChallenge('https://r.example', 'Bearer realm="https://auth.example/token",service="reg"');
  assert.equal(await a.header('https://r.example', 'r.example', ['repository:x:pull']), 'Bearer t1');
  assert.equal(await a.header('https://r.example', 'r.example', ['repository:x:pull']), 'Bearer t1');
  assert.equal(f.calls.length, 1);
  const u = f.calls[0]!.url;
  assert.equal(u.searchParams.get('service'), 'reg');
  assert.deepEqual(u.searchParams.getAll('scope'), ['repository:x:pull']);
  assert.equal(u.searchParams.get('account'), 'u');
  assert.equal(f.calls[0]!.headers.authorization, 'Basic ' + Buffer.from('u:p').toString('base64'));
  assert.equal(await a.header('https://r.example', 'r.example', ['repository:x:pull,push']), 'Bearer t2');
  assert.equal(f.calls.length, 2);
  a.invalidate('https://r.example', ['repository:x:pull']);
  await a.header('https://r.example', 'r.example', ['repository:x:pull']);
  assert.equal(f.calls.length, 3);
});

test('Bearer: concurrent requests for one scope share one token request', async () => {
  const f = fakeFetcher([{ token: 'only' }]);
  const a = new Authorizer(async () => undefined, f.fetch);
  a.setChallenge('https://r', 'Bearer realm="https://auth/token"');
  const hs = await Promise.all(Array.from({ length: 5 }, () => a.header('https://r', 'r', ['repository:x:pull'])));
  assert.deepEqual(new Set(hs), new Set(['Bearer only']));
  assert.equal(f.calls.length, 1);
  assert.equal(f.calls[0]!.headers.authorization, undefined, 'anonymous: no Basic header');
});

test('Bearer: an expired token is fetched again', async () => {
  const f = fakeFetcher([
    { token: 'old', expires_in: 1, issued_at: new Date(Date.now() - 10_000).toISOString() },
    { token: 'new' },
  ]);
  const a = new Authorizer(async () => undefined, f.fetch);
  a.setChallenge('https://r', 'Bearer realm="https://auth/token"');
  await a.header('https://r', 'r', []);
  assert.equal(await a.header('https://r', 'r', []), 'Bearer new');
});

test('Bearer: token server 401 is a permission error naming the cause; no token is a clear error', async () => {
  const a = new Authorizer(
    async () => ({ username: 'u', password: 'bad' }),
    fakeFetcher([{ status: 401, details: 'nope' }]).fetch,
  );
  a.setChallenge('https://r', 'Bearer realm="https://auth/token"');
  await assert.rejects(
    a.header('https://r', 'r', []),
    (e: Error & { code?: string }) =>
      e.code === 'permission-denied' && /incorrect username or password/.test(e.message),
  );
  const b = new Authorizer(async () => undefined, fakeFetcher([{ nothing: true }]).fetch);
  b.setChallenge('https://r', 'Bearer realm="https://auth/token"');
  await assert.rejects(b.header('https://r', 'r', []), /sent no token/);
  const c = new Authorizer(async () => undefined, fakeFetcher([{}]).fetch);
  c.setChallenge('https://r', 'Bearer realm="file:///etc/passwd"');
  await assert.rejects(c.header('https://r', 'r', []), /invalid token realm/);
});

test('identity token: OAuth2 refresh_token POST', async () => {
  const f = fakeFetcher([{ access_token: 'oauth' }]);
  const a = new Authorizer(async () => ({ username: '', password: '', identityToken: 'refresh-me' }), f.fetch);
  a.setChallenge('https://r', 'Bearer realm="https://auth/token",service="s"');
  assert.equal(await a.header('https://r', 'r', ['repository:x:pull']), 'Bearer oauth');
  assert.equal(f.calls[0]!.method, 'POST');
});

test('Basic challenge: credentials sent when known, nothing otherwise', async () => {
  const a = new Authorizer(
    async (k) => (k === 'with' ? { username: 'u', password: 'p' } : undefined),
    fakeFetcher([]).fetch,
  );
  a.setChallenge('https://r', 'Basic realm="x"');
  assert.equal(await a.header('https://r', 'with', []), 'Basic ' + Buffer.from('u:p').toString('base64'));
  assert.equal(await a.header('https://r', 'without', []), undefined);
});
