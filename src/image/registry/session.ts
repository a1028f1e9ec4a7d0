// What the manifest, blob and upload code needs from a registry client: the
// client implements it, and they are written against it, so that client.ts
// (which calls them) and they do not import each other.

import type { Logger } from '../../common/log.js';
import type { Digest } from '../content/types.js';
import type { CredentialSource } from './credentials.js';
import type { Endpoint, HostOptions } from './hosts.js';
import type { ProxySettings } from './proxy.js';
import type { Body, HttpResponse, TlsSettings } from './http-types.js';

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
  /** HTTP proxies; default from HTTP_PROXY/HTTPS_PROXY/NO_PROXY; false for none. */
  proxy?: ProxySettings | false;
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
  /** Abandons the request (and is not retried): a pull stopping its other downloads. */
  signal?: AbortSignal;
}

export interface FetchedManifest {
  bytes: Buffer;
  mediaType: string;
  digest: Digest;
}

export interface BlobProgress {
  (done: number, total: number): void;
}

export interface BlobFetchOptions {
  /** The ingest ref; a stable one lets another process resume the download. */
  ref?: string;
  onProgress?: BlobProgress;
  labels?: Record<string, string>;
  /**
   * Stops the download: its reason is thrown, what was received stays in
   * the ingest for a resume.
   */
  signal?: AbortSignal;
}

/** One registry, as seen by the requests made to it. */
export interface RegistrySession {
  readonly registry: string;
  readonly opts: RegistryOptions;
  readonly log: Logger;
  /** Extra attempts allowed after a failure (for callers that retry themselves). */
  readonly retriesAllowed: number;
  backoff(attempt: number): number;
  /** TLS settings for a URL: the endpoint's own, or certs.d for another host. */
  tlsFor(url: URL, ep?: Endpoint): TlsSettings;
  /** The proxy for a URL, if any. */
  proxyFor(url: URL): URL | undefined;
  headersBase(): Record<string, string>;
  /** Run `fn` against the first endpoint that answers the ping (mirrors first). */
  withEndpoint<T>(push: boolean, fn: (ep: Endpoint) => Promise<T>, repo?: string): Promise<T>;
  /** One request with auth, redirects and retries; any status. */
  request(ep: Endpoint, spec: RequestSpec): Promise<HttpResponse>;
  /** Keep pulls of `repo` on the endpoint that answered its manifest. */
  pin(repo: string, origin: string): void;
}
