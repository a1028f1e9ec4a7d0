// A client for one registry (the OCI distribution spec as Docker uses it):
// endpoint selection with the /v2/ ping (mirrors first, HTTPS then HTTP for
// insecure registries), authentication, retries with exponential backoff on
// network errors and 5xx, and redirects (blob storage) without leaking the
// Authorization header to another host. Reads are here; uploads in upload.ts.

import { sleep } from '../../common/sleep.js';
import { BerthError, isBerthError, messageOf } from '../../common/errors.js';
import { nullLogger, type Logger } from '../../common/log.js';
import type { ContentStore, Descriptor, Digest } from '../content/types.js';
import { Authorizer, challengeScopes } from './auth.js';
import { fetchBlobFromUrlsInto, fetchBlobInto } from './blobs.js';
import { fetchManifestBytes, resolveManifest } from './manifests.js';
import { encodeRepo, pullScope, pushScope, REDIRECTS } from './paths.js';
import { proxyFor, proxyFromEnv, type ProxySettings } from './proxy.js';
import { dockerConfigCredentials } from './credentials.js';
import { checkDigest } from './digest.js';
import { responseError } from './errors.js';
import { canonicalRegistry, loadCertsDir, resolveEndpoints, type Endpoint } from './hosts.js';
import type { BlobFetchOptions, FetchedManifest, RegistryOptions, RegistrySession, RequestSpec } from './session.js';
import type { HttpResponse, TlsSettings } from './http-types.js';
import { discard, isNetworkError, readBody, send } from './transport.js';

export {
  DEFAULT_MAX_MANIFEST,
  type RegistryOptions,
  type RequestSpec,
  type FetchedManifest,
  type BlobProgress,
  type BlobFetchOptions,
} from './session.js';

export class RegistryClient implements RegistrySession {
  readonly registry: string;
  readonly opts: RegistryOptions;
  readonly auth: Authorizer;
  readonly log: Logger;
  private readonly endpointCache = new Map<string, Promise<Endpoint[]>>();
  private readonly pings = new Map<string, Promise<void>>();
  private readonly pingFailures = new Map<string, number>();
  /** The endpoint that resolved a repository: later reads of it go there first. */
  private readonly pinned = new Map<string, string>();
  private readonly tlsCache = new Map<string, TlsSettings>();
  private readonly proxySettings?: ProxySettings;

  constructor(registry: string, opts: RegistryOptions = {}) {
    this.registry = canonicalRegistry(registry);
    this.opts = opts;
    this.log = opts.logger ?? nullLogger;
    this.proxySettings = opts.proxy === false ? undefined : (opts.proxy ?? proxyFromEnv());
    const creds = opts.credentials ?? dockerConfigCredentials({ configDir: opts.dockerConfigDir });
    this.auth = new Authorizer(creds, (r) => this.tokenRequest(r));
  }

  private get retries(): number {
    return this.opts.retries ?? 4;
  }

  /** Extra attempts allowed after a failure (for callers that retry themselves). */
  get retriesAllowed(): number {
    return this.retries;
  }

  backoff(attempt: number): number {
    const base = this.opts.retryBaseMs ?? 250;
    const d = base * 2 ** attempt;
    return Math.min(d + Math.random() * d * 0.25, 30_000);
  }

  endpoints(push: boolean): Promise<Endpoint[]> {
    const k = push ? 'push' : 'pull';
    let p = this.endpointCache.get(k);
    if (!p) {
      p = resolveEndpoints(this.registry, this.opts, push);
      this.endpointCache.set(k, p);
      p.catch(() => this.endpointCache.delete(k));
    }
    return p;
  }

  /** TLS settings for a URL: the endpoint's own, or certs.d for another host. */
  tlsFor(url: URL, ep?: Endpoint): TlsSettings {
    if (ep && url.host === ep.base.host && url.protocol === ep.base.protocol) return ep.tls;
    let t = this.tlsCache.get(url.host);
    if (!t) {
      t = loadCertsDir(this.opts.certsDir ?? '/etc/docker/certs.d', url.host);
      this.tlsCache.set(url.host, t);
    }
    return t;
  }

