// A client for one registry (the OCI distribution spec as Docker uses it):
// endpoint selection with the /v2/ ping (mirrors first, HTTPS then HTTP for
// insecure registries), authentication, retries with exponential backoff on
// network errors and 5xx, and redirects (blob storage) without leaking the
// Authorization header to another host. Reads are here; uploads in upload.ts.

import type { IncomingMessage } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { BerthError, isBerthError, messageOf } from '../../common/errors.js';
import { nullLogger, type Logger } from '../../common/log.js';
import type { ContentStore, Descriptor, Digest } from '../content/types.js';
import { Authorizer, challengeScopes, repositoryScope } from './auth.js';
import { dockerConfigCredentials, type CredentialSource } from './credentials.js';
import { algorithmOf, checkDigest, digestOf, isDigest } from './digest.js';
import { responseError } from './errors.js';
import { canonicalRegistry, loadCertsDir, resolveEndpoints, type Endpoint, type HostOptions } from './hosts.js';
import { bareMediaType, isSchema1, MANIFEST_MEDIA_TYPES, SCHEMA1_MESSAGE } from './mediatypes.js';
import { discard, isNetworkError, readBody, send, type Body, type TlsSettings } from './transport.js';

export interface RegistryOptions extends HostOptions {
  /** Where credentials come from; default config.json in `dockerConfigDir` (or $DOCKER_CONFIG, ~/.docker). */
  credentials?: CredentialSource;
  dockerConfigDir?: string;
  /** Extra attempts after a network error or a 5xx/429 answer; default 4. */
  retries?: number;
  /** First backoff delay in ms, doubled each attempt (with jitter); default 250. */
  retryBaseMs?: number;
  /** Socket idle timeout in ms; default 60000. */
  timeoutMs?: number;
  /** Largest manifest accepted; default 4 MiB. */
  maxManifestSize?: number;
  userAgent?: string;
  logger?: Logger;
}

export const DEFAULT_MAX_MANIFEST = 4 * 1024 * 1024;

export interface RequestSpec {
  method: string;
  /** A path under the endpoint ("/v2/..."), or an absolute URL (upload locations). */
  path?: string;
  url?: URL;
  headers?: Record<string, string>;
  body?: Body;
  scopes: string[];
  /**
   * Neither network errors nor 5xx are retried here: the caller recovers
   * itself (a chunk upload asks the registry how far it got instead).
   */
  noRetry?: boolean;
}

export interface FetchedManifest {
  bytes: Buffer;
  mediaType: string;
  digest: Digest;
}

export interface BlobProgress {
  (done: number, total: number): void;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

function encodeRepo(name: string): string {
  // Repository names are validated by the reference parser; keep slashes.
  return name.split('/').map(encodeURIComponent).join('/');
}

export function pullScope(repo: string): string {
  return repositoryScope(repo, ['pull']);
}

export function pushScope(repo: string): string {
  return repositoryScope(repo, ['pull', 'push']);
}

export class RegistryClient {
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

