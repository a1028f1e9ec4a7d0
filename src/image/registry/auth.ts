// Registry authentication as Docker does it: a request without credentials
// gets 401 with a WWW-Authenticate challenge; for "Basic" we resend with the
// user's credentials, for "Bearer" we ask the challenge's realm for a token
// (GET realm?service=&scope=, Basic credentials when we know them; or the
// OAuth2 POST with a refresh token when the helper gave an identity token),
// then resend with "Authorization: Bearer <token>". Tokens are cached per
// endpoint and scope set until they expire.

import { BerthError } from '../../common/errors.js';
import type { Credentials, CredentialSource } from './credentials.js';

export interface Challenge {
  scheme: string; // lower case: "bearer", "basic"
  params: Record<string, string>; // keys lower case
}

/** Parse a WWW-Authenticate header (RFC 7235), possibly with several challenges. */
export function parseWwwAuthenticate(header: string | string[] | undefined): Challenge[] {
  if (header === undefined) return [];
  const text = Array.isArray(header) ? header.join(', ') : header;
  const out: Challenge[] = [];
  let i = 0;
  const n = text.length;
  const skipWs = (): void => {
    while (i < n && (text[i] === ' ' || text[i] === '\t')) i++;
  };
  const readToken = (): string => {
    const start = i;
    while (i < n && /[!#$%&'*+\-.^_`|~0-9A-Za-z/]/.test(text[i]!)) i++;
    return text.slice(start, i);
  };
  let current: Challenge | undefined;
  while (i < n) {
    skipWs();
    if (text[i] === ',') {
      i++;
      continue;
    }
    const tok = readToken();
    if (tok === '') {
      i++; // stray character: skip it rather than loop
      continue;
    }
    skipWs();
    if (text[i] === '=' && current) {
      i++;
      skipWs();
      let value = '';
      if (text[i] === '"') {
        i++;
        while (i < n && text[i] !== '"') {
          if (text[i] === '\\' && i + 1 < n) i++;
          value += text[i];
          i++;
        }
        i++; // closing quote
      } else {
        value = readToken();
      }
      current.params[tok.toLowerCase()] = value;
    } else if (text[i] === '=' && !current) {
      // token68 without a scheme: malformed, ignore
      i++;
    } else {
      current = { scheme: tok.toLowerCase(), params: {} };
      out.push(current);
    }
  }
  return out;
}

export interface TokenResponse {
  status: number;
  body: Buffer;
}

/** The transport the authorizer uses to reach a token realm. */
export type TokenFetcher = (req: {
  method: 'GET' | 'POST';
  url: URL;
  headers: Record<string, string>;
  body?: Buffer;
}) => Promise<TokenResponse>;

interface CachedToken {
  token: string;
  expiresAt: number;
}

export function basicAuthHeader(c: Credentials): string {
  return 'Basic ' + Buffer.from(`${c.username}:${c.password}`, 'utf8').toString('base64');
}

export class Authorizer {
  private readonly challenges = new Map<string, Challenge>();
  private readonly tokens = new Map<string, CachedToken>();
  private readonly pending = new Map<string, Promise<CachedToken>>();
  private readonly creds = new Map<string, Promise<Credentials | undefined>>();
  /** Token requests made, for tests and debugging. */
  tokenRequests = 0;

  constructor(
    private readonly credentialSource: CredentialSource | undefined,
    private readonly fetchToken: TokenFetcher,
    private readonly clientId = 'berth',
  ) {}

  private credentialsFor(authKey: string): Promise<Credentials | undefined> {
    let p = this.creds.get(authKey);
    if (!p) {
      p = this.credentialSource ? this.credentialSource(authKey) : Promise.resolve(undefined);
      this.creds.set(authKey, p);
    }
    return p;
  }

  /** Remember the challenge an endpoint answered with (from the ping or a 401). */
  setChallenge(origin: string, header: string | string[] | undefined): Challenge | undefined {
    const list = parseWwwAuthenticate(header);
    const c = list.find((x) => x.scheme === 'bearer') ?? list.find((x) => x.scheme === 'basic');
    if (c) this.challenges.set(origin, c);
    return c;
  }

  /** Words for a 401 that survived a retry with whatever credentials we had. */
  async explain401(origin: string, authKey: string): Promise<string> {
    const c = this.challenges.get(origin);
    const creds = await this.credentialsFor(authKey).catch(() => undefined);
    if (!creds || (!creds.username && !creds.identityToken))
      return `authentication required (no credentials for ${authKey}; log in first)`;
    if (c?.scheme === 'basic') return `incorrect username or password for ${authKey}`;
    return `the token for ${creds.username || 'this identity'} does not grant access to this repository`;
  }

  hasChallenge(origin: string): boolean {
    return this.challenges.has(origin);
  }

  /** Drop the cached token for these scopes (after a 401 despite it). */
  invalidate(origin: string, scopes: string[]): void {
    this.tokens.delete(cacheKey(origin, scopes));
  }

  /** The Authorization header for a request to `origin` needing `scopes`, if any. */
  async header(origin: string, authKey: string, scopes: string[]): Promise<string | undefined> {
    const c = this.challenges.get(origin);
    if (!c) return undefined;
    const creds = await this.credentialsFor(authKey);
    if (c.scheme === 'basic') {
      return creds && creds.username ? basicAuthHeader(creds) : undefined;
    }
    if (c.scheme !== 'bearer') return undefined;
    const key = cacheKey(origin, scopes);
    const cached = this.tokens.get(key);
    if (cached && cached.expiresAt > Date.now()) return `Bearer ${cached.token}`;
    let p = this.pending.get(key);
    if (!p) {
      p = this.requestToken(c, creds, scopes).finally(() => this.pending.delete(key));
      this.pending.set(key, p);
    }
    const t = await p;
    this.tokens.set(key, t);
    return `Bearer ${t.token}`;
  }

  private async requestToken(c: Challenge, creds: Credentials | undefined, scopes: string[]): Promise<CachedToken> {
    const realm = c.params.realm;
    if (!realm)
      throw new BerthError('image', 'permission-denied', 'registry asked for a Bearer token but named no realm');
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new BerthError('image', 'permission-denied', `invalid token realm ${JSON.stringify(realm)}`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new BerthError('image', 'permission-denied', `invalid token realm ${JSON.stringify(realm)}`);
    }
    this.tokenRequests++;
    let res: TokenResponse;
    if (creds?.identityToken) {
      const form = new URLSearchParams();
      form.set('grant_type', 'refresh_token');
      form.set('refresh_token', creds.identityToken);
      form.set('client_id', this.clientId);
      if (c.params.service) form.set('service', c.params.service);
      if (scopes.length) form.set('scope', scopes.join(' '));
      res = await this.fetchToken({
        method: 'POST',
        url,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: Buffer.from(form.toString()),
      });
    } else {
      if (c.params.service) url.searchParams.set('service', c.params.service);
      for (const s of scopes) url.searchParams.append('scope', s);
      const headers: Record<string, string> = {};
      if (creds?.username) {
        url.searchParams.set('account', creds.username);
        headers.authorization = basicAuthHeader(creds);
      }
      res = await this.fetchToken({ method: 'GET', url, headers });
    }
    if (res.status === 401 || res.status === 403) {
      const why = creds?.username
        ? `incorrect username or password for ${url.host}`
        : `${url.host} refused an anonymous token`;
      throw new BerthError(
        'image',
        'permission-denied',
        `authentication failed: ${why} (token server answered ${res.status}${detailOf(res.body)})`,
      );
    }
    if (res.status !== 200) {
      throw new BerthError(
        'image',
        'unavailable',
        `token server ${url.host} answered ${res.status}${detailOf(res.body)}`,
      );
    }
    let doc: { token?: unknown; access_token?: unknown; expires_in?: unknown; issued_at?: unknown };
    try {
      doc = JSON.parse(res.body.toString('utf8')) as typeof doc;
    } catch {
      throw new BerthError('image', 'permission-denied', `token server ${url.host} sent a response that is not JSON`);
    }
    const token = typeof doc.access_token === 'string' && doc.access_token ? doc.access_token : doc.token;
    if (typeof token !== 'string' || token === '') {
      throw new BerthError('image', 'permission-denied', `token server ${url.host} sent no token`);
    }
    // The spec's default lifetime is 60 s; refresh a little early.
    const ttl = typeof doc.expires_in === 'number' && doc.expires_in > 0 ? doc.expires_in : 60;
    let issued = Date.now();
    if (typeof doc.issued_at === 'string') {
      const t = Date.parse(doc.issued_at);
      if (Number.isFinite(t) && t <= Date.now()) issued = t;
    }
    return { token, expiresAt: issued + ttl * 1000 - 5000 };
  }
}

function cacheKey(origin: string, scopes: string[]): string {
  return `${origin} ${[...scopes].sort().join(' ')}`;
}

function detailOf(body: Buffer): string {
  const t = body.toString('utf8', 0, Math.min(body.length, 300)).trim();
  if (!t) return '';
  try {
    const j = JSON.parse(t) as { errors?: { message?: string }[]; details?: string };
    const m = j.errors?.[0]?.message ?? j.details;
    if (m) return `: ${m}`;
  } catch {
    // not JSON: quote it as is
  }
  return `: ${t.replace(/\s+/g, ' ')}`;
}

/** "repository:<name>:pull,push" */
export function repositoryScope(name: string, actions: string[]): string {
  return `repository:${name}:${actions.join(',')}`;
}

/** Scopes a Bearer challenge asks for (after insufficient_scope). */
export function challengeScopes(c: Challenge | undefined): string[] {
  const s = c?.params.scope;
  return s ? s.split(' ').filter(Boolean) : [];
}
