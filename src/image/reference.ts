// Image references, parsed the way Docker parses them (distribution/reference's
// grammar plus its normalisation): `busybox` is docker.io/library/busybox:latest,
// a first path component with a '.' or ':' (or "localhost", or an upper-case
// letter) is a registry host, `index.docker.io` is docker.io, and a reference can
// carry a tag, a digest, or both (the digest then decides what is pulled).

import { BerthError } from '../common/errors.js';

export const DEFAULT_DOMAIN = 'docker.io';
export const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
export const OFFICIAL_REPO_PREFIX = 'library/';
export const DEFAULT_TAG = 'latest';
const NAME_TOTAL_LENGTH_MAX = 255;

// Grammar pieces, anchored when used alone.
const alphaNumeric = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]+)';
const pathComponent = `${alphaNumeric}(?:${separator}${alphaNumeric})*`;
const remoteName = `${pathComponent}(?:/${pathComponent})*`;
const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const domainName = `${domainComponent}(?:\\.${domainComponent})*`;
const ipv6 = '\\[(?:[a-fA-F0-9:]+)\\]';
const host = `(?:${domainName}|${ipv6})`;
const domainAndPort = `${host}(?::[0-9]+)?`;
const tagPattern = '[\\w][\\w.-]{0,127}';

const remoteNameRe = new RegExp(`^${remoteName}$`);
const domainRe = new RegExp(`^${domainAndPort}$`);
const tagRe = new RegExp(`^${tagPattern}$`);
const anchoredHex64 = /^[a-f0-9]{64}$/;

const digestHexLength: Record<string, number> = { sha256: 64, sha512: 128 };

export interface Reference {
  /** Registry host, with port when given: "docker.io", "localhost:5000". */
  domain: string;
  /** Repository path inside the registry: "library/busybox". */
  path: string;
  tag?: string;
  digest?: string;
}

function refError(ref: string, why: string): BerthError {
  return new BerthError('image', 'invalid-argument', `invalid reference "${ref}": ${why}`, { field: 'reference' });
}

/** Validates "alg:hex" for the algorithms Berth verifies; returns it unchanged. */
export function validateDigest(digest: string, what = 'digest'): string {
  const i = digest.indexOf(':');
  if (i <= 0)
    throw new BerthError('image', 'invalid-argument', `invalid ${what} "${digest}": expected <algorithm>:<hex>`);
  const alg = digest.slice(0, i);
  const hex = digest.slice(i + 1);
  const len = digestHexLength[alg];
  if (len === undefined) {
    throw new BerthError(
      'image',
      'invalid-argument',
      `invalid ${what} "${digest}": unsupported digest algorithm "${alg}" (sha256 and sha512 are)`,
    );
  }
  if (hex.length !== len || !/^[a-f0-9]+$/.test(hex)) {
    throw new BerthError(
      'image',
      'invalid-argument',
      `invalid ${what} "${digest}": ${alg} needs ${len} lower-case hex digits`,
    );
  }
  return digest;
}

export function isDigest(s: string): boolean {
  try {
    validateDigest(s);
    return true;
  } catch {
    return false;
  }
}

function splitDomain(name: string): { domain: string; path: string } {
  const i = name.indexOf('/');
  let domain: string;
  let path: string;
  if (i === -1) {
    domain = DEFAULT_DOMAIN;
    path = name;
  } else {
    const first = name.slice(0, i);
    if (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first) {
      domain = DEFAULT_DOMAIN;
      path = name;
    } else {
      domain = first;
      path = name.slice(i + 1);
    }
  }
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !path.includes('/')) path = OFFICIAL_REPO_PREFIX + path;
  return { domain, path };
}

/**
 * Parses a reference as `docker pull` does. Does not add a default tag; see
 * `parseDockerRef` / `withDefaultTag` for that.
 */
export function parseReference(ref: string): Reference {
  if (ref.length === 0) throw refError(ref, 'empty reference');
  if (anchoredHex64.test(ref)) {
    throw refError(ref, 'cannot specify 64-byte hexadecimal strings as a repository name');
  }
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    try {
      validateDigest(digest);
    } catch (e) {
      throw refError(ref, (e as Error).message.replace(/^invalid digest "[^"]*": /, 'digest: '));
    }
  }
  let tag: string | undefined;
  // A tag follows the last ':' that comes after the last '/' (a ':' before it is a port).
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!tagRe.test(tag))
      throw refError(ref, `invalid tag "${tag}" (up to 128 of [A-Za-z0-9_.-], not starting with . or -)`);
  }
  if (rest.length === 0) throw refError(ref, 'missing repository name');
  const { domain, path } = splitDomain(rest);
  if (!domainRe.test(domain)) throw refError(ref, `invalid registry host "${domain}"`);
  if (!remoteNameRe.test(path)) {
    if (path.toLowerCase() !== path && remoteNameRe.test(path.toLowerCase())) {
      throw refError(ref, 'repository name must be lowercase');
    }
    throw refError(
      ref,
      `invalid repository name "${path}" (lower-case letters, digits and separators . _ __ - between path components)`,
    );
  }
  const full = `${domain}/${path}`;
  if (full.length > NAME_TOTAL_LENGTH_MAX) {
    throw refError(ref, `repository name must not be more than ${NAME_TOTAL_LENGTH_MAX} characters`);
  }
  const out: Reference = { domain, path };
  if (tag !== undefined) out.tag = tag;
  if (digest !== undefined) out.digest = digest;
  return out;
}

/** `parseReference`, adding the "latest" tag when neither tag nor digest is given. */
export function parseDockerRef(ref: string): Reference {
  return withDefaultTag(parseReference(ref));
}

export function withDefaultTag(r: Reference): Reference {
  if (r.tag === undefined && r.digest === undefined) return { ...r, tag: DEFAULT_TAG };
  return r;
}

/** "docker.io/library/busybox" */
export function repositoryName(r: Reference): string {
  return `${r.domain}/${r.path}`;
}

/** The full canonical string: "docker.io/library/busybox:latest@sha256:...". */
export function formatReference(r: Reference): string {
  let s = repositoryName(r);
  if (r.tag !== undefined) s += `:${r.tag}`;
  if (r.digest !== undefined) s += `@${r.digest}`;
  return s;
}

/** The repository the way users type it: "busybox", "user/app", "localhost:5000/app". */
export function familiarRepository(r: Reference): string {
  if (r.domain === DEFAULT_DOMAIN) {
    return r.path.startsWith(OFFICIAL_REPO_PREFIX) && r.path.indexOf('/', OFFICIAL_REPO_PREFIX.length) === -1
      ? r.path.slice(OFFICIAL_REPO_PREFIX.length)
      : r.path;
  }
  return `${r.domain}/${r.path}`;
}

/** The short form Docker prints: "busybox:latest", "user/app@sha256:...". */
export function familiarString(r: Reference): string {
  let s = familiarRepository(r);
  if (r.tag !== undefined) s += `:${r.tag}`;
  if (r.digest !== undefined) s += `@${r.digest}`;
  return s;
}

/** Parses and returns the canonical form with the default tag: what image records are named. */
export function normalizeName(ref: string): string {
  return formatReference(parseDockerRef(ref));
}

/** What a pull fetches: the digest when given (a tag beside it is informational), else the tag. */
export function pullTarget(r: Reference): string {
  return r.digest ?? r.tag ?? DEFAULT_TAG;
}