  /** the proxy for a URL, if any */
  proxyFor(url: URL): URL | undefined {
    return proxyFor(url, this.proxySettings);
  }

  headersBase(): Record<string, string> {
    return { 'user-agent': this.opts.userAgent ?? 'berth/0.1 (+containerd-compatible)' };
  }

  /** GET /v2/: is the endpoint a registry, and which auth does it want? */
  ping(ep: Endpoint): Promise<void> {
    const k = ep.base.origin;
    const failedAt = this.pingFailures.get(k);
    if (failedAt !== undefined && Date.now() - failedAt > 30_000) {
      // A dead endpoint is skipped for 30 s, then given another chance.
      this.pings.delete(k);
      this.pingFailures.delete(k);
    }
    let p = this.pings.get(k);
    if (!p) {
      p = this.doPing(ep);
      this.pings.set(k, p);
      p.catch(() => this.pingFailures.set(k, Date.now()));
    }
    return p;
  }

  private async doPing(ep: Endpoint): Promise<void> {
    const url = new URL('/v2/', ep.base);
    for (let attempt = 0; ; attempt++) {
      let res: HttpResponse;
      try {
        res = await send({
          method: 'GET',
          url,
          headers: this.headersBase(),
          tls: ep.tls,
          proxy: this.proxyFor(url),
          timeoutMs: this.opts.timeoutMs ?? 30_000,
        });
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (isNetworkError(e) && code !== 'ECONNREFUSED' && attempt < this.retries) {
          await sleep(this.backoff(attempt));
          continue;
        }
        let why = messageOf(e);
        if (
          ep.base.protocol === 'https:' &&
          /wrong version number|packet length too long|does the server speak TLS/i.test(why)
        ) {
          why =
            'the server gave an HTTP response to an HTTPS client (list it in the insecure registries to allow plain HTTP)';
        }
        throw new BerthError('image', 'unavailable', `ping ${url.href}: ${why}`, { cause: e });
      }
      const status = res.statusCode ?? 0;
      if ((status >= 500 || status === 429) && attempt < this.retries) {
        discard(res);
        await sleep(this.backoff(attempt));
        continue;
      }
      if (status === 200) {
        discard(res);
        return;
      }
      if (status === 401) {
        this.auth.setChallenge(ep.base.origin, res.headers['www-authenticate']);
        discard(res);
        return;
      }
      throw await responseError(res, `ping ${url.href} (not a v2 registry?)`, ep.base.host);
    }
  }

  /**
   * Run `fn` against the first endpoint that answers the ping. A failure on a
   * mirror moves on to the next endpoint; a failure on the registry itself is
   * final (its answer is authoritative).
   */
  async withEndpoint<T>(push: boolean, fn: (ep: Endpoint) => Promise<T>, repo?: string): Promise<T> {
    let eps = await this.endpoints(push);
    const pin = repo === undefined || push ? undefined : this.pinned.get(repo);
    if (pin) {
      // Docker keeps a pull on the endpoint that answered the manifest: a
      // mirror that has the manifest has its blobs.
      eps = [...eps.filter((e) => e.base.origin === pin), ...eps.filter((e) => e.base.origin !== pin)];
    }
    const failures: string[] = [];
    let lastErr: unknown;
    for (const ep of eps) {
      try {
        await this.ping(ep);
      } catch (e) {
        lastErr = e;
        failures.push(messageOf(e));
        this.log.debug('registry endpoint unreachable', { endpoint: ep.base.origin, error: messageOf(e) });
        continue;
      }
      try {
        return await fn(ep);
      } catch (e) {
        if (!ep.mirror) throw e;
        lastErr = e;
        failures.push(`mirror ${ep.base.origin}: ${messageOf(e)}`);
        this.log.info('mirror failed, trying the next endpoint', { endpoint: ep.base.origin, error: messageOf(e) });
      }
    }
    if (failures.length === 1 && isBerthError(lastErr)) throw lastErr;
    throw new BerthError('image', 'unavailable', `registry ${this.registry}: ${failures.join('; ')}`, {
      cause: lastErr,
    });
  }

