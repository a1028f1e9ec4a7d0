// Manifests from a registry: tag or digest resolved to a descriptor (HEAD,
// falling back to GET), and documents fetched with a size limit, their media
// type checked (schema 1 refused) and their digest compared with what was
// asked for and with Docker-Content-Digest.

import { BerthError, isBerthError, messageOf } from '../../common/errors.js';
import type { Descriptor } from '../content/types.js';
import { DEFAULT_MAX_MANIFEST, type FetchedManifest, type RegistrySession } from './session.js';
import { algorithmOf, checkDigest, digestOf, isDigest } from './digest.js';
import { responseError } from './errors.js';
import type { Endpoint } from './hosts.js';
import { bareMediaType, isSchema1, MANIFEST_MEDIA_TYPES, SCHEMA1_MESSAGE } from './mediatypes.js';
import { encodeRepo, pullScope } from './paths.js';
import { discard, readBody } from './transport.js';

/**
 * Tag or digest → descriptor of the manifest: HEAD with the Accept list
 * (Docker-Content-Digest gives the digest), else GET and hash the body, which
 * must then match Docker-Content-Digest when the registry sent one.
 */
export async function resolveManifest(
  client: RegistrySession,
  repo: string,
  reference: string,
): Promise<{ descriptor: Descriptor; manifest?: FetchedManifest }> {
  return client.withEndpoint(
    false,
    async (ep) => {
      const r = await resolveAt(client, ep, repo, reference);
      client.pin(repo, ep.base.origin);
      return r;
    },
    repo,
  );
}

async function resolveAt(
  client: RegistrySession,
  ep: Endpoint,
  repo: string,
  reference: string,
): Promise<{ descriptor: Descriptor; manifest?: FetchedManifest }> {
  const path = `/v2/${encodeRepo(repo)}/manifests/${encodeURIComponent(reference)}`;
  const res = await client.request(ep, {
    method: 'HEAD',
    path,
    headers: { accept: MANIFEST_MEDIA_TYPES.join(', ') },
    scopes: [pullScope(repo)],
  });
  const status = res.statusCode ?? 0;
  discard(res);
  if (status === 200) {
    const mt = bareMediaType(res.headers['content-type']);
    const hdr = res.headers['docker-content-digest'];
    const size = Number(res.headers['content-length']);
    if (isSchema1(mt))
      throw new BerthError(
        'image',
        'failed-precondition',
        `${client.registry}/${repo}:${reference}: ${SCHEMA1_MESSAGE}`,
      );
    const digest = isDigest(reference) ? reference : typeof hdr === 'string' && isDigest(hdr) ? hdr : undefined;
    if (digest && MANIFEST_MEDIA_TYPES.includes(mt) && Number.isSafeInteger(size) && size > 0) {
      checkManifestSize(client, size, repo, reference);
      return { descriptor: { mediaType: mt, digest, size } };
    }
  } else if (status === 404) {
    throw new BerthError(
      'image',
      'not-found',
      `${client.registry}/${repo}:${reference}: manifest unknown (${ep.base.host} answered 404)`,
    );
  } else if (status === 401 || status === 403) {
    const hint = res.authHint ?? 'no access to this repository';
    throw new BerthError(
      'image',
      'permission-denied',
      `${client.registry}/${repo}:${reference}: ${ep.base.host} answered ${status}: ${hint}`,
    );
  }
  // HEAD gave no usable answer: GET the manifest and hash it ourselves.
  const m = await fetchManifestFrom(client, ep, repo, reference);
  return { descriptor: { mediaType: m.mediaType, digest: m.digest, size: m.bytes.length }, manifest: m };
}

function checkManifestSize(client: RegistrySession, size: number, repo: string, reference: string): void {
  const max = client.opts.maxManifestSize ?? DEFAULT_MAX_MANIFEST;
  if (size > max) {
    throw new BerthError(
      'image',
      'invalid-argument',
      `${client.registry}/${repo}@${reference}: manifest of ${size} bytes is over the limit of ${max}`,
    );
  }
}

