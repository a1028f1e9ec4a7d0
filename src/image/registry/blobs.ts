// Blobs from a registry straight into the content store: resumed from an
// earlier ingest's offset and again after a broken connection (Range), a
// server that ignores Range has the bytes we hold skipped, more bytes than
// the descriptor says stops the download, and the store verifies size and
// digest at commit so that an unverified blob never becomes visible.

import { sleep } from '../../common/sleep.js';
import { BerthError, isBerthError, messageOf } from '../../common/errors.js';
import type { ContentStore, Descriptor } from '../content/types.js';
import type { BlobFetchOptions, BlobProgress, RegistrySession } from './session.js';
import { checkDigest } from './digest.js';
import { responseError } from './errors.js';
import type { Endpoint } from './hosts.js';
import { encodeRepo, pullScope, REDIRECTS } from './paths.js';
import type { HttpResponse } from './http-types.js';
import { discard, isNetworkError, send } from './transport.js';

/**
 * Download a blob straight into the content store. Resumes from what an
 * earlier ingest left (Range), resumes again after a broken connection,
 * and lets the store verify size and digest at commit: a blob that fails
 * verification never becomes visible. Returns whether it was already there.
 */
export async function fetchBlobInto(
  client: RegistrySession,
  repo: string,
  desc: Descriptor,
  store: ContentStore,
  opts: BlobFetchOptions = {},
): Promise<{ alreadyExists: boolean }> {
  const digest = checkDigest(desc.digest, `blob of ${repo}`);
  if (!Number.isSafeInteger(desc.size) || desc.size < 0) {
    throw new BerthError('image', 'invalid-argument', `blob ${digest}: invalid size ${desc.size}`);
  }
  return client.withEndpoint(
    false,
    async (ep) => {
      const w = await store.ingest(opts.ref ?? `fetch-${digest}`, { digest, size: desc.size });
      if (w.alreadyExists) {
        await w.commit(opts.labels);
        return { alreadyExists: true };
      }
      let committed = false;
      try {
        await downloadInto(client, ep, repo, desc, w, opts.onProgress, opts.signal);
        try {
          await w.commit(opts.labels);
        } catch (e) {
          committed = true; // the store dropped the partial data itself
          if (isBerthError(e) && e.code === 'digest-mismatch') {
            throw new BerthError(
              'image',
              'digest-mismatch',
              `blob ${digest} from ${ep.base.host}/${repo} failed verification: ${e.message}`,
              { cause: e },
            );
          }
          throw e;
        }
        committed = true;
        return { alreadyExists: false };
      } finally {
        if (!committed) await w.close().catch(() => undefined);
      }
    },
    repo,
  );
}

function downloadInto(
  client: RegistrySession,
  ep: Endpoint,
  repo: string,
  desc: Descriptor,
  w: { offset: number; write(c: Uint8Array): Promise<void>; abort(): Promise<void> },
  onProgress?: BlobProgress,
  signal?: AbortSignal,
): Promise<void> {
  const path = `/v2/${encodeRepo(repo)}/blobs/${desc.digest}`;
  const get = (headers: Record<string, string>) =>
    client.request(ep, { method: 'GET', path, headers, scopes: [pullScope(repo)], signal });
  return streamInto(client, get, `${ep.base.host}/${repo}`, desc, w, onProgress, signal);
}

/**
 * Foreign (Docker) and non-distributable (OCI) layers name URLs outside
 * the registry; like containerd we try those first, without credentials,
 * and only http(s). Returns false when no URL served the blob.
 */
export async function fetchBlobFromUrlsInto(
  client: RegistrySession,
  desc: Descriptor,
  store: ContentStore,
  opts: BlobFetchOptions = {},
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
          const res = await send({
            method: 'GET',
            url: u,
            headers: { ...client.headersBase(), ...headers },
            tls: client.tlsFor(u),
            proxy: client.proxyFor(u),
            timeoutMs: client.opts.timeoutMs,
          });
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
      await streamInto(client, get, url.host, desc, w, opts.onProgress, opts.signal);
      finished = true;
      await w.commit(opts.labels);
      return true;
    } catch (e) {
      if (isBerthError(e) && e.code === 'digest-mismatch') throw e;
      client.log.info('foreign layer URL failed', { url: url.href, error: messageOf(e) });
    } finally {
      if (!finished) await w.close().catch(() => undefined);
    }
  }
  return false;
}

async function streamInto(
  client: RegistrySession,
  get: (headers: Record<string, string>) => Promise<HttpResponse>,
  where: string,
  desc: Descriptor,
  w: { offset: number; write(c: Uint8Array): Promise<void>; abort(): Promise<void> },
  onProgress?: BlobProgress,
  signal?: AbortSignal,
): Promise<void> {
  let pos = w.offset;
  if (pos > desc.size) {
    await w.abort();
    throw new BerthError(
      'image',
      'internal',
      `ingest of ${desc.digest} holds ${pos} bytes, more than the expected ${desc.size}`,
    );
  }
  onProgress?.(pos, desc.size);
  let failures = 0;
  let lastError: unknown;
  while (pos < desc.size) {
    signal?.throwIfAborted();
    if (failures > client.retriesAllowed) {
      throw new BerthError(
        'image',
        'unavailable',
        `download of ${desc.digest} from ${where} failed ${failures} times, last: ${messageOf(lastError)}`,
        { cause: lastError },
      );
    }
    if (failures > 0) await sleep(client.backoff(failures - 1));
    const headers: Record<string, string> = {};
    if (pos > 0) headers.range = `bytes=${pos}-`;
    let res: HttpResponse;
    try {
      res = await get(headers);
    } catch (e) {
      signal?.throwIfAborted();
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
        throw new BerthError(
          'image',
          'invalid-argument',
          `blob ${desc.digest}: ${where} answered a range request for bytes ${pos}- with Content-Range ${JSON.stringify(res.headers['content-range'])}`,
        );
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
      for await (const chunk of res) {
        signal?.throwIfAborted();
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
          throw new BerthError(
            'image',
            'digest-mismatch',
            `blob ${desc.digest} from ${where}: more than the expected ${desc.size} bytes`,
          );
        }
        await w.write(c);
        pos += c.length;
        onProgress?.(pos, desc.size);
      }
    } catch (e) {
      signal?.throwIfAborted();
      if (isBerthError(e)) throw e;
      lastError = e;
      failures++;
      client.log.debug('blob download interrupted, resuming', { digest: desc.digest, at: pos, error: messageOf(e) });
      continue;
    }
    if (pos < desc.size) {
      lastError = new Error(`connection closed at byte ${pos} of ${desc.size}`);
      failures++;
    }
  }
}
