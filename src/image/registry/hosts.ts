// Where to send a registry's requests, and how: the endpoints for a registry
// name (mirrors first for Docker Hub, then the registry itself), whether plain
// HTTP is allowed, and the TLS material from certs.d.
//
// The insecure rule is Docker's (registry/config.go, isSecureIndex): a
// registry is insecure when its "host[:port]" is listed in
// `insecureRegistries`, or when the host (resolved if it is a name) falls in
// a CIDR listed there. The default list is ["127.0.0.0/8"], exactly like
// dockerd's default, so 127.0.0.1 and localhost are insecure by default;
// pass an explicit list (even []) to replace that default. For an insecure
// registry we try HTTPS without certificate verification first, then plain
// HTTP; every other registry is HTTPS with verification, only. `plainHttp`
// (berth-ctr's --plain-http, as ctr's) goes to plain HTTP straight away.

import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { BerthError } from '../../common/errors.js';
import type { TlsSettings } from './http-types.js';
import { ipInCidr } from './cidr.js';

export const DOCKER_HUB = 'docker.io';
export const DOCKER_HUB_ENDPOINT = 'registry-1.docker.io';
/** The key Docker uses for Hub credentials in config.json. */
export const DOCKER_HUB_AUTH_KEY = 'https://index.docker.io/v1/';
export const DEFAULT_CERTS_DIR = '/etc/docker/certs.d';
export const DEFAULT_INSECURE = ['127.0.0.0/8'];

export interface HostOptions {
  /** Mirrors for docker.io, tried in order before the registry ("https://mirror:5000"). */
  mirrors?: string[];
  /** "host:port" names and CIDRs allowed over plain HTTP / unverified TLS. Default ["127.0.0.0/8"]. */
  insecureRegistries?: string[];
  /** Where per-registry certificates live; default /etc/docker/certs.d. */
  certsDir?: string;
  /** Send a registry's requests to another base URL (tests, local proxies). */
  endpointOverrides?: Record<string, string>;
  /**
   * Reach the registry itself (not its mirrors) over plain HTTP only, as
   * containerd's `ctr --plain-http` does: no HTTPS attempt first. Docker's
   * insecure-registry rule above is for daemons (berthd); a CLI flag that
   * mirrors ctr's means what ctr's means.
   */
  plainHttp?: boolean;
}

export interface Endpoint {
  /** scheme://host[:port] */
  base: URL;
  tls: TlsSettings;
  mirror: boolean;
  /** Key for credentials: the registry name, or the mirror's host. */
  authKey: string;
}

/** docker.io and its aliases are one registry. */
export function canonicalRegistry(name: string): string {
  const n = name.toLowerCase();
  if (n === 'index.docker.io' || n === 'registry-1.docker.io' || n === 'registry.hub.docker.com') return DOCKER_HUB;
  return name;
}

function splitHostPort(hostport: string): { host: string; port?: string } {
  if (hostport.startsWith('[')) {
    const end = hostport.indexOf(']');
    const host = hostport.slice(1, end);
    const rest = hostport.slice(end + 1);
    return rest.startsWith(':') ? { host, port: rest.slice(1) } : { host };
  }
  const i = hostport.lastIndexOf(':');
  if (i > 0 && hostport.indexOf(':') === i) return { host: hostport.slice(0, i), port: hostport.slice(i + 1) };
  return { host: hostport };
}

