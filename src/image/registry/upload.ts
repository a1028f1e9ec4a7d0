// Uploads (distribution spec "push"): the existing-blob check, cross-repository
// mount, monolithic upload (POST, then PUT ?digest= with the whole blob) and
// chunked upload (POST, PATCH with Content-Range per chunk, PUT ?digest=), and
// manifest PUT with its media type as Content-Type.

import type { Readable } from 'node:stream';
import { sleep } from '../../common/sleep.js';
import { BerthError, isBerthError, messageOf } from '../../common/errors.js';
import type { Descriptor, Digest } from '../content/types.js';
import { repositoryScope } from './auth.js';
import type { RegistrySession } from './session.js';
import { encodeRepo, pushScope } from './paths.js';
import { algorithmOf, checkDigest, digestOf } from './digest.js';
import { responseError, statusOf } from './errors.js';
import type { Endpoint } from './hosts.js';
import type { HttpResponse } from './http-types.js';
import { discard } from './transport.js';

function locationOf(res: HttpResponse, ep: Endpoint, what: string): URL {
  const loc = res.headers.location;
  if (!loc) throw new BerthError('image', 'invalid-argument', `${what}: ${ep.base.host} gave no upload Location`);
  return new URL(loc, ep.base);
}

export type UploadResult = 'exists' | 'mounted' | 'uploaded';

export interface UploadOptions {
  /** Repositories of the same registry known to hold the blob: mount from the first that works. */
  mountFrom?: string[];
  /** Upload in chunks of this many bytes (PATCH); 0 or undefined is monolithic. */
  chunkSize?: number;
  /** Skip the HEAD check (the caller already knows). */
  skipExistsCheck?: boolean;
  onProgress?: (done: number, total: number) => void;
}

/** Read `size` bytes from a stream in chunks of `chunkSize`. */
async function* chunks(src: Readable, chunkSize: number): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let n = 0;
  for await (const c of src as AsyncIterable<Buffer>) {
    let buf = c;
    while (n + buf.length >= chunkSize) {
      const take = chunkSize - n;
      pending.push(buf.subarray(0, take));
      yield Buffer.concat(pending);
      pending = [];
      n = 0;
      buf = buf.subarray(take);
    }
    if (buf.length) {
      pending.push(buf);
      n += buf.length;
    }
  }
  if (n > 0) yield Buffer.concat(pending);
}

/**
 * Put one blob in `repo`, cheapest way first: it may already be there (HEAD),
 * be mountable from another repository, else it is uploaded. `open` gives a
 * fresh stream of the blob's bytes (called again for a retry).
 */
export async function uploadBlob(
  client: RegistrySession,
  repo: string,
  desc: Descriptor,
  open: () => Readable,
  opts: UploadOptions = {},
): Promise<UploadResult> {
  const digest = checkDigest(desc.digest, `blob for ${repo}`);
  return client.withEndpoint(true, async (ep) => {
    const scopes = [pushScope(repo)];
    if (!opts.skipExistsCheck) {
      const res = await client.request(ep, { method: 'HEAD', path: `/v2/${encodeRepo(repo)}/blobs/${digest}`, scopes });
      discard(res);
      if (res.statusCode === 200) return 'exists';
      if (res.statusCode !== 404) throw await responseError(res, `check blob ${digest} in ${repo}`, ep.base.host);
    }
    let location: URL | undefined;
    for (const from of opts.mountFrom ?? []) {
      if (from === repo) continue;
      const path = `/v2/${encodeRepo(repo)}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`;
      const res = await client.request(ep, {
        method: 'POST',
        path,
        headers: { 'content-length': '0' },
        scopes: [...scopes, repositoryScope(from, ['pull'])],
      });
      if (res.statusCode === 201) {
        discard(res);
        return 'mounted';
      }
      if (res.statusCode === 202) {
        // The registry could not mount and opened an ordinary upload instead.
        discard(res);
        location = locationOf(res, ep, `mount ${digest} into ${repo}`);
        break;
      }
      // 401/403/404 on the source repository: just upload.
      discard(res);
    }
    // A broken upload session is continued where the registry allows it
    // (chunks), else started again from a new POST, a bounded number of times.
    for (let session = 0; ; session++) {
      if (!location) {
        const res = await client.request(ep, {
          method: 'POST',
          path: `/v2/${encodeRepo(repo)}/blobs/uploads/`,
          headers: { 'content-length': '0' },
          scopes,
        });
        if (res.statusCode !== 202)
          throw await responseError(res, `start upload of ${digest} to ${repo}`, ep.base.host);
        discard(res);
        location = locationOf(res, ep, `start upload of ${digest} to ${repo}`);
      }
      try {
        await sendBlob(client, ep, location, repo, desc, open, scopes, opts);
        return 'uploaded';
      } catch (e) {
        if (session >= client.retriesAllowed || !restartable(e)) throw e;
        client.log.info('blob upload failed, starting it again', { digest, repo, error: messageOf(e) });
        await sleep(client.backoff(session));
        location = undefined;
      }
    }
  });
}

