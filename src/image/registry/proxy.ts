// HTTP proxies the way Docker (Go's net/http) reads them: HTTPS_PROXY for
// https URLs, HTTP_PROXY for http URLs (upper or lower case), NO_PROXY a comma
// list of hosts, domains (".example.com" or "example.com", both matching
// subdomains), IP addresses, CIDRs, each optionally with ":port", or "*".
// "localhost" and loopback addresses are never proxied. https URLs go through
// a CONNECT tunnel; http URLs are sent to the proxy in absolute form.

import { isIP } from 'node:net';
import { BerthError } from '../../common/errors.js';
import { ipInCidr } from './cidr.js';

export interface ProxySettings {
  httpProxy?: string;
  httpsProxy?: string;
  noProxy?: string;
}

export function proxyFromEnv(env: NodeJS.ProcessEnv = process.env): ProxySettings {
  const pick = (k: string): string | undefined => env[k.toUpperCase()] || env[k.toLowerCase()] || undefined;
  return { httpProxy: pick('http_proxy'), httpsProxy: pick('https_proxy'), noProxy: pick('no_proxy') };
}

function parseProxyUrl(raw: string): URL {
  let u: URL;
  try {
    u = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`);
  } catch {
    throw new BerthError('image', 'invalid-argument', `invalid proxy URL ${JSON.stringify(raw)}`);
  }
  if (u.protocol !== 'http:') {
    throw new BerthError('image', 'invalid-argument', `proxy ${u.origin}: only http:// proxies are supported`);
  }
  return u;
}

function bareHost(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

function matchesNoProxy(url: URL, noProxy: string): boolean {
  const host = bareHost(url.hostname).toLowerCase();
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  for (let entry of noProxy
    .split(',')
    .map((e) => e.trim().toLowerCase())
    .filter(Boolean)) {
    if (entry === '*') return true;
    if (entry.includes('/')) {
      if (isIP(host) && ipInCidr(host, entry)) return true;
      continue;
    }
    let entryPort: string | undefined;
    const m = /^(.*?)(?::(\d+))?$/.exec(entry.startsWith('[') ? entry.replace(/^\[([^\]]+)\]/, '$1') : entry);
    if (m && m[2] && !isIP(entry)) {
      entry = m[1]!;
      entryPort = m[2];
    }
    if (entryPort && entryPort !== port) continue;
    if (isIP(entry)) {
      if (entry === host) return true;
      continue;
    }
    const domain = entry.startsWith('.') ? entry.slice(1) : entry;
    if (host === domain || host.endsWith(`.${domain}`)) return true;
  }
  return false;
}

/** The proxy for `url`, or undefined to connect directly. */
export function proxyFor(url: URL, settings: ProxySettings | undefined): URL | undefined {
  if (!settings) return undefined;
  const host = bareHost(url.hostname).toLowerCase();
  if (host === 'localhost' || (isIP(host) && (ipInCidr(host, '127.0.0.0/8') || ipInCidr(host, '::1/128'))))
    return undefined;
  const raw = url.protocol === 'https:' ? settings.httpsProxy : settings.httpProxy;
  if (!raw) return undefined;
  if (settings.noProxy && matchesNoProxy(url, settings.noProxy)) return undefined;
  return parseProxyUrl(raw);
}

/** "Basic ..." for a proxy URL with user info, else undefined. */
export function proxyAuthorization(proxy: URL): string | undefined {
  if (!proxy.username) return undefined;
  const user = decodeURIComponent(proxy.username);
  const pass = decodeURIComponent(proxy.password);
  return 'Basic ' + Buffer.from(`${user}:${pass}`, 'utf8').toString('base64');
}