/** Docker's rule: listed by name, or resolving into an insecure CIDR. */
export async function isInsecure(hostport: string, opts: HostOptions): Promise<boolean> {
  const list = opts.insecureRegistries ?? DEFAULT_INSECURE;
  const names = list.filter((e) => !e.includes('/'));
  const cidrs = list.filter((e) => e.includes('/'));
  const hp = hostport.toLowerCase();
  if (
    names.some(
      (n) =>
        n
          .toLowerCase()
          .replace(/^https?:\/\//, '')
          .replace(/\/$/, '') === hp,
    )
  )
    return true;
  if (cidrs.length === 0) return false;
  const { host } = splitHostPort(hostport);
  let addrs: string[];
  if (isIP(host)) addrs = [host];
  else {
    try {
      addrs = (await lookup(host, { all: true })).map((a) => a.address);
    } catch {
      return false;
    }
  }
  return addrs.some((a) => cidrs.some((c) => ipInCidr(a, c)));
}

/**
 * Docker's certs.d layout: every *.crt is a CA; each *.cert needs the *.key
 * of the same stem (a client pair). The directory is named "host[:port]".
 */
export function loadCertsDir(certsDir: string, hostport: string): TlsSettings {
  const dir = join(certsDir, hostport);
  if (!existsSync(dir)) return {};
  const tls: TlsSettings = {};
  const files = readdirSync(dir).sort();
  for (const f of files) {
    const p = join(dir, f);
    if (f.endsWith('.crt')) {
      (tls.ca ??= []).push(readFileSync(p));
    } else if (f.endsWith('.cert')) {
      const keyName = f.slice(0, -'.cert'.length) + '.key';
      if (!files.includes(keyName)) {
        throw new BerthError('image', 'invalid-argument', `missing key ${keyName} for client certificate ${p}`);
      }
      if (tls.cert) continue; // one client identity per registry, the first in name order
      tls.cert = readFileSync(p);
      tls.key = readFileSync(join(dir, keyName));
    } else if (f.endsWith('.key')) {
      const certName = f.slice(0, -'.key'.length) + '.cert';
      if (!files.includes(certName)) {
        throw new BerthError('image', 'invalid-argument', `missing client certificate ${certName} for key ${p}`);
      }
    }
  }
  return tls;
}

async function endpointsForBase(
  base: URL,
  mirror: boolean,
  authKey: string,
  opts: HostOptions,
  schemeGiven: boolean,
): Promise<Endpoint[]> {
  const certsDir = opts.certsDir ?? DEFAULT_CERTS_DIR;
  const tls = loadCertsDir(certsDir, base.host);
  const insecure = await isInsecure(base.host, opts);
  if (schemeGiven && base.protocol === 'http:') {
    // An explicit http:// mirror or override is taken as written.
    return [{ base, tls, mirror, authKey }];
  }
  const https = new URL(base.href);
  https.protocol = 'https:';
  const out: Endpoint[] = [
    { base: https, tls: insecure ? { ...tls, insecureSkipVerify: true } : tls, mirror, authKey },
  ];
  if (insecure) {
    const http = new URL(base.href);
    http.protocol = 'http:';
    out.push({ base: http, tls: {}, mirror, authKey });
  }
  return out;
}

/**
 * Endpoints for a registry in the order to try them. `push` leaves mirrors
 * out: a mirror is a read-only cache.
 */
export async function resolveEndpoints(registry: string, opts: HostOptions, push = false): Promise<Endpoint[]> {
  const name = canonicalRegistry(registry);
  const out: Endpoint[] = [];
  if (name === DOCKER_HUB && !push) {
    for (const m of opts.mirrors ?? []) {
      const hasScheme = /^https?:\/\//i.test(m);
      let u: URL;
      try {
        u = new URL(hasScheme ? m : `https://${m}`);
      } catch {
        throw new BerthError('image', 'invalid-argument', `invalid mirror ${JSON.stringify(m)}`);
      }
      out.push(...(await endpointsForBase(new URL(u.origin), true, u.host, opts, hasScheme)));
    }
  }
  const override = opts.endpointOverrides?.[name] ?? opts.endpointOverrides?.[registry];
  if (opts.plainHttp) {
    const host = override ? override.replace(/^https?:\/\//i, '') : name === DOCKER_HUB ? DOCKER_HUB_ENDPOINT : name;
    let u: URL;
    try {
      u = new URL(`http://${host}`);
    } catch {
      throw new BerthError('image', 'invalid-argument', `invalid registry host ${JSON.stringify(host)}`);
    }
    out.push({ base: new URL(u.origin), tls: {}, mirror: false, authKey: authKeyOf(name) });
  } else if (override) {
    const hasScheme = /^https?:\/\//i.test(override);
    const u = new URL(hasScheme ? override : `https://${override}`);
    out.push(...(await endpointsForBase(new URL(u.origin), false, authKeyOf(name), opts, hasScheme)));
  } else {
    const host = name === DOCKER_HUB ? DOCKER_HUB_ENDPOINT : name;
    out.push(...(await endpointsForBase(new URL(`https://${host}`), false, authKeyOf(name), opts, false)));
  }
  return out;
}

/** The config.json key for a registry's credentials. */
export function authKeyOf(registry: string): string {
  return canonicalRegistry(registry) === DOCKER_HUB ? DOCKER_HUB_AUTH_KEY : registry;
}