/** Failures of the session (network, server, upload unknown), not of our data or rights. */
function restartable(e: unknown): boolean {
  if (!isBerthError(e)) return true;
  return (
    e.code === 'unavailable' ||
    e.code === 'not-found' ||
    statusOf(e) === 416 ||
    /BLOB_UPLOAD_(INVALID|UNKNOWN)/.test(e.message)
  );
}

async function sendBlob(
  client: RegistrySession,
  ep: Endpoint,
  location: URL,
  repo: string,
  desc: Descriptor,
  open: () => Readable,
  scopes: string[],
  opts: UploadOptions,
): Promise<void> {
  const digest = desc.digest;
  const chunkSize = opts.chunkSize ?? 0;
  if (chunkSize > 0 && desc.size > 0) {
    let start = 0;
    for await (const chunk of chunks(open(), chunkSize)) {
      const end = start + chunk.length - 1;
      // `held`: how many bytes the registry has; after a failed PATCH we
      // ask it (GET on the upload URL) and send only the rest of the chunk.
      let held = start;
      for (let attempt = 0; held <= end; attempt++) {
        let failure: unknown;
        try {
          const res = await client.request(ep, {
            method: 'PATCH',
            url: location,
            headers: { 'content-type': 'application/octet-stream', 'content-range': `${held}-${end}` },
            body: chunk.subarray(held - start),
            scopes,
            noRetry: true,
          });
          const st = res.statusCode ?? 0;
          if (st === 202) {
            discard(res);
            const range = String(res.headers.range ?? '');
            const m = /^(?:bytes=)?0-(\d+)$/.exec(range);
            if (range && (!m || Number(m[1]) !== end)) {
              throw new BerthError(
                'image',
                'internal',
                `upload of ${digest} to ${repo}: registry holds ${range}, expected 0-${end}`,
              );
            }
            location = locationOf(res, ep, `upload ${digest} to ${repo}`);
            held = end + 1;
            break;
          }
          if (st !== 416 && st < 500 && st !== 429) {
            throw await responseError(res, `upload bytes ${held}-${end} of ${digest} to ${repo}`, ep.base.host);
          }
          failure = await responseError(res, `upload bytes ${held}-${end} of ${digest} to ${repo}`, ep.base.host);
        } catch (e) {
          if (isBerthError(e) && e.code !== 'unavailable') throw e;
          failure = e;
        }
        if (attempt >= client.retriesAllowed) throw failure;
        await sleep(client.backoff(attempt));
        const status = await uploadStatus(client, ep, location, scopes, `upload ${digest} to ${repo}`);
        location = status.location;
        if (status.size < start || status.size > end + 1) {
          throw new BerthError(
            'image',
            'unavailable',
            `upload of ${digest} to ${repo}: registry holds ${status.size} bytes, cannot continue the chunk ${start}-${end}`,
          );
        }
        held = status.size;
      }
      start = end + 1;
      opts.onProgress?.(start, desc.size);
    }
    if (start !== desc.size) {
      throw new BerthError('image', 'internal', `upload of ${digest}: read ${start} bytes, expected ${desc.size}`);
    }
    const put = new URL(location.href);
    put.searchParams.set('digest', digest);
    const res = await client.request(ep, { method: 'PUT', url: put, headers: { 'content-length': '0' }, scopes });
    await finishUpload(res, ep, digest, repo);
    return;
  }
  const put = new URL(location.href);
  put.searchParams.set('digest', digest);
  let sent = 0;
  const res = await client.request(ep, {
    method: 'PUT',
    url: put,
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(desc.size) },
    body: () => {
      sent = 0;
      const s = open();
      s.on('data', (c: Buffer) => {
        sent += c.length;
        opts.onProgress?.(sent, desc.size);
      });
      return s;
    },
    scopes,
  });
  await finishUpload(res, ep, digest, repo);
}