/** GET a manifest by tag or digest, bounded in size, digest-checked. */
export async function fetchManifestBytes(
  client: RegistrySession,
  repo: string,
  reference: string,
  expected?: Descriptor,
): Promise<FetchedManifest> {
  return client.withEndpoint(false, (ep) => fetchManifestFrom(client, ep, repo, reference, expected), repo);
}

async function fetchManifestFrom(
  client: RegistrySession,
  ep: Endpoint,
  repo: string,
  reference: string,
  expected?: Descriptor,
): Promise<FetchedManifest> {
  const where = `${client.registry}/${repo}${isDigest(reference) ? '@' : ':'}${reference}`;
  if (expected) checkManifestSize(client, expected.size, repo, reference);
  const path = `/v2/${encodeRepo(repo)}/manifests/${encodeURIComponent(reference)}`;
  const accept =
    expected && MANIFEST_MEDIA_TYPES.includes(expected.mediaType)
      ? [expected.mediaType, ...MANIFEST_MEDIA_TYPES.filter((m) => m !== expected.mediaType)]
      : MANIFEST_MEDIA_TYPES;
  const res = await client.request(ep, {
    method: 'GET',
    path,
    headers: { accept: accept.join(', ') },
    scopes: [pullScope(repo)],
  });
  if (res.statusCode !== 200) throw await responseError(res, `fetch manifest ${where}`, ep.base.host);
  const max = client.opts.maxManifestSize ?? DEFAULT_MAX_MANIFEST;
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
  if (
    !MANIFEST_MEDIA_TYPES.includes(mt) &&
    typeof bodyType === 'string' &&
    (mt === '' || mt === 'application/json' || mt === 'text/plain' || mt === 'application/octet-stream')
  ) {
    mt = bodyType;
  }
  if (!MANIFEST_MEDIA_TYPES.includes(mt)) {
    throw new BerthError(
      'image',
      'invalid-argument',
      `${where}: unsupported manifest media type ${JSON.stringify(mt)} (expected one of ${MANIFEST_MEDIA_TYPES.join(', ')})`,
    );
  }
  if (typeof bodyType === 'string' && bodyType !== mt) {
    throw new BerthError(
      'image',
      'invalid-argument',
      `${where}: Content-Type says ${mt} but the manifest says mediaType ${bodyType}`,
    );
  }
  if (expected && expected.mediaType !== mt && MANIFEST_MEDIA_TYPES.includes(expected.mediaType)) {
    throw new BerthError(
      'image',
      'invalid-argument',
      `${where}: expected a ${expected.mediaType}, the registry sent ${mt}`,
    );
  }
  const hdr = res.headers['docker-content-digest'];
  const want = isDigest(reference) ? reference : expected?.digest;
  const alg = want ? algorithmOf(want) : typeof hdr === 'string' && isDigest(hdr) ? algorithmOf(hdr) : 'sha256';
  const digest = digestOf(bytes, alg);
  if (want && digest !== want) {
    throw new BerthError(
      'image',
      'digest-mismatch',
      `manifest ${where}: ${ep.base.host} sent content with digest ${digest}`,
    );
  }
  if (typeof hdr === 'string' && hdr !== '') {
    checkDigest(hdr, `Docker-Content-Digest of ${where}`);
    const got = algorithmOf(hdr) === alg ? digest : digestOf(bytes, algorithmOf(hdr));
    if (got !== hdr) {
      throw new BerthError(
        'image',
        'digest-mismatch',
        `manifest ${where}: Docker-Content-Digest ${hdr} does not match the content's digest ${got}`,
      );
    }
  }
  if (expected && expected.size !== bytes.length) {
    throw new BerthError(
      'image',
      'digest-mismatch',
      `manifest ${where}: expected ${expected.size} bytes, got ${bytes.length}`,
    );
  }
  return { bytes, mediaType: mt, digest };
}