  /**
   * One request with auth, redirects and retries. Resolves with the final
   * response (any status); the caller reads or discards its body.
   */
  async request(ep: Endpoint, spec: RequestSpec): Promise<HttpResponse> {
    let scopes = spec.scopes;
    let authRetried = false;
    for (let attempt = 0; ;) {
      let res: HttpResponse;
      try {
        res = await this.once(ep, spec, scopes);
      } catch (e) {
        spec.signal?.throwIfAborted();
        if (!spec.noRetry && isNetworkError(e) && attempt < this.retries) {
          this.log.debug('registry request failed, retrying', {
            url: spec.path ?? spec.url?.href,
            error: messageOf(e),
            attempt,
          });
          await sleep(this.backoff(attempt++));
          continue;
        }
        if (isBerthError(e)) throw e;
        throw new BerthError(
          'image',
          'unavailable',
          `${spec.method} ${ep.base.host}${spec.path ?? spec.url?.pathname ?? ''}: ${messageOf(e)}`,
          { cause: e },
        );
      }
      const status = res.statusCode ?? 0;
      if (status === 401 && !authRetried) {
        // Once: the token may have expired or lack a scope the challenge
        // names, or the endpoint may only now ask for auth.
        authRetried = true;
        const c = this.auth.setChallenge(ep.base.origin, res.headers['www-authenticate']);
        if (c) {
          discard(res);
          this.auth.invalidate(ep.base.origin, scopes);
          const extra = challengeScopes(c).filter((s) => !scopes.includes(s));
          if (extra.length) scopes = [...scopes, ...extra];
          continue;
        }
      }
      if (status === 401) {
        res.authHint = await this.auth.explain401(ep.base.origin, ep.authKey);
      }
      if (!spec.noRetry && (status >= 500 || status === 429) && attempt < this.retries) {
        discard(res);
        const ra = Number(res.headers['retry-after']);
        const wait = Number.isFinite(ra) && ra > 0 ? Math.min(ra * 1000, 30_000) : this.backoff(attempt);
        this.log.debug('registry answered with a server error, retrying', { status, attempt });
        attempt++;
        await sleep(wait);
        continue;
      }
      return res;
    }
  }

  private async once(ep: Endpoint, spec: RequestSpec, scopes: string[]): Promise<HttpResponse> {
    let url = spec.url ?? new URL(spec.path ?? '/v2/', ep.base);
    let method = spec.method;
    let body = spec.body;
    for (let hop = 0; hop <= 10; hop++) {
      const headers: Record<string, string> = { ...this.headersBase(), ...spec.headers };
      // Credentials go only to the registry itself, never to the storage a
      // redirect points at (S3, a CDN): those URLs carry their own signature.
      if (url.origin === ep.base.origin) {
        const a = await this.auth.header(ep.base.origin, ep.authKey, scopes);
        if (a) headers.authorization = a;
      }
      const res = await send({
        method,
        url,
        headers,
        body,
        tls: this.tlsFor(url, ep),
        proxy: this.proxyFor(url),
        timeoutMs: this.opts.timeoutMs,
        signal: spec.signal,
      });
      const status = res.statusCode ?? 0;
      const loc = res.headers.location;
      if (REDIRECTS.has(status) && loc && !(method === 'POST' || method === 'PUT' || method === 'PATCH')) {
        discard(res);
        const next = new URL(loc, url);
        if (next.protocol !== 'https:' && next.protocol !== 'http:') {
          throw new BerthError('image', 'invalid-argument', `redirect to unsupported URL ${next.href}`);
        }
        if (status === 303) {
          method = method === 'HEAD' ? 'HEAD' : 'GET';
          body = undefined;
        }
        url = next;
        continue;
      }
      return res;
    }
    throw new BerthError('image', 'unavailable', `${spec.method} ${url.href}: too many redirects`);
  }