/** GET on an upload URL: how many bytes the registry holds, and where to continue. */
async function uploadStatus(
  client: RegistrySession,
  ep: Endpoint,
  location: URL,
  scopes: string[],
  what: string,
): Promise<{ size: number; location: URL }> {
  const res = await client.request(ep, { method: 'GET', url: location, scopes });
  if (res.statusCode !== 204 && res.statusCode !== 200)
    throw await responseError(res, `${what}: upload status`, ep.base.host);
  discard(res);
  const range = String(res.headers.range ?? '');
  const m = /^(?:bytes=)?0-(-?\d+)$/.exec(range);
  if (!m)
    throw new BerthError(
      'image',
      'internal',
      `${what}: upload status without a usable Range (${JSON.stringify(range)})`,
    );
  return { size: Number(m[1]) + 1, location: res.headers.location ? new URL(res.headers.location, ep.base) : location };
}

async function finishUpload(res: HttpResponse, ep: Endpoint, digest: Digest, repo: string): Promise<void> {
  if (res.statusCode !== 201 && res.statusCode !== 204)
    throw await responseError(res, `finish upload of ${digest} to ${repo}`, ep.base.host);
  discard(res);
  const hdr = res.headers['docker-content-digest'];
  if (typeof hdr === 'string' && hdr && hdr !== digest) {
    throw new BerthError('image', 'digest-mismatch', `upload of ${digest} to ${repo}: registry stored it as ${hdr}`);
  }
}

/** PUT a manifest or index under a tag or its digest; returns the digest the registry reports. */
export async function putManifest(
  client: RegistrySession,
  repo: string,
  reference: string,
  bytes: Buffer,
  mediaType: string,
): Promise<Digest> {
  const own = digestOf(
    bytes,
    reference.includes(':') && /^sha(256|512):/.test(reference) ? algorithmOf(reference) : 'sha256',
  );
  if (/^sha(256|512):/.test(reference) && reference !== own) {
    throw new BerthError('image', 'digest-mismatch', `manifest for ${repo}@${reference}: content digest is ${own}`);
  }
  return client.withEndpoint(true, async (ep) => {
    const path = `/v2/${encodeRepo(repo)}/manifests/${encodeURIComponent(reference)}`;
    const res = await client.request(ep, {
      method: 'PUT',
      path,
      headers: { 'content-type': mediaType },
      body: bytes,
      scopes: [pushScope(repo)],
    });
    if (res.statusCode !== 201 && res.statusCode !== 200 && res.statusCode !== 202) {
      throw await responseError(res, `put manifest ${repo}:${reference}`, ep.base.host);
    }
    discard(res);
    const hdr = res.headers['docker-content-digest'];
    if (typeof hdr === 'string' && hdr && hdr !== own && algorithmOf(hdr) === algorithmOf(own)) {
      throw new BerthError(
        'image',
        'digest-mismatch',
        `put manifest ${repo}:${reference}: registry reports ${hdr}, content is ${own}`,
      );
    }
    return own;
  });
}