  constructor(registry: string, opts: RegistryOptions = {}) {
    this.registry = canonicalRegistry(registry);
    this.opts = opts;
    this.log = opts.logger ?? nullLogger;
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

  private tlsFor(url: URL, ep?: Endpoint): TlsSettings {
    if (ep && url.host === ep.base.host && url.protocol === ep.base.protocol) return ep.tls;
    let t = this.tlsCache.get(url.host);
    if (!t) {
      t = loadCertsDir(this.opts.certsDir ?? '/etc/docker/certs.d', url.host);
      this.tlsCache.set(url.host, t);
    }
    return t;
  }

  private headersBase(): Record<string, string> {
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
      let res: IncomingMessage;
      try {
        res = await send({ method: 'GET', url, headers: this.headersBase(), tls: ep.tls, timeoutMs: this.opts.timeoutMs ?? 30_000 });
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (isNetworkError(e) && code !== 'ECONNREFUSED' && attempt < this.retries) {
          await sleep(this.backoff(attempt));
          continue;
        }
        let why = messageOf(e);
        if (ep.base.protocol === 'https:' && /wrong version number|packet length too long/i.test(why)) {
          why = 'the server gave an HTTP response to an HTTPS client (list it in the insecure registries to allow plain HTTP)';
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
    throw new BerthError('image', 'unavailable', `registry ${this.registry}: ${failures.join('; ')}`, { cause: lastErr });
  }

  /**
   * One request with auth, redirects and retries. Resolves with the final
   * response (any status); the caller reads or discards its body.
   */
  async request(ep: Endpoint, spec: RequestSpec): Promise<IncomingMessage> {
    let scopes = spec.scopes;
    let authRetried = false;
    for (let attempt = 0; ; ) {
      let res: IncomingMessage;
      try {
        res = await this.once(ep, spec, scopes);
      } catch (e) {
        if (!spec.noRetry && isNetworkError(e) && attempt < this.retries) {
          this.log.debug('registry request failed, retrying', { url: spec.path ?? spec.url?.href, error: messageOf(e), attempt });
          await sleep(this.backoff(attempt++));
          continue;
        }
        if (isBerthError(e)) throw e;
        throw new BerthError('image', 'unavailable', `${spec.method} ${ep.base.host}${spec.path ?? spec.url?.pathname ?? ''}: ${messageOf(e)}`, { cause: e });
      }
      const status = res.statusCode ?? 0;
      if (status === 401 && !authRetried) {
        authRetried = true;
        const before = this.auth.hasChallenge(ep.base.origin);
        const c = this.auth.setChallenge(ep.base.origin, res.headers['www-authenticate']);
        if (c) {
          discard(res);
          this.auth.invalidate(ep.base.origin, scopes);
          const extra = challengeScopes(c).filter((s) => !scopes.includes(s));
          if (extra.length) scopes = [...scopes, ...extra];
          if (!before || c.scheme === 'bearer' || c.scheme === 'basic') continue;
        }
        return res;
      }
      if (status === 401) {
        (res as IncomingMessage & { authHint?: string }).authHint = await this.auth.explain401(ep.base.origin, ep.authKey);
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

  private async once(ep: Endpoint, spec: RequestSpec, scopes: string[]): Promise<IncomingMessage> {
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
      const res = await send({ method, url, headers, body, tls: this.tlsFor(url, ep), timeoutMs: this.opts.timeoutMs });
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

  private async tokenRequest(r: { method: 'GET' | 'POST'; url: URL; headers: Record<string, string>; body?: Buffer }): Promise<{ status: number; body: Buffer }> {
    const tls = loadCertsDir(this.opts.certsDir ?? '/etc/docker/certs.d', r.url.host);
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await send({ method: r.method, url: r.url, headers: { ...this.headersBase(), ...r.headers }, body: r.body, tls, timeoutMs: this.opts.timeoutMs });
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
   * (Docker-Content-Digest gives the digest), else GET and hash the body, which
   * must then match Docker-Content-Digest when the registry sent one.
   */
  async resolve(repo: string, reference: string): Promise<{ descriptor: Descriptor; manifest?: FetchedManifest }> {
    return this.withEndpoint(false, async (ep) => {
      const r = await this.resolveAt(ep, repo, reference);
      this.pinned.set(repo, ep.base.origin);
      return r;
    }, repo);
  }

  private async resolveAt(ep: Endpoint, repo: string, reference: string): Promise<{ descriptor: Descriptor; manifest?: FetchedManifest }> {
    const path = `/v2/${encodeRepo(repo)}/manifests/${encodeURIComponent(reference)}`;
    const res = await this.request(ep, { method: 'HEAD', path, headers: { accept: MANIFEST_MEDIA_TYPES.join(', ') }, scopes: [pullScope(repo)] });
    const status = res.statusCode ?? 0;
    discard(res);
    if (status === 200) {
      const mt = bareMediaType(res.headers['content-type']);
      const hdr = res.headers['docker-content-digest'];
      const size = Number(res.headers['content-length']);
      if (isSchema1(mt)) throw new BerthError('image', 'failed-precondition', `${this.registry}/${repo}:${reference}: ${SCHEMA1_MESSAGE}`);
      const digest = isDigest(reference) ? reference : typeof hdr === 'string' && isDigest(hdr) ? hdr : undefined;
      if (digest && MANIFEST_MEDIA_TYPES.includes(mt) && Number.isSafeInteger(size) && size > 0) {
        this.checkManifestSize(size, repo, reference);
        return { descriptor: { mediaType: mt, digest, size } };
      }
    } else if (status === 404) {
      throw new BerthError('image', 'not-found', `${this.registry}/${repo}:${reference}: manifest unknown (${ep.base.host} answered 404)`);
    } else if (status === 401 || status === 403) {
      const hint = (res as IncomingMessage & { authHint?: string }).authHint ?? 'no access to this repository';
      throw new BerthError('image', 'permission-denied', `${this.registry}/${repo}:${reference}: ${ep.base.host} answered ${status}: ${hint}`);
    }
    // HEAD gave no usable answer: GET the manifest and hash it ourselves.
    const m = await this.fetchManifestFrom(ep, repo, reference);
    return { descriptor: { mediaType: m.mediaType, digest: m.digest, size: m.bytes.length }, manifest: m };
  }

  private checkManifestSize(size: number, repo: string, reference: string): void {
    const max = this.opts.maxManifestSize ?? DEFAULT_MAX_MANIFEST;
    if (size > max) {
      throw new BerthError('image', 'invalid-argument', `${this.registry}/${repo}@${reference}: manifest of ${size} bytes is over the limit of ${max}`);
    }
  }

  /** GET a manifest by tag or digest, bounded in size, digest-checked. */
  async fetchManifest(repo: string, reference: string, expected?: Descriptor): Promise<FetchedManifest> {
    return this.withEndpoint(false, (ep) => this.fetchManifestFrom(ep, repo, reference, expected), repo);
  }

  private async fetchManifestFrom(ep: Endpoint, repo: string, reference: string, expected?: Descriptor): Promise<FetchedManifest> {
    const where = `${this.registry}/${repo}${isDigest(reference) ? '@' : ':'}${reference}`;
    if (expected) this.checkManifestSize(expected.size, repo, reference);
    const path = `/v2/${encodeRepo(repo)}/manifests/${encodeURIComponent(reference)}`;
    const accept = expected && MANIFEST_MEDIA_TYPES.includes(expected.mediaType)
      ? [expected.mediaType, ...MANIFEST_MEDIA_TYPES.filter((m) => m !== expected.mediaType)]
      : MANIFEST_MEDIA_TYPES;
    const res = await this.request(ep, { method: 'GET', path, headers: { accept: accept.join(', ') }, scopes: [pullScope(repo)] });
    if (res.statusCode !== 200) throw await responseError(res, `fetch manifest ${where}`, ep.base.host);
    const max = this.opts.maxManifestSize ?? DEFAULT_MAX_MANIFEST;
    let bytes: Buffer;
    try {
      bytes = await readBody(res, max, `manifest ${where}`);
    } catch (e) {
      if (isBerthError(e)) throw e;
      throw new BerthError('image', 'unavailable', `fetch manifest ${where}: ${messageOf(e)}`, { cause: e });
    }
    let mt = bareMediaType(res.headers['content-type']);
    let bodyType: unknown;
    let schemaVersion: unknown;
    try {
      const j = JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown; schemaVersion?: unknown };
      bodyType = j?.mediaType;
      schemaVersion = j?.schemaVersion;
    } catch {
      throw new BerthError('image', 'invalid-argument', `manifest ${where} is not valid JSON`);
    }
    if (schemaVersion === 1 || isSchema1(mt) || (typeof bodyType === 'string' && isSchema1(bodyType))) {
      throw new BerthError('image', 'failed-precondition', `${where}: ${SCHEMA1_MESSAGE}`);
    }
    if (!MANIFEST_MEDIA_TYPES.includes(mt) && typeof bodyType === 'string' && (mt === '' || mt === 'application/json' || mt === 'text/plain' || mt === 'application/octet-stream')) {
      mt = bodyType;
    }
    if (!MANIFEST_MEDIA_TYPES.includes(mt)) {
      throw new BerthError('image', 'invalid-argument', `${where}: unsupported manifest media type ${JSON.stringify(mt)} (expected one of ${MANIFEST_MEDIA_TYPES.join(', ')})`);
    }
    if (typeof bodyType === 'string' && bodyType !== mt) {
      throw new BerthError('image', 'invalid-argument', `${where}: Content-Type says ${mt} but the manifest says mediaType ${bodyType}`);
    }
    if (expected && expected.mediaType !== mt && MANIFEST_MEDIA_TYPES.includes(expected.mediaType)) {
      throw new BerthError('image', 'invalid-argument', `${where}: expected a ${expected.mediaType}, the registry sent ${mt}`);
    }
    const hdr = res.headers['docker-content-digest'];
    const want = isDigest(reference) ? reference : expected?.digest;
    const alg = want ? algorithmOf(want) : typeof hdr === 'string' && isDigest(hdr) ? algorithmOf(hdr) : 'sha256';
    const digest = digestOf(bytes, alg);
    if (want && digest !== want) {
      throw new BerthError('image', 'digest-mismatch', `manifest ${where}: ${ep.base.host} sent content with digest ${digest}`);
    }
    if (typeof hdr === 'string' && hdr !== '') {
      checkDigest(hdr, `Docker-Content-Digest of ${where}`);
      const got = algorithmOf(hdr) === alg ? digest : digestOf(bytes, algorithmOf(hdr));
      if (got !== hdr) {
        throw new BerthError('image', 'digest-mismatch', `manifest ${where}: Docker-Content-Digest ${hdr} does not match the content's digest ${got}`);
      }
    }
    if (expected && expected.size !== bytes.length) {
      throw new BerthError('image', 'digest-mismatch', `manifest ${where}: expected ${expected.size} bytes, got ${bytes.length}`);
    }
    return { bytes, mediaType: mt, digest };
  }

  /**
   * Download a blob straight into the content store. Resumes from what an
   * earlier ingest left (Range), resumes again after a broken connection,
   * and lets the store verify size and digest at commit: a blob that fails
   * verification never becomes visible. Returns whether it was already there.
   */
  async fetchBlob(
    repo: string,
    desc: Descriptor,
    store: ContentStore,
    opts: { ref?: string; onProgress?: BlobProgress; labels?: Record<string, string> } = {},
  ): Promise<{ alreadyExists: boolean }> {
    const digest = checkDigest(desc.digest, `blob of ${repo}`);
    if (!Number.isSafeInteger(desc.size) || desc.size < 0) {
      throw new BerthError('image', 'invalid-argument', `blob ${digest}: invalid size ${desc.size}`);
    }
    return this.withEndpoint(false, async (ep) => {
      const w = await store.ingest(opts.ref ?? `fetch-${digest}`, { digest, size: desc.size });
      if (w.alreadyExists) {
        await w.commit(opts.labels);
        return { alreadyExists: true };
      }
      let committed = false;
      try {
        await this.downloadInto(ep, repo, desc, w, opts.onProgress);
        try {
          await w.commit(opts.labels);
        } catch (e) {
          committed = true; // the store dropped the partial data itself
          if (isBerthError(e) && e.code === 'digest-mismatch') {
            throw new BerthError('image', 'digest-mismatch', `blob ${digest} from ${ep.base.host}/${repo} failed verification: ${e.message}`, { cause: e });
          }
          throw e;
        }
        committed = true;
        return { alreadyExists: false };
      } finally {
        if (!committed) await w.close().catch(() => undefined);
      }
    }, repo);
  }

  private downloadInto(
    ep: Endpoint,
    repo: string,
    desc: Descriptor,
    w: { offset: number; write(c: Uint8Array): Promise<void>; abort(): Promise<void> },
    onProgress?: BlobProgress,
  ): Promise<void> {
    const path = `/v2/${encodeRepo(repo)}/blobs/${desc.digest}`;
    const get = (headers: Record<string, string>) => this.request(ep, { method: 'GET', path, headers, scopes: [pullScope(repo)] });
    return this.streamInto(get, `${ep.base.host}/${repo}`, desc, w, onProgress);
  }

  /**
   * Foreign (Docker) and non-distributable (OCI) layers name URLs outside
   * the registry; like containerd we try those first, without credentials,
   * and only http(s). Returns false when no URL served the blob.
   */
  async fetchBlobFromUrls(
    desc: Descriptor,
    store: ContentStore,
    opts: { ref?: string; onProgress?: BlobProgress; labels?: Record<string, string> } = {},
  ): Promise<boolean> {
    const digest = checkDigest(desc.digest, 'foreign layer');
    for (const raw of desc.urls ?? []) {
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        continue;
      }
      if (url.protocol !== 'https:' && url.protocol !== 'http:') continue;
      const w = await store.ingest(opts.ref ?? `fetch-${digest}`, { digest, size: desc.size });
      if (w.alreadyExists) {
        await w.commit(opts.labels);
        return true;
      }
      let finished = false;
      try {
        const get = async (headers: Record<string, string>) => {
          let u = url;
          for (let hop = 0; hop < 10; hop++) {
            const res = await send({ method: 'GET', url: u, headers: { ...this.headersBase(), ...headers }, tls: this.tlsFor(u), timeoutMs: this.opts.timeoutMs });
            const loc = res.headers.location;
            if (REDIRECTS.has(res.statusCode ?? 0) && loc) {
              discard(res);
              u = new URL(loc, u);
              continue;
            }
            return res;
          }
          throw new BerthError('image', 'unavailable', `${url.href}: too many redirects`);
        };
        await this.streamInto(get, url.host, desc, w, opts.onProgress);
        finished = true;
        await w.commit(opts.labels);
        return true;
      } catch (e) {
        if (isBerthError(e) && e.code === 'digest-mismatch') throw e;
        this.log.info('foreign layer URL failed', { url: url.href, error: messageOf(e) });
      } finally {
        if (!finished) await w.close().catch(() => undefined);
      }
    }
    return false;
  }

  private async streamInto(
    get: (headers: Record<string, string>) => Promise<IncomingMessage>,
    where: string,
    desc: Descriptor,
    w: { offset: number; write(c: Uint8Array): Promise<void>; abort(): Promise<void> },
    onProgress?: BlobProgress,
  ): Promise<void> {
    let pos = w.offset;
    if (pos > desc.size) {
      await w.abort();
      throw new BerthError('image', 'internal', `ingest of ${desc.digest} holds ${pos} bytes, more than the expected ${desc.size}`);
    }
    onProgress?.(pos, desc.size);
    let failures = 0;
    let lastError: unknown;
    while (pos < desc.size) {
      if (failures > this.retries) {
        throw new BerthError('image', 'unavailable', `download of ${desc.digest} from ${where} failed ${failures} times, last: ${messageOf(lastError)}`, { cause: lastError });
      }
      if (failures > 0) await sleep(this.backoff(failures - 1));
      const headers: Record<string, string> = {};
      if (pos > 0) headers.range = `bytes=${pos}-`;
      let res: IncomingMessage;
      try {
        res = await get(headers);
      } catch (e) {
        if (isBerthError(e) || !isNetworkError(e)) throw e;
        lastError = e;
        failures++;
        continue;
      }
      const status = res.statusCode ?? 0;
      let skip = 0;
      if (status === 206) {
        const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(String(res.headers['content-range'] ?? ''));
        if (!m || Number(m[1]) !== pos) {
          discard(res);
          throw new BerthError('image', 'invalid-argument', `blob ${desc.digest}: ${where} answered a range request for bytes ${pos}- with Content-Range ${JSON.stringify(res.headers['content-range'])}`);
        }
      } else if (status === 200) {
        skip = pos; // the server ignored Range: drop what we already hold
      } else if (status === 416 && pos > 0) {
        // Our partial data and the server disagree: start over.
        discard(res);
        await w.abort();
        throw new BerthError('image', 'unavailable', `blob ${desc.digest}: ${where} refused to resume at byte ${pos}`);
      } else {
        throw await responseError(res, `fetch blob ${desc.digest}`, where);
      }
      try {
        for await (const chunk of res as AsyncIterable<Buffer>) {
          let c = chunk;
          if (skip > 0) {
            if (c.length <= skip) {
              skip -= c.length;
              continue;
            }
            c = c.subarray(skip);
            skip = 0;
          }
          if (pos + c.length > desc.size) {
            res.destroy();
            await w.abort();
            throw new BerthError('image', 'digest-mismatch', `blob ${desc.digest} from ${where}: more than the expected ${desc.size} bytes`);
          }
          await w.write(c);
          pos += c.length;
          onProgress?.(pos, desc.size);
        }
      } catch (e) {
        if (isBerthError(e)) throw e;
        lastError = e;
        failures++;
        this.log.debug('blob download interrupted, resuming', { digest: desc.digest, at: pos, error: messageOf(e) });
        continue;
      }
      if (pos < desc.size) {
        lastError = new Error(`connection closed at byte ${pos} of ${desc.size}`);
        failures++;
      }
    }
  }

  /** HEAD a blob: true when the repository has it. */
  async blobExists(repo: string, digest: Digest, push = true): Promise<boolean> {
    checkDigest(digest, `blob of ${repo}`);
    return this.withEndpoint(push, async (ep) => {
      const res = await this.request(ep, { method: 'HEAD', path: `/v2/${encodeRepo(repo)}/blobs/${digest}`, scopes: [push ? pushScope(repo) : pullScope(repo)] });
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