  private async tokenRequest(r: {
    method: 'GET' | 'POST';
    url: URL;
    headers: Record<string, string>;
    body?: Buffer;
  }): Promise<{ status: number; body: Buffer }> {
    const tls = loadCertsDir(this.opts.certsDir ?? '/etc/docker/certs.d', r.url.host);
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await send({
          method: r.method,
          url: r.url,
          headers: { ...this.headersBase(), ...r.headers },
          body: r.body,
          tls,
          proxy: this.proxyFor(r.url),
          timeoutMs: this.opts.timeoutMs,
        });
        const status = res.statusCode ?? 0;
        if (status >= 500 && attempt < this.retries) {
          discard(res);
          await sleep(this.backoff(attempt));
          continue;
        }
        return { status, body: await readBody(res, 1024 * 1024, 'token response') };
      } catch (e) {
        if (isNetworkError(e) && attempt < this.retries) {
          await sleep(this.backoff(attempt));
          continue;
        }
        if (isBerthError(e)) throw e;
        throw new BerthError('image', 'unavailable', `token server ${r.url.host}: ${messageOf(e)}`, { cause: e });
      }
    }
  }

  // ---- reads ----

  /**
   * Tag or digest → descriptor of the manifest: HEAD with the Accept list
   * (Docker-Content-Digest gives the digest), else GET and hash the body.
   */
  resolve(repo: string, reference: string): Promise<{ descriptor: Descriptor; manifest?: FetchedManifest }> {
    return resolveManifest(this, repo, reference);
  }

  /** GET a manifest by tag or digest, bounded in size, digest-checked. */
  fetchManifest(repo: string, reference: string, expected?: Descriptor): Promise<FetchedManifest> {
    return fetchManifestBytes(this, repo, reference, expected);
  }

  /** Download a blob into the content store, verified, resumable (see blobs.ts). */
  fetchBlob(
    repo: string,
    desc: Descriptor,
    store: ContentStore,
    opts: BlobFetchOptions = {},
  ): Promise<{ alreadyExists: boolean }> {
    return fetchBlobInto(this, repo, desc, store, opts);
  }

  /** A foreign layer from its own URLs; false when none served it. */
  fetchBlobFromUrls(desc: Descriptor, store: ContentStore, opts: BlobFetchOptions = {}): Promise<boolean> {
    return fetchBlobFromUrlsInto(this, desc, store, opts);
  }

  /** reads of `repo` go to this endpoint first */
  pin(repo: string, origin: string): void {
    this.pinned.set(repo, origin);
  }

  /** HEAD a blob: true when the repository has it. */
  async blobExists(repo: string, digest: Digest, push = true): Promise<boolean> {
    checkDigest(digest, `blob of ${repo}`);
    return this.withEndpoint(push, async (ep) => {
      const res = await this.request(ep, {
        method: 'HEAD',
        path: `/v2/${encodeRepo(repo)}/blobs/${digest}`,
        scopes: [push ? pushScope(repo) : pullScope(repo)],
      });
      discard(res);
      if (res.statusCode === 200) return true;
      if (res.statusCode === 404) return false;
      throw await responseError(res, `check blob ${digest} in ${repo}`, ep.base.host);
    });
  }

  /** List tags (GET /v2/<name>/tags/list), following Link pagination. */
  async listTags(repo: string): Promise<string[]> {
    return this.withEndpoint(false, async (ep) => {
      const out: string[] = [];
      let path: string | undefined = `/v2/${encodeRepo(repo)}/tags/list`;
      for (let page = 0; path && page < 1000; page++) {
        const res = await this.request(ep, { method: 'GET', path, scopes: [pullScope(repo)] });
        if (res.statusCode !== 200) throw await responseError(res, `list tags of ${repo}`, ep.base.host);
        const j = JSON.parse((await readBody(res, 4 * 1024 * 1024, 'tag list')).toString('utf8')) as { tags?: unknown };
        if (Array.isArray(j.tags)) out.push(...j.tags.filter((t): t is string => typeof t === 'string'));
        const link = String(res.headers.link ?? '');
        const m = /<([^>]+)>;\s*rel="?next"?/.exec(link);
        path = m?.[1] ? new URL(m[1], ep.base).pathname + new URL(m[1], ep.base).search : undefined;
      }
      return out;
    });
  }
}
